"""Inputs that once crashed: a 60,000-line expression, parsed in threads; empty targets; run folders inside."""

from __future__ import annotations

import threading
from pathlib import Path

from typer.testing import CliRunner

from engine.cli import app
from engine.target import ingest
from engine.target.outline import parse_python, symbols

DEEP_PY = "x = (1\n" + "+ 1\n" * 60000 + ")\n\n\ndef f():\n    return x\n"


def invoke(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(app, list(args))
    return r.exit_code, r.stdout + r.stderr


def test_a_60000_line_expression_degrades_to_a_text_outline_with_a_reason(tmp_path: Path) -> None:
    (tmp_path / "deep.py").write_text(DEEP_PY)
    (tmp_path / "ok.py").write_text("def ok():\n    return 1\n")
    snap = ingest(tmp_path)
    assert [f.path for f in snap.files] == ["deep.py", "ok.py"]
    assert [(n.path, "nested too deeply" in n.reason) for n in snap.notes] == [("deep.py", True)]
    assert next(e for e in snap.file_map if e.path == "deep.py").symbols == ["f"]
    code, text = invoke("estimate", str(tmp_path / "deep.py"), "--model", "fake")
    assert code == 0 and "Traceback" not in text, text


def test_parsing_in_many_threads_at_once_never_raises() -> None:
    errors: list[BaseException] = []

    def work(text: str) -> None:
        try:
            for _ in range(3):
                symbols(text, "python")
        except BaseException as exc:  # noqa: BLE001 - the test collects whatever escapes
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(DEEP_PY if i % 2 else "def g():\n    pass\n",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert parse_python(DEEP_PY)[0] is None and parse_python("x = 1\n")[0] is not None


def one_error(args: list[str], message: str) -> None:
    code, text = invoke(*args)
    lines = [x for x in text.splitlines() if x.strip()]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], text
    assert "Traceback" not in text


def test_an_empty_target_is_an_error(tmp_path: Path) -> None:
    for target in ["", "   "]:
        one_error(["review", target, "--model", "fake", "--out", str(tmp_path / "runs")], "empty target")
        one_error(["estimate", target, "--model", "fake"], "empty target")
    assert not (tmp_path / "runs").exists()


def test_run_directories_and_the_output_folder_are_never_reviewed(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "main.py").write_text("def main():\n    return compute(42)\n")
    args = ["review", str(project), "--model", "fake", "--workflow", "single", "-q", "--json"]
    for out in ["runs", "elsewhere"]:  # inside the target: the output folder; then a run dir found by its look
        code, text = invoke(*args, "--out", str(project / out))
        assert code == 0, text
    code, text = invoke(*args, "--out", str(tmp_path / "outside"))
    assert code == 0, text
    snap = ingest(project)
    assert [f.path for f in snap.files] == ["main.py"]
    reasons = {s.path: s.reason for s in snap.skipped}
    assert any(p.startswith("runs/") and "run directory" in r for p, r in reasons.items()), reasons
    assert any(p.startswith("elsewhere/") and "run directory" in r for p, r in reasons.items()), reasons
    last = sorted((tmp_path / "outside").iterdir())[-1]
    assert '"main.py"' in (last / "target.json").read_text() and "calls/" not in (last / "target.json").read_text()


def test_bad_out_and_fake_latency_fail_before_anything_is_created(tmp_path: Path) -> None:
    target = tmp_path / "a.py"
    target.write_text("def a():\n    return 1\n")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    one_error(["review", str(target), "--model", "fake", "--out", str(blocker)], "is not a folder")
    one_error(["review", str(target), "--model", "fake", "--out", str(blocker / "sub")], "is not a folder")
    for bad in ["fake:-5", "fake:1e9", "fake:9999999999", "fake:abc"]:
        one_error(["review", str(target), "--model", bad, "--out", str(tmp_path / "runs")], "latency")
    assert not (tmp_path / "runs").exists()


def test_a_run_directory_committed_to_git_is_not_reviewed(tmp_path: Path) -> None:
    import subprocess

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    (tmp_path / "main.py").write_text("def main():\n    return compute(42)\n")
    run = tmp_path / "old" / "20260101-run"
    (run / "calls").mkdir(parents=True)
    (run / "run.yaml").write_text("run_id: x\n")
    (run / "ledger.jsonl").write_text("{}\n")
    (run / "calls" / "reviews--a--review.json").write_text('{"messages": "an earlier prompt"}\n')
    git("init", "-q")
    git("add", "-A")
    snap = ingest(tmp_path)
    assert [f.path for f in snap.files] == ["main.py"]
    assert any(s.path == "old/20260101-run/" and "run directory" in s.reason for s in snap.skipped), snap.skipped
