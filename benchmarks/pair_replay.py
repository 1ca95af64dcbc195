"""The claims checker's pair question, as run versus the current engine's, replayed on stored pairs.

The claims stage asks the model about each pair of claims a rule only shortlisted ("Limit 10 seconds
contradicted by 30 seconds"): a confirmed pair becomes a finding, a rejected one does not. This takes every
pair call stored in document run directories (`calls/claims--*pair-*.json`, with the run's `claims.json`),
labels each pair by the quality benchmark's scorer (the pair's hit, as the claims checker would raise it,
names a labelled flaw of the case or not), and asks the embedded model the current engine's pair prompt
again, so the stored verdict (the prompt as run) and today's can be compared on the same pairs. Usage:

    python benchmarks/pair_replay.py RUNS_DIR_OR_RESULTS [more] [--split tuning] [--out rows.json]
    python benchmarks/pair_replay.py --rules --split tuning      # the rules' own candidate pairs, no run needed

A folder may be a results folder (its `runs/`) or a folder of run directories. Nothing else of a run changes.
`--rules` takes, instead of stored runs, the candidate pairs the rules alone shortlist on every document case
of the split (no stored verdict: only today's prompt is asked).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from claims import hit_found, quality_module  # noqa: E402  (benchmarks/claims.py: the scorer's view of a hit)

from engine.claims.crosscheck import cross_check  # noqa: E402
from engine.claims.extract import extract_claims  # noqa: E402
from engine.claims.model import Claim, Hit  # noqa: E402
from engine.stages.claims import pair_prompt, pair_verdict_of  # noqa: E402
from engine.stages.common import system_prompt  # noqa: E402
from engine.target.ingest import ingest  # noqa: E402

NONCE = re.compile(r"<<<DATA ([0-9a-f]+)>>>")


def run_dirs(folders: list[Path]) -> list[Path]:
    """Run directories with stored pair calls under the given folders."""
    out = []
    for folder in folders:
        base = folder / "runs" if (folder / "runs").is_dir() else folder
        out += [d for d in sorted(base.iterdir()) if (d / "claims.json").exists() and (d / "calls").is_dir()]
    return out


def case_of(run_dir: Path, cases: list[str]) -> str | None:
    """The corpus case a run directory was made for (its name is <workflow>-<case>-<time>)."""
    name = run_dir.name
    return next((c for c in sorted(cases, key=len, reverse=True) if f"-{c.replace('_', '-')}-" in name), None)


def stored_pairs(run_dir: Path) -> list[tuple[Hit, dict[str, Claim], dict[str, Any]]]:
    """(hit as shortlisted, the run's claims by id, the stored call record) for every pair call of a run."""
    data = json.loads((run_dir / "claims.json").read_text(encoding="utf-8"))
    by_id = {c["id"]: Claim(**c) for c in data["claims"]}
    hits = [Hit(**h) for h in data["hits"]]
    out = []
    for path in sorted((run_dir / "calls").glob("claims--*pair-*.json")):
        rec = json.loads(path.read_text(encoding="utf-8"))
        ids = rec["subject"].removeprefix("pair-").split("-CL-")
        ids = [ids[0]] + [f"CL-{i}" for i in ids[1:]]
        asked = [h for h in hits if h.claims == ids]  # the asked pair, not a certain hit on the same claims
        hit = next((h for h in asked if h.strength in ("confirmed", "rejected")), asked[0] if asked else None)
        if hit is None or rec.get("parsed") is None:
            continue
        hit = hit.model_copy(update={"strength": "candidate", "detail": hit.detail.split("; model: ")[0]})
        out.append((hit, by_id, rec))
    return out


def label(q: Any, case: str, hit: Hit, defects: dict[str, list[Any]]) -> bool:
    """Whether the hit, raised as the claims checker raises it, names a labelled flaw of the case."""
    found = hit_found(q.S, hit)
    s = q.S.score_case(case, [found], defects.get(case, []), q.doc_sections(q.CORPUS / case))
    return bool(s.finding_matches[0])


def rule_pairs(q: Any, case: str, strength: str = "candidate") -> list[tuple[Hit, dict[str, Claim]]]:
    """The candidate pairs the rules alone shortlist in a document case (no model-added claims); with strength
    "all", every hit on a pair of claims."""
    out = []
    for path in sorted(p for p in (q.CORPUS / case).rglob("*") if p.is_file()):
        claims = extract_claims(ingest(path).files[0])
        by_id = {c.id: c.model_copy(update={"file": str(path.relative_to(q.CORPUS / case))}) for c in claims}
        out += [(h.model_copy(update={"file": by_id[h.claims[0]].file}), by_id) for h in cross_check(claims)
                if strength in ("all", h.strength) and len(h.claims) == 2]
    return out


def items(q: Any, args: argparse.Namespace, cases: list[str]) -> list[dict[str, Any]]:
    """Every pair to ask about: case, hit, claims by id, system prompt, nonce and the stored verdict (or None)."""
    out = []
    if args.rules:
        nonce = "0123456789abcdef"
        system = system_prompt(SimpleNamespace(nonce=nonce), None)  # type: ignore[arg-type]
        for case in (c for c in cases if c.startswith("doc_")):
            out += [{"case": case, "hit": h, "by_id": by_id, "system": system, "nonce": nonce, "stored": None,
                     "run": "rules"} for h, by_id in rule_pairs(q, case)]
        return out
    for run_dir in run_dirs(args.folders):
        case = case_of(run_dir, cases)
        for hit, by_id, rec in stored_pairs(run_dir) if case else []:
            user = next(m["content"] for m in rec["messages"] if m["role"] == "user")
            out.append({"case": case, "hit": hit, "by_id": by_id, "run": run_dir.name,
                        "system": next(m["content"] for m in rec["messages"] if m["role"] == "system"),
                        "nonce": NONCE.search(user)[1], "stored": bool(rec["parsed"]["contradict"])})  # type: ignore[index]
    return out


def ask_now(model: Any, hit: Hit, by_id: dict[str, Claim], system: str, nonce: str) -> tuple[bool, str]:
    """Today's pair prompt through the model's structured output: (confirmed, its answer as JSON)."""
    ctx = SimpleNamespace(nonce=nonce)
    schema, user = pair_prompt(ctx, hit, by_id)  # type: ignore[arg-type]
    res = model.with_structured_output(schema, method="json_schema").invoke(
        [("system", system), ("user", user)])
    return pair_verdict_of(res), res.model_dump_json()


def tally(rows: list[dict[str, Any]], key: str) -> dict[str, float]:
    """Confirmed among real and invented pairs (today's: the expected count, from each pair's share of samples)."""
    return {"real_confirmed": round(sum(r[key] for r in rows if r["real"]), 2),
            "real": sum(r["real"] for r in rows),
            "invented_confirmed": round(sum(r[key] for r in rows if not r["real"]), 2),
            "invented": sum(not r["real"] for r in rows)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folders", nargs="*", type=Path)
    ap.add_argument("--rules", action="store_true", help="the rules' candidate pairs on the split's documents")
    ap.add_argument("--split", default="all", choices=["tuning", "held-out", "all"])
    ap.add_argument("--model", default="qwen2.5-coder-1.5b")
    ap.add_argument("--samples", type=int, default=3, help="answers per pair (temperature 0.2; default 3)")
    ap.add_argument("--no-ask", action="store_true", help="only label the stored verdicts")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    if bool(args.folders) == args.rules:
        ap.error("give run folders, or --rules")
    if args.rules and args.no_ask:
        ap.error("--rules has no stored verdicts: it needs the model")
    q = quality_module()
    labels = q.load_labels()
    defects = q.S.defects_from_labels(labels)
    cases = q.split_cases(labels, args.split)
    from engine.llm import local
    from engine.stages.claims import MAX_TOKENS

    model = None if args.no_ask else local.chat_model(args.model, max_tokens=MAX_TOKENS["claims"], slots=1)
    rows = []
    try:
        for it in items(q, args, cases):
            hit = it["hit"]
            row = {"run": it["run"], "case": it["case"], "title": hit.title,
                   "real": label(q, it["case"], hit, defects), "stored": it["stored"]}
            if model is not None:  # the engine samples once at temperature 0.2: the share of confirming samples
                t0 = time.time()
                answers = [ask_now(model, hit, it["by_id"], it["system"], it["nonce"]) for _ in range(args.samples)]
                row["now"] = round(sum(a for a, _ in answers) / len(answers), 2)
                row["now_answers"] = [text for _, text in answers]
                row["wall_s"] = round(time.time() - t0, 1)
            rows.append(row)
            print(f"{it['case']:<26} real={int(row['real'])} stored={row['stored']!s:<5} "
                  f"now={row.get('now', '-')!s:<5} {hit.title[:70]}", flush=True)
    finally:
        if model is not None and (server := local.running_server(args.model)) is not None:
            server.stop()
    report: dict[str, Any] = {"pairs": len(rows)}
    if not args.rules:
        report["stored"] = tally(rows, "stored")
    if model is not None:
        report["now"] = tally(rows, "now")
    print(json.dumps(report, indent=1))
    if args.out:
        args.out.write_text(json.dumps({"report": report, "rows": rows}, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
