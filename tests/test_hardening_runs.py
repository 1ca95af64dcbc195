"""Run directories: creation, damage and workflow edits never end in a traceback or a silent switch."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from engine import api, runner
from engine.cli import app
from engine.rundir import RunDir
from tests.conftest import EXAMPLE, run_fake

WF = "name: mine\ndescription: d\nstages:\n  - stage: personas\n    mode: repeat\n  - reviews\n  - compile\n"


def invoke(*args: str, cwd: Path | None = None) -> tuple[int, str]:
    r = CliRunner().invoke(app, list(args))
    return r.exit_code, r.stdout + r.stderr


def one_error(code: int, text: str, message: str) -> None:
    lines = [x for x in text.splitlines() if x.strip()]
    assert code == 2, text
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], text
    assert "Traceback" not in text


def test_a_signal_during_creation_leaves_no_run_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(RunDir, "save_info", interrupted)
    settings = api.build_settings(str(EXAMPLE), model="fake", run_id="x")
    with pytest.raises(KeyboardInterrupt):
        api.prepare(settings, tmp_path / "runs", check_providers=False)
    assert not (tmp_path / "runs" / "x").exists()


def test_an_empty_run_directory_is_reused_and_resume_explains(tmp_path: Path) -> None:
    (tmp_path / "runs" / "x").mkdir(parents=True)  # what a kill between mkdir and run.yaml leaves
    code, text = invoke("resume", str(tmp_path / "runs" / "x"))
    one_error(code, text, "interrupted before it started")
    run_dir, report = run_fake(tmp_path, run_id="x", workflow="single")
    assert report.complete and (run_dir / "run.yaml").exists()


@pytest.mark.parametrize("damage", ["no-target", "truncated-run-yaml", "corrupt-target", "not-yaml", "empty"])
def test_resume_of_a_damaged_run_is_one_error_line(tmp_path: Path, damage: str) -> None:
    run_dir, _ = run_fake(tmp_path, workflow="single")
    (run_dir / "checkpoint.sqlite").unlink()
    if damage == "no-target":
        (run_dir / "target.json").unlink()
    elif damage == "truncated-run-yaml":
        text = (run_dir / "run.yaml").read_text()
        (run_dir / "run.yaml").write_text(text[: len(text) // 3])
    elif damage == "corrupt-target":
        (run_dir / "target.json").write_text('{"kind": "file", "files": [')
    elif damage == "not-yaml":
        (run_dir / "run.yaml").write_text("- [unclosed\n")
    else:
        (run_dir / "run.yaml").write_text("")
    code, text = invoke("resume", str(run_dir))
    one_error(code, text, "cannot resume")


def test_resume_uses_the_workflow_as_it_was_at_the_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wf = tmp_path / "wf" / "mine.yaml"
    wf.parent.mkdir()
    wf.write_text(WF)
    monkeypatch.chdir(tmp_path / "wf")
    settings = api.build_settings(str(EXAMPLE), model="fake", run_id="r", workflow="mine.yaml")
    prep = api.prepare(settings, tmp_path / "runs", check_providers=False)
    assert (prep.run_dir / "workflow.yaml").exists()
    wf.write_text(WF.replace("  - reviews\n", "  - reviews\n  - responses\n  - rebuttals\n  - findings\n"))
    monkeypatch.chdir(tmp_path)  # another directory: the relative path no longer resolves
    _, workflow, _, _ = runner.load_run(prep.run_dir)
    assert [s.stage for s in workflow.stages] == ["personas", "reviews", "compile"]
    code, text = invoke("resume", str(prep.run_dir), "--json")
    assert code == 0, text
    assert json.loads(text[text.index("{") :])["complete"] is True
    shutil.rmtree(tmp_path / "wf")
    assert runner.load_run(prep.run_dir)[1].name == "mine"


def test_deeply_nested_workflow_yaml_is_one_error_line(tmp_path: Path) -> None:
    wf = tmp_path / "deep.yaml"
    wf.write_text("name: deep\ndescription: x\nstages: " + "[" * 5000 + "]" * 5000 + "\n")
    code, text = invoke(
        "review", str(EXAMPLE), "--model", "fake", "--workflow", str(wf), "--out", str(tmp_path / "runs")
    )
    one_error(code, text, "invalid YAML")
    block = "".join("  " * i + "a:\n" for i in range(5000))
    wf.write_text("name: deep\ndescription: x\nstages:\n" + block)
    one_error(*invoke("review", str(EXAMPLE), "--model", "fake", "--workflow", str(wf)), "invalid YAML")
    assert not (tmp_path / "runs").exists()
