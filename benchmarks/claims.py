"""The claims-checker alone on the document corpus: what the rules raise with no model and no persona.

    python benchmarks/claims.py --cases doc_payments,doc_notifications
    python benchmarks/claims.py --replay runs/quality/local     # stored document runs, today's rules

Extracts each document's claims, runs the cross-check rules, keeps the hits the engine would raise as the
claims-checker review (candidates need a model, so they are left out here), and scores them with the quality
benchmark's scorer (section + a keyword the document does not contain). No model call; seconds.

`--replay DIR` takes a quality results folder of document runs instead and replays, on each stored run, the
claims checker's choice of hits to raise (`unraised`, over the run's stored hits and reviews) and the set-aside
rule as they are today: which findings the report would stand behind, and which flaws they name.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.claims.crosscheck import cross_check  # noqa: E402
from engine.claims.extract import extract_claims  # noqa: E402
from engine.claims.model import CLAIMS_CHECKER, Claim, Hit  # noqa: E402
from engine.claims.quantities import quantities  # noqa: E402
from engine.models import Review  # noqa: E402
from engine.stages.claims import hit_fix, unclaimed, unraised  # noqa: E402
from engine.target.ingest import ingest  # noqa: E402

QUALITY = ROOT / "benchmarks" / "quality.py"


def quality_module() -> Any:
    """benchmarks/quality.py as a module (for its labels, sections and scorer)."""
    spec = importlib.util.spec_from_file_location("rebuttal_quality_bench", QUALITY)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["rebuttal_quality_bench"] = module
    spec.loader.exec_module(module)
    return module


def checker_findings(case_dir: Path, score: Any) -> list[Any]:
    """The claims-checker's issues for every document of a case, as the scorer's Found records."""
    out = []
    for path in sorted(p for p in case_dir.rglob("*") if p.is_file()):
        f = ingest(path).files[0]
        hits = unraised(cross_check(extract_claims(f)), [])
        for h in hits:
            line = h.lines[0]
            out.append(score.Found(file=str(path.relative_to(case_dir)), line_start=line, line_end=line,
                                   title=h.title, evidence=f.lines[line - 1].strip(),
                                   fix=hit_fix(h)))
    return out


def found_of(score: Any, f: dict[str, Any]) -> Any:
    return score.Found(file=f["file"], line_start=f["line_start"], line_end=f["line_end"], title=f["title"],
                       evidence=f["evidence"], fix=f["fix"])


def hit_found(score: Any, h: Hit) -> Any:
    """A hit as the scorer's Found record, as the claims checker raises it (its sentence, its fix)."""
    return score.Found(file=h.file, line_start=h.lines[0], line_end=h.lines[0], title=h.title, evidence=h.evidence,
                       fix=hit_fix(h))


def today_claims(claims: list[Claim]) -> list[Claim]:
    """A run's stored claims as today's claims stage keeps them: a model's claim without the wrapped ends of the
    rules' sentences it repeated (engine/stages/claims.py `unclaimed`), dropped when nothing else is left."""
    out = []
    for c in claims:
        if c.source != "model":
            out.append(c)
            continue
        text = unclaimed(c.text, [" ".join(r.text.split()) for r in claims if r.source != "model" and r.file == c.file])
        if text:
            out.append(c if text == c.text else c.model_copy(update={"text": text, "quantities": quantities(text)}))
    return out


def today_hits(stored: dict[str, Any]) -> list[Hit]:
    """Today's rules over a run's stored claims (the rules' and the model's), each candidate pair keeping the
    verdict the run's model gave it (a pair it never asked about stays a candidate, so it raises nothing)."""
    verdicts = {(h["rule"], frozenset(h["claims"])): h["strength"] for h in stored["hits"]
                if h["strength"] in ("confirmed", "rejected")}
    claims = [Claim(**c) for c in stored["claims"]]
    out = []
    for h in cross_check(today_claims(claims)):
        verdict = verdicts.get((h.rule, frozenset(h.claims))) if h.strength == "candidate" else None
        out.append(h.model_copy(update={"strength": verdict}) if verdict else h)
    return out


def replay(folder: Path, q: Any, defects: dict[str, list[Any]]) -> int:
    """Today's rules, `unraised` and set-aside rule over stored document runs: reported flaws and precision (a
    finding only the claims checker raised is dropped when today's rules no longer raise its hit)."""
    totals = [0, 0, 0, 0]  # flaws, flaws found, reported findings, reported naming a flaw
    for path in sorted((folder / "results").glob("*.json")):
        r = json.loads(path.read_text(encoding="utf-8"))
        run, case = Path(r["run_dir"]), r["case"]
        if not run.exists():  # a committed results folder keeps each run's claims.json and debate.json here
            run = folder / "run-records" / run.name
        if not case.startswith("doc_") or not (run / "claims.json").exists():
            continue
        hits = today_hits(json.loads((run / "claims.json").read_text(encoding="utf-8")))
        debate = json.loads((run / "debate.json").read_text(encoding="utf-8"))
        reviews = [Review(**x) for x in debate["reviews"] if x["persona"] != CLAIMS_CHECKER]
        checker = next((x for x in debate["reviews"] if x["persona"] == CLAIMS_CHECKER), {"issues": []})
        before = {(i["line_start"], i["title"]) for i in checker["issues"]}
        today = unraised(hits, reviews)
        raised = [h for h in today if (h.lines[0], h.title[:200]) not in before]
        # a finding only the checker raised, for a hit today's rules no longer raise, goes
        gone = before - {(h.lines[0], h.title[:200]) for h in today}
        kept = [found_of(q.S, f) for f in q.backfill_set_aside(r, force=True)["findings"] if not f["set_aside"]
                and not (f["personas"] == [CLAIMS_CHECKER] and (f["line_start"], f["title"]) in gone)]
        extra = [hit_found(q.S, h) for h in raised]
        s = q.S.score_case(case, kept + extra, defects.get(case, []), q.doc_sections(q.CORPUS / case))
        totals = [totals[0] + s.defects, totals[1] + len(s.found_defects), totals[2] + s.findings,
                  totals[3] + s.matched_findings]
        print(f"{case}: found {len(s.found_defects)}/{s.defects} {s.found_defects}; reported {s.findings} "
              f"({len(extra)} hits raised today that the run did not), {s.matched_findings} naming a flaw")
    print(f"recall {totals[1]}/{totals[0]}, precision {totals[3]}/{totals[2]}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Score the rules-only claims-checker on the chosen document cases (or replay stored runs)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", help="comma-separated document case names")
    ap.add_argument("--replay", type=Path, help="a quality results folder of document runs to replay")
    args = ap.parse_args(argv)
    if not args.cases and not args.replay:
        ap.error("give --cases or --replay")
    q = quality_module()
    defects = q.S.defects_from_labels(q.load_labels())
    if args.replay:
        return replay(args.replay, q, defects)
    rows = []
    for case in args.cases.split(","):
        case_dir = q.CORPUS / case
        if not case_dir.is_dir():
            raise SystemExit(f"no such case: {case}")
        found = checker_findings(case_dir, q.S)
        s = q.S.score_case(case, found, defects.get(case, []), q.doc_sections(case_dir))
        rows.append(s)
        print(f"{case}: found {len(s.found_defects)}/{s.defects} {s.found_defects}, "
              f"{s.matched_findings}/{s.findings} findings matched")
        for fd, m in zip(found, s.finding_matches, strict=True):
            print(f"   {'+' if m else '-'} {fd.file}:{fd.line_start} {fd.title}")
    total = sum(r.defects for r in rows)
    got = sum(len(r.found_defects) for r in rows)
    findings = sum(r.findings for r in rows)
    matched = sum(r.matched_findings for r in rows)
    print(f"recall {got}/{total}, precision {matched}/{findings}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
