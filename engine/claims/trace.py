"""Claims in the trace: `rebuttal trace RUN CL-003`, and the claims and section behind a document finding."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine import rundir
from engine.paths import same_file
from engine.rundir import RunDir

NEAR = 2


def load_claims(run_dir: Path) -> dict[str, Any] | None:
    """claims.json of a run ({claims, hits}), or None for runs without claims (code targets)."""
    return RunDir(run_dir).optional_json(rundir.CLAIMS_JSON)


def claims_at(claims: list[dict[str, Any]], file: str, lo: int, hi: int) -> list[dict[str, Any]]:
    """The claims on (or within NEAR lines of) a span of a file."""
    return [c for c in claims if same_file(c["file"], file) and lo - NEAR <= c["line"] <= hi + NEAR]


def section_at(claims: list[dict[str, Any]], file: str, line: int) -> str:
    """The heading path of the last claim at or before a line of a file ('' if none)."""
    before = [c for c in claims if same_file(c["file"], file) and c["line"] <= line]
    return max(before, key=lambda c: c["line"])["section"] if before else ""


def finding_claims(data: dict[str, Any], finding: dict[str, Any]) -> dict[str, Any]:
    """The section and the claims (with their cross-check hits) a finding's location rests on."""
    at = claims_at(data["claims"], finding["file"], finding["line_start"], finding["line_end"])
    ids = {c["id"] for c in at}
    hits = [h for h in data["hits"] if ids & set(h["claims"])]
    return {"section": section_at(data["claims"], finding["file"], finding["line_start"]), "claims": at, "hits": hits}


def claim_trace(data: dict[str, Any], ref: str, report: dict[str, Any], debate: dict[str, Any]) -> dict[str, Any]:
    """One claim: its statement, the cross-checks on it, and the findings and review issues that cite its line."""
    claim = next((c for c in data["claims"] if c["id"].lower() == ref.lower()), None)
    if claim is None:
        return {}
    hits = [h for h in data["hits"] if claim["id"] in h["claims"]]
    lines = {claim["line"], *(n for h in hits for n in h["lines"] if h["file"] == claim["file"])}
    lo, hi = min(lines), max(lines)

    def cites(item: dict[str, Any]) -> bool:
        return same_file(item["file"], claim["file"]) and any(
            item["line_start"] - NEAR <= n <= item["line_end"] + NEAR for n in lines) and lo > 0 and hi > 0

    findings = [{"id": f["id"], "title": f["title"]} for f in report["findings"] if cites(f)]
    issues = [{"id": i["id"], "title": i["title"]} for r in debate["reviews"] for i in r["issues"] if cites(i)]
    return {"claim": claim, "hits": hits, "findings": findings, "issues": issues}


def render_claim(t: dict[str, Any]) -> list[str]:
    """Terminal lines for a claim trace."""
    c = t["claim"]
    out = [f"{c['id']}  [{c['kind']}]  {c['file']}:{c['line']}  section: {c['section'] or '-'}  (by {c['source']})",
           f"  {c['text']}", "  artifact: claims.md"]
    out += [f"  ├─ {h['rule']} ({h['strength']}): {h['detail']}" for h in t["hits"]]
    out += [f"  └─ finding {f['id']}: {f['title']}" for f in t["findings"]]
    out += [f"  └─ issue {i['id']}: {i['title']}" for i in t["issues"]]
    return out


def render_finding_claims(t: dict[str, Any]) -> list[str]:
    """Terminal lines for the section and claims under a finding."""
    out = [f"  section: {t['section'] or '-'}"] if t["section"] else []
    out += [f"  rests on {c['id']} [{c['kind']}] line {c['line']}: {c['text'][:100]}" for c in t["claims"]]
    out += [f"    ├─ {h['rule']} ({h['strength']}) on {', '.join(h['claims'])}: {h['detail']}" for h in t["hits"]]
    return out
