"""Classify what a reproducer did (pure): reproduced, not_reproduced, broken_check or timeout, with the reason."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

Classification = Literal["reproduced", "not_reproduced", "broken_check", "timeout"]
SIGKILL, SIGXCPU, SIGXFSZ = 9, 24, 25
IMPORT_ERRORS = {"ModuleNotFoundError", "ImportError"}
SYNTAX_ERRORS = {"SyntaxError", "IndentationError", "TabError"}
NAME_ERRORS = {"NameError", "AttributeError", "UnboundLocalError"}


@dataclass(frozen=True)
class Verdict:
    """A classification, its one-line reason, and what a repair could (not) fix."""

    classification: Classification
    reason: str
    repairable: bool = False
    dependency: str | None = None  # a package the target imports that the sandbox lacks
    limit: str | None = None  # wall / cpu / memory / file size, when a limit ended the run


def killed_by(exit_code: int | None, signal: int | None) -> int | None:
    """The signal that ended a process (wrappers such as bwrap report it as exit code 128 + signal)."""
    if signal is not None:
        return signal
    if exit_code is not None and exit_code > 128:
        return exit_code - 128
    return None


def limits_verdict(timed_out: bool, wall_s: float, exit_code: int | None, signal: int | None,
                   output: str) -> Verdict | None:
    """A verdict when a sandbox limit, not the check, ended the run."""
    if timed_out:
        return Verdict("timeout", f"stopped at the wall-clock limit ({wall_s:g} s)", limit="wall")
    sig = killed_by(exit_code, signal)
    if sig == SIGXCPU:
        return Verdict("timeout", "stopped at the CPU-time limit", limit="cpu")
    if sig == SIGXFSZ:
        return Verdict("broken_check", "stopped at the file-size limit", limit="file size")
    if "MemoryError" in output or "JavaScript heap out of memory" in output:
        return Verdict("broken_check", "stopped at the memory limit", limit="memory")
    if sig == SIGKILL:
        return Verdict("broken_check", "killed (SIGKILL) before it finished, likely the memory limit", limit="memory")
    return None


def _innermost(frames: list[str], targets: set[str]) -> str:
    """'target' / 'reproducer' / 'other' for the innermost frame of a traceback (paths relative to the copy)."""
    for path in reversed(frames):
        if path in targets:
            return "target"
        if path.startswith("_rebuttal_reproducer"):
            return "reproducer"
    return "other"


def python_verdict(record: dict[str, Any] | None, exit_code: int | None, targets: set[str]) -> Verdict:
    """Classify a Python reproducer from the runner's record (frames relative to the copy, loaded target files)."""
    if record is None:
        return Verdict("broken_check", f"exited with code {exit_code} without a result (the target or the "
                                       "reproducer ended the interpreter)", repairable=True)
    if record.get("status") == "passed":
        return Verdict("not_reproduced", "the test passed: the behaviour the finding calls wrong did not show")
    kind, message = str(record.get("type", "Exception")), str(record.get("message", ""))[:300]
    frames = [str(f) for f in record.get("frames", [])]
    where = _innermost(frames, targets)
    touched = bool(set(frames) & targets) or bool(set(record.get("loaded", [])) & targets)
    if kind == "AssertionError":
        if touched:
            return Verdict("reproduced", f"the assertion failed after running the target's code: {message or kind}")
        return Verdict("broken_check", "the assertion failed without running any of the target's code",
                       repairable=True)
    if kind in SYNTAX_ERRORS:
        owner = "a target file" if record.get("filename") in targets else "the reproducer"
        return Verdict("broken_check", f"{owner} does not parse: {message}", repairable=owner == "the reproducer")
    if kind in IMPORT_ERRORS:
        missing = record.get("missing") or message
        if where == "target":
            return Verdict("broken_check", f"the target imports {missing!s}, which the sandbox's interpreter lacks",
                           dependency=str(missing))
        return Verdict("broken_check", f"the reproducer imports {missing!s}, which is neither in the target nor "
                                       "installed", repairable=True)
    if kind == "MemoryError":
        return Verdict("broken_check", "stopped at the memory limit (MemoryError)", limit="memory")
    if kind in NAME_ERRORS and where != "target":
        return Verdict("broken_check", f"the reproducer names something that does not exist ({kind}: {message})",
                       repairable=True)
    if where == "target":
        return Verdict("broken_check", f"the target raised {kind}: {message} (a crash, not a failed assertion)",
                       repairable=True)
    return Verdict("broken_check", f"the reproducer raised {kind}: {message}", repairable=True)


MISSING_JS = re.compile(r"Cannot find module '([^']+)'")
REQUIRE_JS = re.compile(r"""(?:require\(|from\s+)\s*['"](\.{1,2}/[^'"]+)['"]""")


def javascript_verdict(exit_code: int | None, output: str, code: str, targets: set[str]) -> Verdict:
    """Classify a node reproducer from its exit code, its output and whether its code loads a target file."""
    if exit_code == 0:
        return Verdict("not_reproduced", "the script passed: the behaviour the finding calls wrong did not show")
    if "SyntaxError" in output:
        line = next((ln for ln in output.splitlines() if "SyntaxError" in ln), "SyntaxError")
        return Verdict("broken_check", f"does not parse: {line.strip()[:200]}", repairable=True)
    if m := MISSING_JS.search(output):
        name = m.group(1)
        if not name.startswith("."):
            return Verdict("broken_check", f"module {name} is not installed in the sandbox", dependency=name)
        return Verdict("broken_check", f"the reproducer loads {name}, which does not exist", repairable=True)
    loads = {re.sub(r"^\./", "", p) for p in REQUIRE_JS.findall(code)}
    touched = any(t == p or t.rsplit(".", 1)[0] == p for t in targets for p in loads)
    if "ERR_ASSERTION" in output or "AssertionError" in output:
        if touched:
            return Verdict("reproduced", "the assertion failed after loading the target's code")
        return Verdict("broken_check", "the assertion failed without loading any of the target's files",
                       repairable=True)
    line = next((ln for ln in output.splitlines() if re.search(r"\w+Error\b", ln)), f"exit code {exit_code}")
    return Verdict("broken_check", f"the reproducer failed: {line.strip()[:200]}", repairable=True)


TRACE_FRAME = re.compile(r'^\s*File "([^"]+)", line \d+', re.M)
EXC_LINE = re.compile(r"^(?:E\s+)?([A-Za-z_][\w.]*(?:Error|Exception|Exit)): ?(.*)$", re.M)


def pytest_record(exit_code: int | None, output: str, root: str) -> dict[str, Any] | None:
    """A runner-style record from pytest's native-traceback output (`--tb=native`), or None when it says nothing."""
    if exit_code == 0:
        return {"status": "passed"}
    exc = EXC_LINE.findall(output)
    if not exc:
        return None
    frames = [f[len(root) + 1:] if f.startswith(root + "/") else f for f in TRACE_FRAME.findall(output)]
    kind, message = exc[-1][0].rsplit(".", 1)[-1], exc[-1][1]
    missing = m.group(1) if (m := re.search(r"No module named '([^']+)'", output)) else None
    return {"status": "failed", "type": kind, "message": message, "frames": frames, "missing": missing,
            "loaded": []}
