"""`report.html`: one self-contained static page over a run directory, readable with JavaScript off."""

from __future__ import annotations

import base64
import hashlib
import math
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2

from engine import rundir
from engine.config import TEMPLATES_DIR
from engine.llm.ledger import LedgerLine
from engine.models import SEVERITY_RANK, Finding, Report, note_label
from engine.rundir import RunDir
from engine.trace import artifact_index, issue_chain

STATUS_COLOURS = {"consensus": "#1a7f37", "contested": "#b35900", "unique": "#0969da", "refuted": "#cf222e"}
SEVERITY_RADIUS = {"low": 7, "medium": 8, "high": 9, "critical": 10}
RESPONSE_STANCES = ("agree", "disagree", "refine")
REBUTTAL_STANCES = ("concede", "maintain", "revise")
EXCERPT = 280
# The plot's frame, in SVG user units.
W, H, LEFT, RIGHT, TOP, BOTTOM = 460, 340, 52, 18, 18, 46


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """A jinja2 environment for HTML: autoescape on, since every model-written string is untrusted."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "html.j2"), default_for_string=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pct"] = lambda x: f"{x:.2f}"
    env.filters["note_label"] = note_label
    env.filters["usd"] = lambda x: f"${x:.4f}"
    env.filters["href"] = lambda p: quote(str(p))
    env.filters["excerpt"] = excerpt
    env.filters["csp_hash"] = lambda s: "sha256-" + base64.b64encode(hashlib.sha256(str(s).encode()).digest()).decode()
    return env


def excerpt(text: str, limit: int = EXCERPT) -> str:
    """One line, cut at a word boundary with an ellipsis."""
    flat = " ".join(str(text).split())
    if len(flat) <= limit:
        return flat
    return flat[:limit].rsplit(" ", 1)[0] + "…"


def plot_points(findings: list[Finding]) -> list[dict[str, Any]]:
    """Pixel positions for the truth × usefulness scatter; coincident points are fanned out around their spot."""
    groups: dict[tuple[int, int], list[Finding]] = {}
    for f in findings:
        groups.setdefault((round(f.scores.truth * 50), round(f.scores.usefulness * 50)), []).append(f)
    inner_w, inner_h = W - LEFT - RIGHT, H - TOP - BOTTOM
    points = []
    for group in groups.values():
        spread = 0 if len(group) == 1 else 7 + 1.6 * len(group)
        for k, f in enumerate(group):
            angle = 2 * math.pi * k / len(group) - math.pi / 2
            x = LEFT + f.scores.truth * inner_w + spread * math.cos(angle)
            y = TOP + (1 - f.scores.usefulness) * inner_h + spread * math.sin(angle)
            points.append({"id": f.id, "n": int(f.id.split("-")[-1]) if f.id[-1:].isdigit() else "",
                           "x": round(x, 1), "y": round(y, 1), "r": SEVERITY_RADIUS[f.severity],
                           "colour": STATUS_COLOURS[f.status], "f": f})
    return sorted(points, key=lambda p: p["id"], reverse=True)  # the top finding is drawn last, on top


def plot_frame() -> dict[str, Any]:
    """Axes, grid lines and the 'act on these' quadrant for the scatter."""
    inner_w, inner_h = W - LEFT - RIGHT, H - TOP - BOTTOM
    ticks = [{"v": f"{v:.2f}".rstrip("0").rstrip(".") if v not in (0, 1) else str(int(v)),
              "x": round(LEFT + v * inner_w, 1), "y": round(TOP + (1 - v) * inner_h, 1)}
             for v in (0, 0.25, 0.5, 0.75, 1)]
    return {"w": W, "h": H, "left": LEFT, "top": TOP, "right": W - RIGHT, "bottom": H - BOTTOM,
            "mid_x": round(LEFT + inner_w / 2, 1), "mid_y": round(TOP + inner_h / 2, 1), "ticks": ticks}


def stance_groups(f: Finding) -> dict[str, list[dict[str, Any]]]:
    """The finding's stances by kind (agree, disagree, ...); the same persona saying the same thing counts once."""
    out: dict[str, dict[tuple[str, str], dict[str, Any]]] = {s: {} for s in RESPONSE_STANCES + REBUTTAL_STANCES}
    for s in f.stances:
        reason = s.reason if s.counted else f"[not counted: {s.note}] {s.reason}"
        key = (s.persona, " ".join(reason.split()))
        row = out.setdefault(s.stance, {}).setdefault(key, {"persona": s.persona, "stance": s.stance,
                                                             "reason": reason, "artifacts": []})
        row["artifacts"].append(s.artifact)
    return {k: list(v.values()) for k, v in out.items()}


def _people(rows: list[dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(r["persona"] for r in rows))


def nice_time(stamp: str) -> str:
    """'2026-11-22 00:20 UTC' from an ISO timestamp (as is when it does not parse)."""
    try:
        when = datetime.fromisoformat(stamp)
    except ValueError:
        return stamp
    zone = "UTC" if when.utcoffset() is not None and not when.utcoffset() else when.strftime("%z")
    return f"{when:%Y-%m-%d %H:%M} {zone}".strip()


def persona_cards(report: Report, debate: dict[str, Any], index: dict[str, Any]) -> list[dict[str, Any]]:
    """One card per persona: who they are, what they raised, how they answered others, where their files are."""
    by_slug = {p["slug"]: p for p in debate.get("personas", [])}
    slugs = list(dict.fromkeys(report.personas + list(by_slug)))
    cards = []
    for slug in slugs:
        p = by_slug.get(slug, {"slug": slug, "name": slug, "role": "", "perspective": "", "focus": [],
                               "source": "unknown", "model": None})
        reviews = [r for r in debate.get("reviews", []) if r["persona"] == slug]
        given = {s: 0 for s in RESPONSE_STANCES + REBUTTAL_STANCES}
        for key in ("responses", "rebuttals"):
            for art in debate.get(key, []):
                if art["persona"] == slug:
                    for pt in art["points"]:
                        given[pt["stance"]] = given.get(pt["stance"], 0) + 1
        files = [(label, index[aid]["path"]) for label, aid in
                 (("persona", f"P-{slug}"), ("findings", f"FS-{slug}")) if aid in index]
        files[1:1] = [("review" if r.get("round", 1) == 1 else f"review round {r['round']}", index[r["id"]]["path"])
                      for r in reviews if r["id"] in index]
        cards.append({
            "slug": slug, "name": p["name"], "role": p.get("role", ""), "perspective": p.get("perspective", ""),
            "focus": p.get("focus", []), "source": p.get("source", ""),
            "model": p.get("model") or (reviews[0]["model"] if reviews else None),
            "issues": sum(len(r["issues"]) for r in reviews if r.get("round", 1) == 1),
            "findings": [f.id for f in report.findings if slug in f.personas], "given": given, "files": files,
            "critiques": [c for c in debate.get("critiques", []) if c["persona"] == slug],
            "failures": [x for x in report.failures if x.persona == slug],
        })
    return cards


def run_duration(lines: list[LedgerLine]) -> float | None:
    """Seconds from the first call's start to the last call's end, from the ledger."""
    spans = []
    for line in lines:
        try:
            start = datetime.fromisoformat(line.started).timestamp()
        except ValueError:
            continue
        spans.append((start, start + line.latency_s))
    if not spans:
        return None
    return max(e for _, e in spans) - min(s for s, _ in spans)


def human_duration(seconds: float | None) -> str:
    """'2.4 s', '3 min 05 s', '1 h 02 min'; 'unknown' when the ledger has no timings."""
    if seconds is None:
        return "unknown"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def load_report(run_dir: Path) -> Report:
    """report.json as a Report record (see RunDir.report)."""
    return RunDir(run_dir).report()


def build_context(run_dir: Path) -> dict[str, Any]:
    """Everything the template shows, read from the run directory's files."""
    run = RunDir(run_dir)
    report = run.report()
    debate = run.read_json(rundir.DEBATE)
    info = run.info()
    index = artifact_index(run_dir)
    lines = run.ledger_lines()
    author = {r["id"]: r["persona"] for r in debate.get("reviews", [])}
    critiques: dict[str, list[dict[str, Any]]] = {}  # self-review: critiques of each author's reviews, by round
    for cr in sorted(debate.get("critiques", []), key=lambda c: c["round"]):
        critiques.setdefault(author.get(cr["review_id"], ""), []).append(
            {**cr, "path": index.get(cr["id"], {}).get("path")})
    findings = []
    for f in report.findings:
        chain = issue_chain(run_dir, [i for i in f.issues if not i.startswith("FS-")], debate, index)
        for link in chain:
            link["critiques"] = critiques.get(link["persona"], [])
        groups = stance_groups(f)
        for row in (r for rows in groups.values() for r in rows):
            row["files"] = [index[a]["path"] for a in row["artifacts"] if a in index]
        changed, against = groups["concede"] + groups["revise"], groups["disagree"]
        findings.append({"f": f, "chain": chain, "stances": groups, "sev_rank": SEVERITY_RANK[f.severity],
                         "verification": index.get(f.verification or "", {}).get("path"),
                         "changed": changed, "against": against, "who": {
                             "for": _people(groups["agree"] + groups["refine"]), "against": _people(against),
                             "changed": _people(changed)}})
    target = info.get("target") or {}
    git = {k: (target.get("git") or {}).get(k) for k in ("commit", "branch", "dirty", "diff_range")}
    return {
        "report": report, "findings": findings, "points": plot_points(report.findings), "frame": plot_frame(),
        "colours": STATUS_COLOURS, "personas": persona_cards(report, debate, index),
        "created": nice_time(str(info.get("created", ""))), "target_path": target.get("path", report.target),
        "target_kind": target.get("kind", ""), "git": git,
        "duration": human_duration(run_duration(lines)), "attempts": len(lines),
        "retries": sum(1 for x in lines if x.attempt > 1), "failed_calls": sum(1 for x in lines if x.outcome != "ok"),
        "severities": list(SEVERITY_RANK), "statuses": list(STATUS_COLOURS),
        "counts": {s: sum(1 for f in report.findings if f.status == s) for s in STATUS_COLOURS},
        "has_md": run.report_md.exists(), "run_dir": str(run_dir),
    }


def render_html(run_dir: Path) -> str:
    """The report page as a string."""
    return environment().get_template("artifacts/report.html.j2").render(**build_context(run_dir))


def write_html(run_dir: Path) -> Path:
    """Render `report.html` into the run directory (atomically) and return its path."""
    return RunDir(run_dir).write(rundir.REPORT_HTML, render_html(run_dir))

