"""--execute travels through the CLI, profiles, batch entries and the server; without it nothing of the target runs."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from engine import api
from engine.batch import BatchItem
from engine.cli import app
from engine.config import load_workflow
from engine.graph import build_graph
from engine.options import run_options
from engine.profiles import Profile, save_profile
from engine.serve.openai_api import parse_request
from engine.verify import reproduce as rep
from engine.verify import sandbox

cli = CliRunner()
ISOLATED = sandbox.probe() != "none"


def hostile_target(tmp_path: Path) -> tuple[Path, Path]:
    """A package whose import (or evaluation) writes a canary file; (target folder, canary path)."""
    canary = tmp_path / "canary.txt"
    src = tmp_path / "target"
    src.mkdir()
    (src / "evil.py").write_text(
        f"open({str(canary)!r}, 'w').write('imported')\n\n"
        "def add(a, b):\n    return a - b  # expect: add(2, 3) == 5\n\n"
        "def scale(values, factor):\n"
        "    return [v * factor for v in values[:-1]]  # expect: scale([1, 2], 2) == [2, 4]\n",
        encoding="utf-8")
    (src / "conftest.py").write_text(f"open({str(canary)!r}, 'w').write('conftest')\n", encoding="utf-8")
    (src / "setup.py").write_text(f"open({str(canary)!r}, 'w').write('setup')\n", encoding="utf-8")
    return src, canary


def test_off_means_off_a_full_review_never_runs_target_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src, canary = hostile_target(tmp_path)

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("target or model code was run without --execute")

    monkeypatch.setattr(sandbox, "run", forbidden)
    monkeypatch.setattr(rep, "reproduce", forbidden)
    monkeypatch.setattr(rep, "attach", forbidden)
    result = cli.invoke(app, ["review", str(src), "--model", "fake", "--out", str(tmp_path / "runs"),
                              "--run-id", "off", "--json"])
    assert result.exit_code == 0, result.output
    assert not canary.exists()
    run_yaml = yaml.safe_load((tmp_path / "runs/off/run.yaml").read_text())
    assert run_yaml["settings"]["execute"] is False
    assert not list((tmp_path / "runs/off").glob("verifications/*-reproducer.*"))


def test_execute_without_a_sandbox_is_refused_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox, "probe", lambda: "none")
    (tmp_path / "a.py").write_text("x = 1\n")
    result = cli.invoke(app, ["review", str(tmp_path / "a.py"), "--model", "fake", "--execute",
                              "--out", str(tmp_path / "runs")])
    assert result.exit_code != 0
    assert "--execute-unsafe-no-sandbox" in result.output and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists()
    result = cli.invoke(app, ["review", str(tmp_path / "a.py"), "--model", "fake", "--execute-unsafe-no-sandbox",
                              "--personas", "1", "-k", "0", "--out", str(tmp_path / "runs"), "--run-id", "u", "--json"])
    assert result.exit_code == 0, result.output
    settings = yaml.safe_load((tmp_path / "runs/u/run.yaml").read_text())["settings"]
    assert settings["execute"] is True and settings["execute_unsafe"] is True


@pytest.mark.skipif(not ISOLATED, reason="no sandbox works here (.ci/run installs bubblewrap)")
def test_execute_flag_is_saved_in_run_yaml(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("x = 1\n")
    result = cli.invoke(app, ["review", str(tmp_path / "a.py"), "--model", "fake", "--execute", "--personas", "1",
                              "-k", "0", "--out", str(tmp_path / "runs"), "--run-id", "on", "--json"])
    assert result.exit_code == 0, result.output
    settings = yaml.safe_load((tmp_path / "runs/on/run.yaml").read_text())["settings"]
    assert settings["execute"] is True and settings["execute_unsafe"] is False


def test_execute_in_profiles_batch_server_and_workflows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REBUTTAL_HOME", str(tmp_path / "home"))
    save_profile("runs-code", Profile(model="fake", execute=True))
    assert api.merge(run_options(BatchItem(target="x", profile="runs-code"))).execute is True
    assert api.merge(run_options(BatchItem(target="x", execute=False, profile="runs-code"))).execute is False
    req = parse_request({"model": "rebuttal/debate", "messages": [{"role": "user", "content": "x"}],
                         "rebuttal": {"execute": True}})
    assert req.rebuttal.execute is True
    with pytest.raises(Exception, match="execute_unsafe"):
        parse_request({"model": "rebuttal/debate", "messages": [{"role": "user", "content": "x"}],
                       "rebuttal": {"execute_unsafe": True}})
    wf = tmp_path / "wf.yaml"
    wf.write_text(yaml.safe_dump({"name": "exec", "description": "d", "stages": ["personas", "reviews", "compile"],
                                  "defaults": {"execute": True}}))
    assert load_workflow(str(wf)).defaults.execute is True
    assert api.build_settings("x.py", workflow=str(wf), model="fake").execute is True
    assert api.build_settings("x.py", workflow=str(wf), model="fake", execute=False).execute is False
    assert api.build_settings("x.py", model="fake").execute is False


def test_every_shipped_workflow_verifies() -> None:
    assert any("verify" in name for name in build_graph(load_workflow("debate")).nodes)


@pytest.mark.skipif(not ISOLATED, reason="no sandbox works here (.ci/run installs bubblewrap)")
def test_e2e_execute_review_contains_a_hostile_target(tmp_path: Path) -> None:
    src, canary = hostile_target(tmp_path)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        listener.settimeout(0.2)
        port = listener.getsockname()[1]
        (src / "net.py").write_text(f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=1)\n"
                                    "def f():\n    return 1  # expect: f() == 2\n", encoding="utf-8")
        result = cli.invoke(app, ["review", str(src), "--model", "fake", "--execute", "--out", str(tmp_path / "runs"),
                                  "--run-id", "exec", "--json"])
        with pytest.raises(TimeoutError):
            listener.accept()
    assert result.exit_code == 0, result.output
    assert not canary.exists()
    run_dir = tmp_path / "runs/exec"
    records = [json.loads(p.read_text()) for p in run_dir.glob("verifications/*-reproducer.json")]
    assert records and all(r["checks"][0]["kind"] == "reproducer" for r in records)
    assert {r["checks"][0]["data"]["classification"] for r in records} <= {"reproduced", "not_reproduced",
                                                                          "broken_check", "timeout"}


@pytest.mark.skipif(not ISOLATED, reason="no sandbox works here (.ci/run installs bubblewrap)")
def test_the_panel_sees_a_responders_reproducer_and_opinion_cannot_refute_it(tmp_path: Path) -> None:
    src = tmp_path / "target"
    src.mkdir()
    (src / "calc.py").write_text("def add(a, b):\n    return a - b  # expect: add(2, 3) == 5\n", encoding="utf-8")
    result = cli.invoke(app, ["review", str(src), "--model", "fake", "--execute", "--personas", "3", "-k", "2",
                              "--out", str(tmp_path / "runs"), "--run-id", "panel", "--json"])
    assert result.exit_code == 0, result.output
    run_dir = tmp_path / "runs/panel"
    attached = [json.loads(p.read_text())["checks"][0] for p in run_dir.glob("verifications/S-*-reproducer.json")]
    assert attached and {c["data"]["classification"] for c in attached} == {"reproduced"}
    assert all((run_dir / c["data"]["path"]).exists() for c in attached)
    # the review's author saw the outcome in the rebuttal prompt
    prompts = "\n".join(p.read_text() for p in run_dir.glob("calls/**/*") if p.is_file() and "rebuttal" in p.name)
    assert "their reproducer, run by the engine: reproduced" in prompts
    report = json.loads((run_dir / "report.json").read_text())
    at_line_2 = [f for f in report["findings"] if f["file"] == "calc.py" and f["line_start"] == 2]
    assert at_line_2
    for f in at_line_2:
        sources = [c["data"].get("source", "") for c in f["checks"] if c["kind"] == "reproducer"]
        assert any(s.startswith("S-") for s in sources), f["checks"]
        assert f["status"] != "refuted" and f["scores"]["truth"] >= 0.5
