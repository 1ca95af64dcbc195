"""The claims-checker alone on the document corpus: what the rules raise with no model and no persona.

    python benchmarks/claims.py --cases doc_payments,doc_notifications

Extracts each document's claims, runs the cross-check rules, keeps the hits the engine would raise as the
claims-checker review (candidates need a model, so they are left out here), and scores them with the quality
benchmark's scorer (section + a keyword the document does not contain). No model call; seconds.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.claims.crosscheck import cross_check  # noqa: E402
from engine.claims.extract import extract_claims  # noqa: E402
from engine.stages.claims import FIXES, unraised  # noqa: E402
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
                                   fix=f"{FIXES[h.rule]} ({h.detail})"))
    return out


def main(argv: list[str] | None = None) -> int:
    """Score the rules-only claims-checker on the chosen document cases."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", required=True, help="comma-separated document case names")
    args = ap.parse_args(argv)
    q = quality_module()
    defects = q.S.defects_from_labels(q.load_labels())
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
