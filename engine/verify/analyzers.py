"""Maintained static analyzers (ruff, bandit) run once per run on a temporary copy of the snapshot's files.

The copy holds the text as the snapshot holds it (after secret redaction), never the user's tree. The
analyzers are subprocesses of this interpreter (`python -m ruff`, `python -m bandit`) with a timeout;
target code is never imported or executed. The result is cached as `analyzers.json` in the run directory.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from engine.artifacts import write_json
from engine.errors import ConfigError
from engine.paths import clean_path, inside
from engine.target import classify
from engine.target.classify import is_document_path
from engine.target.snapshot import TargetSnapshot

TIMEOUT_S = 120
CACHE = "analyzers.json"
# ruff: bug finders (B), security (S), pylint errors and warnings, pyflakes; minus style-only noise
RUFF_SELECT = "B,S,PLE,PLW,F"
RUFF_IGNORE = "F401,F841,S101,PLW0603,PLW2901"  # unused import/variable, assert, `global`, loop var reuse
ANALYZED = {"python"}  # languages this install has analyzers for (ruff, bandit)
Severity = Literal["low", "medium", "high", "critical"]


class Hit(BaseModel):
    """One analyzer result at a line of a target file."""

    model_config = ConfigDict(extra="forbid")
    tool: str
    rule: str
    message: str
    file: str
    line: int
    end_line: int
    severity: Severity


class AnalyzerRun(BaseModel):
    """What the analyzers found on a run's target; the `analyzers.json` cache."""

    model_config = ConfigDict(extra="forbid")
    tools: dict[str, str] = Field(default_factory=dict)  # tool -> version, for the tools that ran
    files: list[str] = Field(default_factory=list)  # files analyzed
    hits: list[Hit] = Field(default_factory=list)
    errors: list[str] = Field(default_factory=list)  # an analyzer that failed or timed out, visibly


def language_of(path: str) -> str | None:
    """The code language of a file (`python`, `javascript`, `go`, ...), None for prose, config and data."""
    return None if is_document_path(path) else classify.language_of(path)


def ruff_severity(rule: str) -> Severity:
    """ruff reports no severity: errors that break at run time are high, security and bugs medium, the rest low."""
    if rule.startswith("PLE") or rule in ("F821", "F822", "F823", "F632", "F811"):
        return "high"
    if rule.startswith(("S", "B")):
        return "medium"
    return "low"


BANDIT_SEVERITY: dict[str, Severity] = {"HIGH": "high", "MEDIUM": "medium", "LOW": "low", "UNDEFINED": "low"}


def parse_ruff(data: list[dict[str, Any]], root: Path) -> list[Hit]:
    """Hits from `ruff check --output-format json`, with paths relative to the copy's root."""
    out = []
    for r in data:
        rel = Path(r["filename"]).resolve().relative_to(root.resolve()).as_posix()
        line = int(r["location"]["row"])
        end = int((r.get("end_location") or r["location"])["row"])
        out.append(Hit(tool="ruff", rule=r["code"] or "syntax", message=r["message"], file=rel, line=line,
                       end_line=max(line, end), severity=ruff_severity(r["code"] or "PLE")))
    return out


def parse_bandit(data: dict[str, Any]) -> list[Hit]:
    """Hits from `bandit -f json` run inside the copy's root."""
    out = []
    for r in data.get("results", []):
        rel = clean_path(r["filename"])
        rng = r.get("line_range") or [r["line_number"]]
        out.append(Hit(tool="bandit", rule=r["test_id"], message=r["issue_text"], file=rel,
                       line=int(r["line_number"]), end_line=max(int(r["line_number"]), int(max(rng))),
                       severity=BANDIT_SEVERITY.get(r.get("issue_severity", "LOW"), "low")))
    return out


def _tool(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=TIMEOUT_S, check=False, stdin=subprocess.DEVNULL)


def run_ruff(root: Path) -> list[Hit]:
    """ruff's bug-finding and security rules on every Python file under root."""
    proc = _tool(["ruff", "check", "--isolated", "--no-cache", "--exit-zero", "--select", RUFF_SELECT,
                  "--ignore", RUFF_IGNORE, "--output-format", "json", "."], root)
    if proc.returncode != 0:
        raise RuntimeError(f"ruff exited {proc.returncode}: {proc.stderr.strip()[:300]}")
    return parse_ruff(json.loads(proc.stdout or "[]"), root)


def run_bandit(root: Path) -> list[Hit]:
    """bandit's security tests on every Python file under root."""
    proc = _tool(["bandit", "-q", "-f", "json", "-r", "."], root)
    if proc.returncode not in (0, 1):  # 1: issues found
        raise RuntimeError(f"bandit exited {proc.returncode}: {proc.stderr.strip()[:300]}")
    return parse_bandit(json.loads(proc.stdout))


RUNNERS: dict[str, Callable[[Path], list[Hit]]] = {"ruff": run_ruff, "bandit": run_bandit}


def analyzable(snap: TargetSnapshot) -> list[str]:
    """The snapshot's files an analyzer of this install applies to (none for a document target)."""
    if snap.is_document:
        return []
    return [f.path for f in snap.files if language_of(f.path) in ANALYZED]


def run_analyzers(snap: TargetSnapshot, tools: list[str]) -> AnalyzerRun:
    """Copy the analyzable files to a temporary folder and run each tool there; failures are recorded."""
    files = analyzable(snap)
    run = AnalyzerRun(files=files)
    if not files or not tools:
        return run
    with tempfile.TemporaryDirectory(prefix="rebuttal-analyze-") as tmp:
        root = Path(tmp)
        for path in files:
            dest = inside(root, path)
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(snap.file(path).text, encoding="utf-8")  # type: ignore[union-attr]
        for tool in tools:
            try:
                run.hits += RUNNERS[tool](root)
                run.tools[tool] = version(tool)
            except (subprocess.TimeoutExpired, RuntimeError, OSError, ValueError, KeyError) as exc:
                run.errors.append(f"{tool} did not run: {exc.__class__.__name__}: {str(exc)[:300]}")
    run.hits.sort(key=lambda h: (h.file, h.line, h.tool, h.rule))
    return run


def load_or_run(run_dir: Path, snap: TargetSnapshot, tools: list[str]) -> AnalyzerRun:
    """The cached `analyzers.json` of a run, else a fresh run of the analyzers, cached."""
    path = run_dir / CACHE
    if path.exists():
        try:
            return AnalyzerRun.model_validate_json(path.read_text(encoding="utf-8"))
        except ValidationError as exc:
            raise ConfigError(f"{path}: not an analyzer cache ({exc.errors()[0]['msg']}); delete it to rerun") from None
    run = run_analyzers(snap, tools)
    write_json(run_dir, CACHE, json.loads(run.model_dump_json()))
    return run
