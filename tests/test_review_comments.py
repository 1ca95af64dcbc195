"""Pull-request review comments: selection, cap, placement on the diff, body, and the `report` option."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from engine.cli import app
from engine.errors import ConfigError
from engine.report.comments import comment_body, place, review_payload
from tests.conftest import run_fake
from tests.test_report_ci import finding, report_of

runner = CliRunner()


@pytest.mark.parametrize(("scores", "threshold", "cap", "commented", "capped"), [
    ([(0.9, 0.9), (0.7, 0.6), (0.2, 0.9)], "truth>=0.6 and usefulness>=0.5", 20, ["F-001", "F-002"], False),
    ([(0.9, 0.9), (0.7, 0.6), (0.2, 0.9)], "truth>=0.6 and usefulness>=0.5", 1, ["F-001"], True),
    ([(0.5, 0.5), (0.9, 0.9)], "truth>=0.0", 20, ["F-002", "F-001"], False),  # best first (truth x usefulness)
    ([(0.9, 0.9)], "truth>=0.95", 20, [], False),
    ([(0.9, 0.9), (0.8, 0.8)], "truth>=0.5", 0, [], True),
])
def test_selection_and_cap(scores: list[tuple[float, float]], threshold: str, cap: int, commented: list[str],
                           capped: bool) -> None:
    rep = report_of([finding(n + 1, truth=t, usefulness=u) for n, (t, u) in enumerate(scores)])
    payload = review_payload(rep, run_dir="runs/r1", threshold=threshold, max_comments=cap)
    assert [c["body"].split("rebuttal ")[1].split("\n")[0] for c in payload["comments"]] == commented
    assert payload["event"] == "COMMENT"
    assert ("left out by the cap" in payload["body"]) == capped


def test_refuted_findings_are_not_commented_by_default() -> None:
    rep = report_of([finding(1, status="refuted"), finding(2, status="unique")])
    assert [c["path"] for c in review_payload(rep, run_dir="r")["comments"]] == ["pkg/mod.py"]


@pytest.mark.parametrize(("lines", "prefix", "changed", "where"), [
    ((10, 12), "", None, ("pkg/mod.py", 10, 12)),
    ((10, 12), "sub/dir", None, ("sub/dir/pkg/mod.py", 10, 12)),
    ((0, 0), "", None, ("pkg/mod.py", 1, 1)),  # line 0 (whole file) -> line 1
    ((10, 12), "", {"pkg/mod.py": [(11, 11)]}, ("pkg/mod.py", 10, 12)),
    ((10, 30), "", {"pkg/mod.py": [(11, 11)]}, ("pkg/mod.py", 10, 14)),  # clamped to the hunk + 3 lines context
    ((20, 20), "", {"pkg/mod.py": [(11, 11)]}, None),  # too far from any hunk
    ((10, 12), "", {"other.py": [(1, 50)]}, None),  # the file did not change
    ((15, 16), "", {"pkg/mod.py": [(1, 2), (18, 19)]}, ("pkg/mod.py", 15, 16)),
])
def test_placement(lines: tuple[int, int], prefix: str, changed: dict | None, where: tuple | None) -> None:
    f = finding(1, line_start=lines[0], line_end=lines[1])
    got = place(f, prefix, changed)
    assert (None if got is None else (got.path, got.start, got.end)) == where


def test_comment_shape_single_and_multi_line() -> None:
    rep = report_of([finding(1, line_start=7, line_end=7), finding(2, line_start=20, line_end=24, truth=0.7)])
    one, multi = review_payload(rep, run_dir="runs/r1")["comments"]
    assert one == {"path": "pkg/mod.py", "line": 7, "side": "RIGHT", "body": one["body"]}
    assert multi["start_line"] == 20 and multi["line"] == 24 and multi["start_side"] == "RIGHT"


def test_outside_the_diff_goes_to_the_review_body() -> None:
    rep = report_of([finding(1, line_start=100, line_end=100)])
    payload = review_payload(rep, run_dir="r", changed={"pkg/mod.py": [(1, 5)]})
    assert payload["comments"] == [] and "Outside the diff: F-001" in payload["body"]


def test_body_has_scores_rationale_fix_and_trace_and_is_inert() -> None:
    f = finding(3, title="Bad <script> @team", truth=0.83, usefulness=0.61, fix="Use `x`")
    body = comment_body(f, "rebuttal trace runs/r1 F-003")
    assert "truth **0.83**" in body and "usefulness **0.61**" in body and "contested" in body
    assert "Trace: `rebuttal trace runs/r1 F-003`" in body
    assert "<script>" not in body and "@\u200bteam" in body and "Fix: Use \\`x\\`" in body


def test_bad_threshold_and_cap() -> None:
    with pytest.raises(ConfigError, match="expected a field"):
        review_payload(report_of([]), run_dir="r", threshold="colour>=1")
    with pytest.raises(ConfigError, match="--max-comments"):
        review_payload(report_of([]), run_dir="r", max_comments=-1)


def test_report_command_writes_the_file_for_a_diff_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REBUTTAL_FORBID_REAL_MODELS", "1")
    repo = tmp_path / "repo"
    (repo / "src").mkdir(parents=True)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(repo)]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "src" / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "one"], check=True)
    (repo / "src" / "calc.py").write_text("def add(a, b):\n    return a + b\n\n\ndef div(a, b):\n    return a / b\n")
    subprocess.run([*git, "commit", "-qam", "two"], check=True)
    run_dir, rep = run_fake(tmp_path, repo / "src", diff="HEAD~1..HEAD", personas=2, k=1)
    out = tmp_path / "ci" / "comments.json"
    res = runner.invoke(app, ["report", str(run_dir), "--review-comments", str(out), "--comment-on", "truth>=0",
                              "--max-comments", "5"])
    assert res.exit_code == 0, res.output
    payload = json.loads(out.read_text())
    assert set(payload) == {"event", "body", "comments"} and rep.findings
    assert 1 <= len(payload["comments"]) <= 5
    for c in payload["comments"]:
        assert c["path"].startswith("src/") and c["side"] == "RIGHT" and 1 <= c["line"] <= 9
        assert f"rebuttal trace {run_dir} F-" in c["body"]
    bad = runner.invoke(app, ["report", str(run_dir), "--review-comments", str(out), "--comment-on", "x>1"])
    assert bad.exit_code != 0 and "--comment-on" in bad.output
