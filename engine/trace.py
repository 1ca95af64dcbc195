"""Provenance over a run directory: from a finding (or issue, or artifact) back to every file that shaped it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine import rundir
from engine.artifacts import read_front_matter
from engine.claims.trace import claim_trace, finding_claims, load_claims, render_claim, render_finding_claims
from engine.errors import ConfigError
from engine.rundir import RunDir
from engine.stages.cluster import supported


def artifact_index(run_dir: Path) -> dict[str, dict[str, Any]]:
    """id -> {path, kind, persona, derived_from} for every markdown artifact in the run."""
    out: dict[str, dict[str, Any]] = {}
    for path, meta in RunDir(run_dir).artifacts():
        out[str(meta["id"])] = {
            "path": str(path.relative_to(run_dir)), "kind": meta.get("kind"), "persona": meta.get("persona"),
            "derived_from": list(meta.get("derived_from") or []),
        }
    return out


def issue_chain(run_dir: Path, issue_ids: list[str], debate: dict[str, Any], index: dict[str, Any]) -> list[dict]:
    """For each review issue: its review file, every response and rebuttal point on it, findings items."""
    issues = {i["id"]: (r, i) for r in debate["reviews"] for i in r["issues"]}
    chain = []
    for iid in issue_ids:
        if iid not in issues:
            continue
        review, issue = issues[iid]
        touches = []
        for kind, key in (("response", "responses"), ("rebuttal", "rebuttals")):
            for art in debate[key]:
                for pt in art["points"]:
                    if pt["issue_id"] == iid:
                        touches.append({"kind": kind, "id": art["id"], "persona": art["persona"],
                                        "stance": pt["stance"], "reason": pt["reason"],
                                        "path": index.get(art["id"], {}).get("path"),
                                        "quote": pt.get("quote", ""), "quote_status": pt.get("quote_status"),
                                        "counted": pt["stance"] != "disagree"
                                        or supported(pt.get("quote", ""), pt.get("quote_status"))})
        kept = [{"id": it["id"], "persona": f["persona"], "adopted": it["adopted"], "title": it["title"],
                 "path": index.get(f["id"], {}).get("path")}
                for f in debate["findings"] for it in f["items"] if it["source_issue"] == iid]
        chain.append({"issue": issue, "review": review["id"], "persona": review["persona"],
                      "path": index.get(review["id"], {}).get("path"), "debate": touches, "findings": kept,
                      "changed_mind": [t for t in touches if t["stance"] in ("concede", "revise")]})
    return chain


def trace(run_dir: Path, ref: str) -> dict[str, Any]:
    """The provenance chain of a finding id (F-003), a review issue id (R-x#2) or an artifact id/path."""
    run = RunDir(run_dir)
    report, debate = run.report_data(), run.read_json(rundir.DEBATE)
    index = artifact_index(run_dir)
    claims = load_claims(run_dir)
    for f in report["findings"]:
        if f["id"].lower() == ref.lower():
            issue_ids = [i for i in f["issues"] if not i.startswith("FS-")]
            out = {"finding": f, "issues": issue_chain(run_dir, issue_ids, debate, index),
                   "verification": verification_of(f, index)}
            return out | ({"claims": finding_claims(claims, f)} if claims else {})
    if claims and (found := claim_trace(claims, ref, report, debate)):
        return found
    all_issues = {i["id"] for r in debate["reviews"] for i in r["issues"]}
    if ref in all_issues:
        finding = next((f for f in report["findings"] if ref in f["issues"]), None)
        return {"finding": finding, "issues": issue_chain(run_dir, [ref], debate, index)}
    as_path = ref
    if (run_dir / ref).exists() or Path(ref).exists():
        p = Path(ref) if Path(ref).exists() else run_dir / ref
        as_path = read_front_matter(p).get("id", ref)
    if as_path in index:
        return {"artifact": as_path, "ancestry": ancestry(as_path, index)}
    raise ConfigError(f"no finding, issue or artifact '{ref}' in {run_dir}")


def verification_of(finding: dict[str, Any], index: dict[str, Any]) -> dict[str, Any] | None:
    """The verification artifact behind a finding's checks: its id, path and what it derives from."""
    vid = finding.get("verification")
    if not vid or vid not in index:
        return None
    return {"id": vid, **index[vid]}


def ancestry(aid: str, index: dict[str, Any]) -> list[dict[str, Any]]:
    """Walk derived_from links breadth-first from an artifact id."""
    seen, queue, out = {aid}, [aid], []
    while queue:
        cur = queue.pop(0)
        node = index.get(cur, {"path": None, "kind": "target" if cur == "target" else "unknown", "derived_from": []})
        out.append({"id": cur, **node})
        for parent in node["derived_from"]:
            if parent not in seen:
                seen.add(parent)
                queue.append(parent)
    return out


def render_trace(t: dict[str, Any]) -> str:
    """Plain-text rendering of a trace for the terminal."""
    lines: list[str] = []
    if "claim" in t:
        return "\n".join(render_claim(t))
    f = t.get("finding")
    if "artifact" in t:
        for node in t["ancestry"]:
            lines.append(f"{node['id']}  [{node['kind']}]  {node['path'] or ''}")
        return "\n".join(lines)
    if f:
        s = f["scores"]
        lines += [f"{f['id']}  {f['title']}",
                  f"  {f['severity']} · {f['status']} · evidence {f['evidence_status']} · "
                  f"truth {s['truth']:.2f} · usefulness {s['usefulness']:.2f}",
                  f"  location: {f['file']}:{f['line_start']}-{f['line_end']}",
                  f"  truth: {s['truth_rationale']}", f"  usefulness: {s['usefulness_rationale']}",
                  *([f"  judge: P(yes) {s['judge_p_yes']:.2f} ({s['judge_mode']}) · calibration {s['calibration']}"]
                    if s.get("judge_mode") else []),
                  f"  raised by: {', '.join(f['personas'])}", f"  report: {rundir.REPORT_MD}"]
        lead = next((m["issue"] for m in f.get("members", []) if m.get("lead")), None)
        if lead and len(f.get("members", [])) > 1:
            lines.append(f"  lead claim: {lead} (of {len(f['members'])} merged)")
        if f.get("same_place"):
            lines.append(f"  same place, another claim: {', '.join(f['same_place'])}")
        v = t.get("verification")
        if f.get("checks") or v:
            lines.append(f"  checks ({v['path'] if v else 'no verification file'}):")
            lines += [f"    {c['outcome']:<12} {c['kind']}: {c['detail']}" for c in f.get("checks", [])]
        lines += render_finding_claims(t["claims"]) if "claims" in t else []
        lines.append("")
    for c in t["issues"]:
        i = c["issue"]
        lines.append(f"└─ {i['id']}  {i['title']}  ({c['persona']})")
        lines.append(f"   review: {c['path']}  at {i['file']}:{i['line_start']}-{i['line_end']}"
                     f"  evidence {i.get('evidence_status')}")
        for d in c["debate"]:
            quote = f"  quote: {d['quote']!r} ({d['quote_status'] or 'unchecked'})" if d.get("quote") else ""
            unsupported = "" if d.get("counted", True) else " [unsupported disagreement: not counted]"
            lines.append(f"   ├─ {d['kind']} {d['id']} by {d['persona']}: {d['stance']}{unsupported} — {d['reason']}"
                         + quote)
            lines.append(f"   │    {d['path']}")
        for k in c["findings"]:
            how = "adopted by" if k["adopted"] else "kept by"
            lines.append(f"   └─ findings {k['id']} {how} {k['persona']}: {k['title']}  ({k['path']})")
        for d in c["changed_mind"]:
            lines.append(f"   ⚑ {d['persona']} changed their mind ({d['stance']}): {d['reason']}")
    return "\n".join(lines)
