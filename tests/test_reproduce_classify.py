"""The classification of a reproducer's run (pure, table-driven, no sandbox)."""

from __future__ import annotations

from typing import Any

import pytest

from engine.verify import classify
from engine.verify.checks import Subject
from engine.verify.reproduce import command, module_name, split_record, stem

T = {"calc.py", "pkg/mod.py"}


def rec(kind: str | None = None, frames: tuple[str, ...] = (), loaded: tuple[str, ...] = (), **extra: Any) -> dict:
    if kind is None:
        return {"status": "passed", "loaded": list(loaded)}
    return {"status": "failed", "type": kind, "message": "m", "frames": list(frames), "loaded": list(loaded), **extra}


REPRO = "_rebuttal_reproducer.py"


@pytest.mark.parametrize(("record", "exit_code", "expected", "repairable"), [
    (rec(), 0, "not_reproduced", False),
    (rec("AssertionError", (REPRO,), ("calc.py",)), 1, "reproduced", False),
    (rec("AssertionError", (REPRO, "calc.py")), 1, "reproduced", False),
    (rec("AssertionError", (REPRO,)), 1, "broken_check", True),  # no target code ran
    (rec("SyntaxError", (), filename=REPRO), 1, "broken_check", True),
    (rec("SyntaxError", (), filename="calc.py"), 1, "broken_check", False),
    (rec("ModuleNotFoundError", (REPRO, "calc.py"), missing="requests"), 1, "broken_check", False),
    (rec("ModuleNotFoundError", (REPRO,), missing="nosuch"), 1, "broken_check", True),
    (rec("NameError", (REPRO,), ("calc.py",)), 1, "broken_check", True),
    (rec("AttributeError", (REPRO,), ("calc.py",)), 1, "broken_check", True),
    (rec("ZeroDivisionError", (REPRO, "calc.py")), 1, "broken_check", True),
    (rec("MemoryError", (REPRO, "calc.py")), 1, "broken_check", False),
    (None, 0, "broken_check", True),
])
def test_python_verdicts(record: dict | None, exit_code: int, expected: str, repairable: bool) -> None:
    v = classify.python_verdict(record, exit_code, T)
    assert (v.classification, v.repairable) == (expected, repairable)


def test_a_missing_package_the_target_imports_is_named() -> None:
    v = classify.python_verdict(rec("ModuleNotFoundError", (REPRO, "pkg/mod.py"), missing="yaml"), 1, T)
    assert v.dependency == "yaml" and "the target imports yaml" in v.reason


@pytest.mark.parametrize(("timed_out", "exit_code", "signal", "output", "expected", "limit"), [
    (True, None, 9, "", "timeout", "wall"),
    (False, None, 24, "", "timeout", "cpu"),
    (False, 152, None, "", "timeout", "cpu"),  # bwrap reports a child killed by SIGXCPU as 128 + 24
    (False, 153, None, "", "broken_check", "file size"),
    (False, 1, None, "Traceback ...\nMemoryError", "broken_check", "memory"),
    (False, None, 9, "", "broken_check", "memory"),
    (False, 1, None, "AssertionError", None, None),
    (False, 0, None, "", None, None),
])
def test_limit_verdicts(timed_out: bool, exit_code: int | None, signal: int | None, output: str,
                        expected: str | None, limit: str | None) -> None:
    v = classify.limits_verdict(timed_out, 5, exit_code, signal, output)
    assert (v.classification if v else None, v.limit if v else None) == (expected, limit)


JS_LOADS = "const t = require('./add.js');\n"


@pytest.mark.parametrize(("exit_code", "output", "code", "expected"), [
    (0, "", JS_LOADS, "not_reproduced"),
    (1, "AssertionError [ERR_ASSERTION]: false == true", JS_LOADS, "reproduced"),
    (1, "AssertionError [ERR_ASSERTION]: false == true", "const t = require('./add');\n", "reproduced"),
    (1, "AssertionError [ERR_ASSERTION]: false == true", "assert.ok(false)\n", "broken_check"),
    (1, "SyntaxError: Unexpected token", JS_LOADS, "broken_check"),
    (1, "Error: Cannot find module 'lodash'", JS_LOADS, "broken_check"),
    (1, "ReferenceError: nope is not defined", JS_LOADS, "broken_check"),
])
def test_javascript_verdicts(exit_code: int, output: str, code: str, expected: str) -> None:
    assert classify.javascript_verdict(exit_code, output, code, {"add.js"}).classification == expected


def test_pytest_output_becomes_a_record() -> None:
    out = ('Traceback (most recent call last):\n  File "/tmp/x/_rebuttal_reproducer.py", line 4, in test_a\n'
           '  File "/tmp/x/calc.py", line 2, in add\nAssertionError: bad\n1 failed')
    record = classify.pytest_record(1, out, "/tmp/x")
    assert record is not None and record["frames"] == [REPRO, "calc.py"] and record["type"] == "AssertionError"
    assert classify.python_verdict(record, 1, T).classification == "reproduced"
    assert classify.pytest_record(0, "1 passed", "/tmp/x") == {"status": "passed"}


@pytest.mark.parametrize(("path", "module"), [
    ("calc.py", "calc"), ("pkg/mod.py", "pkg.mod"), ("pkg/__init__.py", "pkg"), ("src/pkg/mod.py", "pkg.mod"),
])
def test_module_names(path: str, module: str) -> None:
    assert module_name(path) == module


def test_record_split_and_commands() -> None:
    record, rest = split_record('hello\nMARK {"status": "passed"}\nbye', "MARK ")
    assert record == {"status": "passed"} and rest == "hello\nbye"
    assert command("python", "python", "/usr/bin/python3", "MARK ", 64)[:3] == ["/usr/bin/python3", "-I",
                                                                                "_rebuttal_runner.py"]
    assert "--tb=native" in command("python", "pytest", "/usr/bin/python3", "MARK ", 64)
    assert command("javascript", "python", "/usr/bin/node", "MARK ", 64)[1] == "--max-old-space-size=64"


@pytest.mark.parametrize(("sid", "expected"), [
    ("F-001", "verifications/F-001-reproducer"), ("R-maintainer#2", "verifications/R-maintainer-2-reproducer"),
    ("../../etc/x", "verifications/-..-etc-x-reproducer"),
])
def test_artifact_names_stay_in_verifications(sid: str, expected: str) -> None:
    subj = Subject(id=sid, title="t", file="a.py", line_start=1, line_end=1)
    assert stem(subj) == expected
