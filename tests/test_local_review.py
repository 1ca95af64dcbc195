"""A real review on the embedded local model (slow: a few minutes on 2 cores)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.llm.ledger import read_ledger
from tests.conftest import run_fake

TINY = '''import subprocess


def run(user_command):
    """Run a command typed by the user."""
    return subprocess.run(user_command, shell=True, capture_output=True).stdout


def average(values):
    return sum(values) / len(values)
'''


@pytest.mark.local_model
def test_real_debate_on_the_default_local_model(tmp_path: Path) -> None:
    target = tmp_path / "tool.py"
    target.write_text(TINY, encoding="utf-8")
    run_dir, report = run_fake(tmp_path, target, model="local", workflow="debate",
                               persona=["security-auditor", "maintainer"], k=1)
    assert report.complete and report.judge == "local"
    lines = read_ledger(run_dir / "ledger.jsonl")
    assert {"reviews", "compile"} <= {line.stage for line in lines} or not report.findings
    assert all(line.outcome in ("ok", "parse_error") for line in lines)
    assert all(not line.tokens_estimated and line.prompt_tokens > 0 for line in lines), "tokens come from the server"
    for slug in ("security-auditor", "maintainer"):
        text = (run_dir / "reviews" / f"{slug}-review.md").read_text(encoding="utf-8")
        assert "## Abstract" in text and "## Issues" in text
    data = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    for f in data["findings"]:
        assert 0 <= f["scores"]["truth"] <= 1 and 0 <= f["scores"]["usefulness"] <= 1
        assert f["scores"]["truth_rationale"] and f["scores"]["usefulness_rationale"]
    assert (run_dir / "report.html").exists()
