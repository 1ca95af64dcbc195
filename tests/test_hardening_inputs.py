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
