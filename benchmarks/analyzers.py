"""The static analyzers alone on the corpus's code cases: what the `analyzers` review would raise, no model.

    python benchmarks/analyzers.py                     # tuning and held-out code cases, every analyzer
    python benchmarks/analyzers.py --split held-out --tools ruff,bandit

Each case folder is read as a target (`ingest`), the analyzers run on it as in a review (`run_analyzers`: a
temporary copy, each tool where its languages are), and the issues the `analyzers` review would add when no
persona raised anything (`analyzer_review`) are scored with the quality benchmark's scorer: at a labelled
defect's lines (±3), naming it (the strict label: one of its keywords in the title or fix), or on a clean file.
These issues are the findings a review stands behind at truth >= 0.5 with no help from the model. Seconds.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.claims import quality_module  # noqa: E402
from engine.target.ingest import ingest  # noqa: E402
from engine.verify.analyzers import RUNNERS, run_analyzers  # noqa: E402
from engine.verify.matching import analyzer_review  # noqa: E402


def case_issues(case_dir: Path, tools: list[str], score: object) -> list[object]:
    """The analyzers review's issues on one case, as the scorer's Found records."""
    run = run_analyzers(ingest(case_dir), tools)
    if run.errors:
        raise SystemExit(f"{case_dir.name}: {'; '.join(run.errors)}")
    review = analyzer_review(run, [], {})
    return [score.Found(file=i.file, line_start=i.line_start, line_end=i.line_end, title=i.title,  # type: ignore[attr-defined]
                        evidence=i.evidence, fix=i.fix) for i in (review.issues if review else [])]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", choices=["tuning", "held-out", "all"], default="all")
    ap.add_argument("--tools", default=",".join(RUNNERS), help=f"comma-separated, of {', '.join(RUNNERS)}")
    args = ap.parse_args(argv)
    tools = [t for t in args.tools.split(",") if t]
    if unknown := [t for t in tools if t not in RUNNERS]:
        ap.error(f"unknown analyzer: {', '.join(unknown)}")
    q = quality_module()
    labels = q.load_labels()
    defects = q.S.defects_from_labels(labels)
    splits = ["tuning", "held-out"] if args.split == "all" else [args.split]
    for split in splits:
        cases = sorted(c for c in q.split_cases(labels, split) if labels["cases"][c]["kind"] == "code")
        issues = on = named = clean = 0
        near: set[tuple[str, str]] = set()
        strict: set[tuple[str, str]] = set()
        labelled = sum(len(defects.get(c, [])) for c in cases)
        print(f"## {split}: {len(cases)} code cases, {labelled} defects; analyzers {', '.join(tools)}")
        for case in cases:
            found = case_issues(q.CORPUS / case, tools, q.S)
            for f in found:
                hit = [d for d in defects.get(case, []) if q.S.matches(f, d)]
                says = [d for d in hit if q.S.matches(f, d, strict=True)]
                near |= {(case, d.id) for d in hit}
                strict |= {(case, d.id) for d in says}
                issues += 1
                on += bool(hit)
                named += bool(says)
                clean += not defects.get(case)
                where = "clean file" if not defects.get(case) else (
                    f"names {says[0].id}" if says else f"at {hit[0].id}, another claim" if hit else "no defect")
                print(f"   {case}: {f.file}:{f.line_start} {f.title[:70]} -- {where}")
        print(f"{split}: {issues} issues raised; {on} at a labelled defect's lines, {named} naming it, "
              f"{clean} on clean files; defects at an issue: {len(near)} of {labelled}, named: {len(strict)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
