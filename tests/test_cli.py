"""The CLI surface: commands, JSON output, and one clear line plus a non-zero exit for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from engine.cli import app

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_review_json_and_trace(tmp_path: Path, example: Path) -> None:
    code, out, _ = invoke("review", str(example), "--model", "fake", "--out", str(tmp_path), "--run-id", "r1",
                          "--json", "--personas", "3", "-k", "1")
    assert code == 0
    data = json.loads(out)
    assert data["run_dir"].endswith("r1") and data["complete"] and data["findings"]
    fid = data["findings"][0]["id"]
    code, out, _ = invoke("trace", data["run_dir"], fid)
    assert code == 0 and fid in out and "review:" in out and "reviews/" in out
    code, out, _ = invoke("trace", data["run_dir"], fid, "--format", "json")
    assert json.loads(out)["finding"]["id"] == fid


def test_review_prints_summary_table(tmp_path: Path, example: Path) -> None:
    code, out, err = invoke("review", str(example), "--model", "fake", "--out", str(tmp_path), "--workflow", "fusion")
    assert code == 0
    assert "Top findings" in out and "judge fake" in out and "rebuttal trace" in out
    assert "reviews" in err  # progress lines


def test_personas_and_workflows_lists() -> None:
    code, out, _ = invoke("personas")
    assert code == 0 and "security-auditor" in out
    code, out, _ = invoke("workflows")
    assert code == 0 and "debate" in out and "self-review" in out


def test_estimate(example: Path) -> None:
    code, out, _ = invoke("estimate", str(example), "--model", "fake", "--personas", "4", "-k", "2")
    assert code == 0 and "responses" in out and "total" in out


def test_estimate_total_row_sums_each_column(example: Path) -> None:
    """The total row's prompt and completion cells are the sums of the stage rows (not prompt + completion)."""
    code, out, _ = invoke("estimate", str(example), "--model", "fake", "--personas", "3", "-k", "1")
    rows = [[c.strip() for c in line.split("│")[1:-1]] for line in out.splitlines() if line.count("│") >= 6]
    stages, total = rows[:-1], rows[-1]
    assert code == 0 and total[0] == "total" and len(stages) >= 3
    for col in (1, 2, 3):
        assert int(total[col]) == sum(int(r[col]) for r in stages)


def bad_inputs(tmp_path: Path) -> list[tuple[list[str], str]]:
    empty = tmp_path / "empty.py"
    empty.write_bytes(b"")
    binary = tmp_path / "blob.bin"
    binary.write_bytes(bytes(range(256)) * 10)
    return [
        (["review", str(tmp_path / "nope.py")], "not found"),
        (["review", str(empty)], "empty"),
        (["review", str(binary)], "binary"),
        (["review", str(empty.parent / "blob.bin"), "--model", "fake", "--workflow", "nosuch"], "unknown workflow"),
        (["review", str(binary), "--model", "nosuch:x"], "unknown model provider"),
        (["review", str(binary), "--model", "fake", "--persona", "no-such-persona"], "unknown persona"),
        (["review", str(binary), "--model", "fake", "--personas", "0"], "personas"),
        (["trace", str(tmp_path), "F-001"], "report.json"),
        (["resume", str(tmp_path)], "not a run directory"),
    ]


@pytest.mark.parametrize("case", range(9))
def test_bad_input_gives_one_line_and_exit_2(tmp_path: Path, case: int) -> None:
    args, message = bad_inputs(tmp_path)[case]
    code, out, err = invoke(*args)
    assert code == 2, (out, err)
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    assert message in err.lower() or message in err, err
    assert "Traceback" not in err + out


def test_openrouter_without_key_fails_before_the_run(tmp_path: Path, example: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    code, _, err = invoke("review", str(example), "--model", "openrouter:openai/gpt-4o-mini", "--out", str(tmp_path))
    assert code == 2 and "OPENROUTER_API_KEY" in err
    assert not any(tmp_path.iterdir()), "no run directory is created when preflight fails"
