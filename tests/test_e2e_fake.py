"""End-to-end runs with the fake model: the whole run directory, every workflow, trace, resume."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from engine.artifacts import read_front_matter
from engine.llm.ledger import read_ledger
from tests.conftest import run_fake
from tests.snapshot import assert_snapshot

VOLATILE = {"ledger.jsonl", "checkpoint.sqlite", "report.html", "run.lock"}


def run_dir_snapshot(run_dir: Path) -> str:
    """Every file of a run, normalised: markdown and JSON verbatim, ledger without timings, no binaries."""
    parts = []
    for path in sorted(p for p in run_dir.rglob("*") if p.is_file()):
        rel = path.relative_to(run_dir).as_posix()
        if rel.startswith("calls/") or rel in VOLATILE or rel.startswith("checkpoint.sqlite"):
            continue
        text = path.read_text(encoding="utf-8")
        if rel == "report.json":
            data = json.loads(text)
            for key in ("cost_by_stage", "cost_by_model", "total"):
                data.pop(key)
            text = json.dumps(data, indent=1, sort_keys=True)
        if rel == "review-findings.md":
            text = text[: text.index("## Cost")]
        parts.append(f"##### {rel}\n{text}")
    calls = sorted(p.relative_to(run_dir).as_posix() for p in (run_dir / "calls").iterdir())
    parts.append("##### calls/\n" + "\n".join(calls))
    return "\n".join(parts)


def test_debate_run_directory_snapshot(tmp_path: Path, example: Path) -> None:
    target = tmp_path / "src" / example.name  # outside any git repo: no commit id in the snapshot
    target.parent.mkdir()
    shutil.copy(example, target)
    run_dir, report = run_fake(tmp_path, target)
    assert report.complete
    assert_snapshot("run-debate.txt", run_dir_snapshot(run_dir).replace(str(tmp_path), "<tmp>"))


def test_debate_run_structure(tmp_path: Path) -> None:
    run_dir, report = run_fake(tmp_path, personas=4, k=2)
    assert len(list((run_dir / "personas").glob("*.md"))) == 4
    assert len(list((run_dir / "reviews").glob("*-review.md"))) == 4 + 1  # + the analyzers review
    assert (run_dir / "reviews" / "analyzers-review.md").exists()
    assert len(list((run_dir / "verifications").glob("C-*-verification.md"))) == len(report.findings)
    responses = list((run_dir / "responses").glob("*--*-response.md"))
    assert len(responses) == 8  # N * k
    assert len(list((run_dir / "rebuttals").glob("*--*-rebuttal.md"))) <= 8
    assert len(list((run_dir / "findings").glob("*-findings.md"))) == 4
    for path in run_dir.rglob("*.md"):
        meta = read_front_matter(path)
        assert {"id", "kind", "persona", "model", "derived_from"} <= set(meta), path
    review = (run_dir / "reviews").glob("*-review.md").__next__().read_text(encoding="utf-8")
    assert "## Abstract" in review
    data = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    assert data["findings"] and all(0 <= f["scores"]["truth"] <= 1 for f in data["findings"])
    ranks = [f["scores"]["truth"] * f["scores"]["usefulness"] for f in data["findings"]]
    assert ranks == sorted(ranks, reverse=True)
    run = yaml.safe_load((run_dir / "run.yaml").read_text(encoding="utf-8"))
    assert run["judge"] == "fake" and run["workflow"] == "debate"
    # every review has at least one responder, nobody answers its own review
    for resp in responses:
        review_slug, responder = resp.name.removesuffix("-response.md").split("--")
        assert review_slug != responder
    lines = read_ledger(run_dir / "ledger.jsonl")
    assert {line.stage for line in lines} >= {"personas", "reviews", "picks", "responses", "rebuttals", "findings",
                                              "judge", "compile"}
    assert report.total is not None and report.total.calls == len(lines)


@pytest.mark.parametrize(("workflow", "stages"), [
    ("fusion", {"personas", "reviews", "judge", "compile"}),
    ("sample", {"reviews", "judge", "compile"}),
    ("single", {"reviews", "judge", "compile"}),
    ("self-review", {"personas", "reviews", "critique", "judge", "compile"}),
])
def test_other_workflows(tmp_path: Path, workflow: str, stages: set[str]) -> None:
    run_dir, report = run_fake(tmp_path, workflow=workflow)
    assert report.complete and report.workflow == workflow
    assert {line.stage for line in read_ledger(run_dir / "ledger.jsonl")} == stages
    assert not (run_dir / "responses").exists()
    if workflow == "self-review":
        assert (run_dir / "critiques").is_dir()
        assert (run_dir / "reviews" / f"{report.personas[0]}-review-r2.md").exists()


def test_library_personas_and_unique_findings_kept(tmp_path: Path) -> None:
    run_dir, report = run_fake(tmp_path, persona=["security-auditor", "maintainer", "test-engineer"], k=1)
    assert report.personas == ["security-auditor", "maintainer", "test-engineer"]
    assert {f.status for f in report.findings} <= {"consensus", "contested", "unique", "refuted"}
    assert (run_dir / "personas" / "security-auditor.md").exists()


def test_rerun_of_finished_run_makes_no_call(tmp_path: Path) -> None:
    import asyncio

    from engine import api

    run_dir, report = run_fake(tmp_path)
    before = len(read_ledger(run_dir / "ledger.jsonl"))
    again = asyncio.run(api.resume(run_dir))
    assert len(read_ledger(run_dir / "ledger.jsonl")) == before
    assert [f.id for f in again.findings] == [f.id for f in report.findings]


@pytest.mark.parametrize("workflow", ["debate", "fusion", "single"])
def test_every_review_issue_reaches_the_report(tmp_path: Path, workflow: str) -> None:
    """No issue raised in a review is lost on the way to the report: each is a member of one finding."""
    run_dir, _ = run_fake(tmp_path, personas=4, k=2, workflow=workflow)
    debate = json.loads((run_dir / "debate.json").read_text(encoding="utf-8"))
    report = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    raised = [i["id"] for r in debate["reviews"] for i in r["issues"]]
    members = [m["issue"] for f in report["findings"] for m in f["members"]]
    assert raised and sorted(raised) == sorted(members)
    assert all(sum(m["lead"] for m in f["members"]) == 1 for f in report["findings"])


@pytest.mark.parametrize(("workflow", "personas", "k"), [("debate", 4, 2), ("debate", 3, 1), ("fusion", 3, None),
                                                         ("single", None, None)])
def test_every_review_issue_reaches_the_report_with_a_status(tmp_path: Path, workflow: str, personas: int | None,
                                                             k: int | None) -> None:
    """Nothing is lost between stages silently: each issue of each review is in a finding of report.json."""
    run_dir, report = run_fake(tmp_path, workflow=workflow, personas=personas, k=k)
    debate = json.loads((run_dir / "debate.json").read_text(encoding="utf-8"))
    raised = {i["id"] for r in debate["reviews"] for i in r["issues"]}
    data = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    reported = {i for f in data["findings"] for i in f["issues"]}
    assert raised and raised <= reported, sorted(raised - reported)
    assert all(f["status"] in ("consensus", "contested", "unique", "refuted") for f in data["findings"])
