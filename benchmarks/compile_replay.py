"""Compile's loss before and after clustering by claim, replayed on the same reviews (no model call).

For each stored quality result whose run directory still has its debate.json, rebuild the compile
members from the reviews and findings, cluster them with the engine's clustering and with the old one
(union of issues at lines within 3 of each other or quoting the same text, transitively: the rule before
issue 19), and count the labelled defects named by a review issue versus by a cluster's lead claim —
the title, location, evidence and fix a finding shows. Usage:

    python benchmarks/compile_replay.py runs/quality/local/results
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.models import PersonaFindings, Review  # noqa: E402
from engine.stages.cluster import Cluster, Member, build_members, cluster, same_quote  # noqa: E402
from engine.state import latest_reviews  # noqa: E402

NEAR = 3


def old_cluster(members: list[Member]) -> list[Cluster]:
    """The clustering before issue 19: union by nearby lines or the same quote, across personas."""
    parent = list(range(len(members)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(members)):
        for j in range(i + 1, len(members)):
            a, b = members[i].issue, members[j].issue
            pa, pb = (x.file.strip().lstrip("./").lower() for x in (a, b))
            near = (pa == pb or pa.endswith("/" + pb) or pb.endswith("/" + pa)) and \
                a.line_start <= b.line_end + NEAR and b.line_start <= a.line_end + NEAR
            if members[i].persona != members[j].persona and (near or same_quote(a, b)):
                parent[find(j)] = find(i)
    groups: dict[int, list[Member]] = {}
    for i, m in enumerate(members):
        groups.setdefault(find(i), []).append(m)
    return [Cluster(members=g) for g in groups.values()]


def old_lead(c: Cluster) -> Member:
    """The old lead: the highest severity among kept members, first on ties."""
    from engine.models import SEVERITY_RANK

    kept = [m for m in c.members if m.kept] or c.members
    return max(kept, key=lambda m: (SEVERITY_RANK[m.severity], -c.members.index(m)))


def as_found(m: Member) -> dict[str, Any]:
    i = m.issue
    return {"file": i.file, "line_start": i.line_start, "line_end": i.line_end, "title": m.title,
            "evidence": i.evidence, "fix": i.fix}


def replay(result: dict[str, Any], bench: Any, defects: dict[str, list[Any]],
           strict: bool = False) -> dict[str, Any] | None:
    """Defects named by review issues, by old leads and by new leads, for one stored result."""
    path = Path(result.get("run_dir", "")) / "debate.json"
    if not path.exists():
        return None
    debate = json.loads(path.read_text(encoding="utf-8"))
    reviews = list(latest_reviews([Review.model_validate(r) for r in debate["reviews"]]).values())
    found = [PersonaFindings.model_validate(f) for f in debate.get("findings", [])]
    members = build_members(reviews, found or None)
    d = defects[result["case"]]

    def named(items: list[dict[str, Any]]) -> int:
        return len(bench.score_result({"case": result["case"], "x": items}, d, key="x", strict=strict).found_defects)

    old = old_cluster(members)
    new = cluster(members)
    return {"case": result["case"], "workflow": result["workflow"], "issues": len(members),
            "reviews": named([as_found(m) for m in members]),
            "old": named([as_found(old_lead(c)) for c in old]), "old_clusters": len(old),
            "new": named([as_found(c.lead) for c in new]), "new_clusters": len(new)}


def main(argv: list[str] | None = None) -> int:
    """Print a per-workflow table of compile's loss, old clustering vs new, on stored results."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("results", type=Path, help="a quality results folder (…/results)")
    ap.add_argument("--strict", action="store_true", help="a code defect also needs a keyword in the claim")
    args = ap.parse_args(argv)
    from tests.conftest import load_benchmark

    bench = load_benchmark("quality.py", "rebuttal_quality_bench")
    defects = bench.S.defects_from_labels(bench.load_labels())
    rows = [r for p in sorted(args.results.glob("*.json"))
            if (r := replay(json.loads(p.read_text(encoding="utf-8")), bench, defects, args.strict)) is not None]
    if not rows:
        print("no stored result has its run directory's debate.json", file=sys.stderr)
        return 1
    print("| workflow | cases | review issues | named in reviews | old: clusters | old: named | new: clusters | "
          "new: named | cases where old lost one | cases where new lost one |")
    print("|" + "---|" * 10)
    for w in dict.fromkeys(r["workflow"] for r in rows):
        xs = [r for r in rows if r["workflow"] == w]
        lost_old = [r["case"] for r in xs if r["old"] < r["reviews"]]
        lost_new = [r["case"] for r in xs if r["new"] < r["reviews"]]
        print(f"| {w} | {len(xs)} | {sum(r['issues'] for r in xs)} | {sum(r['reviews'] for r in xs)} | "
              f"{sum(r['old_clusters'] for r in xs)} | {sum(r['old'] for r in xs)} | "
              f"{sum(r['new_clusters'] for r in xs)} | {sum(r['new'] for r in xs)} | "
              f"{', '.join(lost_old) or '–'} | {', '.join(lost_new) or '–'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
