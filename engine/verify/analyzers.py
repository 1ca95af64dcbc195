"""Maintained static analyzers run once per run on a temporary copy of the snapshot's files: ruff and bandit on
Python, oxlint (the oxc project's linter, an ESLint-compatible rule set in one binary from PyPI) on JavaScript
and TypeScript.

The copy holds the text as the snapshot holds it (after secret redaction), never the user's tree. The
analyzers are subprocesses with a timeout (`python -m ruff`, `python -m bandit`, the `oxlint` binary installed
beside this interpreter); target code is never imported or executed. The result is cached as `analyzers.json`
in the run directory.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
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
# ruff: bug finders (B), security (S), pylint errors and warnings, pyflakes, a file opened without a context
# manager (SIM115: leaked on an error; on the tuning corpus its 2 hits both sit on a labelled leak); minus
# style-only noise
RUFF_SELECT = "B,S,PLE,PLW,F,SIM115"
RUFF_IGNORE = "F401,F841,S101,PLW0603,PLW2901"  # unused import/variable, assert, `global`, loop var reuse
# oxlint: its `correctness` category only ("code that is outright wrong or useless": NaN compared with ===, a loop
# counting the wrong way, duplicate keys, an invalid typeof); 0 hits on the 13 JavaScript cases of the tuning corpus,
# clean files included, where `suspicious` and `pedantic` flagged sound code. Unused variables are left out as
# ruff's F841 is.
OXLINT_ARGS = ("-A", "all", "-D", "correctness", "-A", "no-unused-vars", "--disable-nested-config", "--format", "json")
TOOL_LANGUAGES: dict[str, frozenset[str]] = {  # the languages each analyzer covers
    "ruff": frozenset({"python"}), "bandit": frozenset({"python"}), "oxlint": frozenset({"javascript", "typescript"}),
}
COVERAGE = "ruff and bandit cover Python, oxlint JavaScript and TypeScript"
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


# ruff's flake8-bandit rules whose bandit test bandit itself rates LOW (an assert, a hard-coded string that looks
# like a password, an exception passed over, a pseudo-random generator, importing or calling subprocess without a
# shell): one test keeps one severity whichever tool reports it. Low hits support a finding that makes their claim
# but are not raised on their own (three S311 hits on backoff jitter were the tuning corpus's false analyzer
# findings).
BANDIT_LOW = frozenset({"S101", "S105", "S106", "S107", "S110", "S112", "S311", "S404", "S603", "S607"})


def ruff_severity(rule: str) -> Severity:
    """ruff reports no severity: errors that break at run time are high, security and bugs medium (but those
    bandit rates low), the rest low."""
    if rule.startswith("PLE") or rule in ("F821", "F822", "F823", "F632", "F811"):
        return "high"
    if rule in BANDIT_LOW:
        return "low"
    if re.fullmatch(r"[SB]\d+", rule) or rule == "SIM115":
        return "medium"
    return "low"


def rule_severity(tool: str | None, rule: str) -> Severity:
    """A hit's severity from its tool and rule id alone, as parse_ruff / parse_bandit / parse_oxlint give it (a
    stored finding keeps no more): ruff's by ruff_severity; a bandit test by its ruff twin's (bandit's B301 is
    ruff's S301, and BANDIT_LOW lists the tests bandit rates low); oxlint's medium (high: a file that does not
    parse). Without the tool: a B1xx-B7xx rule is bandit's (bugbear's own B rules are B0xx and B9xx), another
    letters-and-digits id ruff's, the rest oxlint's (`use-isnan`)."""
    if tool is None:
        tool = ("bandit" if re.fullmatch(r"B[1-7]\d\d", rule) else
                "ruff" if re.fullmatch(r"[A-Z]+\d+", rule) else "oxlint")
    if tool == "bandit":
        return ruff_severity(f"S{rule[1:]}") if re.fullmatch(r"B\d{3}", rule) else "low"
    if tool == "ruff":
        return ruff_severity(rule)
    return "high" if rule == "syntax" else "medium"


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
    return _run([sys.executable, "-m", *args], cwd)


def _run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT_S, check=False,
                          stdin=subprocess.DEVNULL)


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


def oxlint_binary() -> str:
    """The `oxlint` pip installed for this interpreter (its scripts folder: a venv's bin/ or Scripts/, or the user
    scheme's), else one on PATH."""
    folders = [sysconfig.get_path("scripts"), sysconfig.get_path("scripts", f"{os.name}_user"),
               str(Path(sys.executable).parent)]
    for folder in dict.fromkeys(f for f in folders if f):
        for name in ("oxlint", "oxlint.exe"):
            if (Path(folder) / name).is_file():
                return str(Path(folder) / name)
    found = shutil.which("oxlint")
    if found is None:
        raise RuntimeError("the oxlint binary is not installed (pip install oxlint)")
    return found


def tool_version(tool: str) -> str:
    """The installed package's version, else what the binary says (an oxlint on PATH that pip did not install)."""
    try:
        return version(tool)
    except PackageNotFoundError:
        if tool != "oxlint":
            raise
        said = re.search(r"\d+\.\d+\.\d+", _run([oxlint_binary(), "--version"], Path.cwd()).stdout)
        return said.group(0) if said else "unknown"


def parse_oxlint(data: dict[str, Any]) -> list[Hit]:
    """Hits from `oxlint --format json` run inside the copy's root; a rule is named as ESLint names it
    (`use-isnan`, `unicorn/no-invalid-remove-event-listener`)."""
    out = []
    for d in data.get("diagnostics", []):
        plugin, _, name = str(d.get("code") or "").partition("(")
        if plugin == "TS" or not name:  # a parser's error (TypeScript's carry a TS code), not a rule
            plugin = name = ""
        rule = name.rstrip(")") if plugin == "eslint" else f"{plugin}/{name.rstrip(')')}" if name else plugin
        lines = [int(label["span"]["line"]) for label in d.get("labels") or [] if label.get("span", {}).get("line")]
        line = min(lines) if lines else 1
        out.append(Hit(tool="oxlint", rule=rule or "syntax", message=str(d.get("message", "")),
                       file=clean_path(str(d["filename"])), line=line, end_line=max(lines) if lines else line,
                       severity=rule_severity("oxlint", rule or "syntax")))
    return out


def run_oxlint(root: Path) -> list[Hit]:
    """oxlint's correctness rules on every JavaScript and TypeScript file under root."""
    proc = _run([oxlint_binary(), *OXLINT_ARGS, "."], root)
    if proc.returncode not in (0, 1):  # 1: errors found
        raise RuntimeError(f"oxlint exited {proc.returncode}: {proc.stderr.strip()[:300]}")
    start = proc.stdout.find("{")  # it may print a line before the JSON
    if start < 0:
        raise RuntimeError(f"oxlint printed no JSON: {(proc.stdout + proc.stderr).strip()[:300]}")
    return parse_oxlint(json.loads(proc.stdout[start:]))


RUNNERS: dict[str, Callable[[Path], list[Hit]]] = {"ruff": run_ruff, "bandit": run_bandit, "oxlint": run_oxlint}


def covered(path: str, tools: list[str] | None = None) -> bool:
    """Whether one of `tools` (default: every analyzer of this install) covers the file's language (a minified
    .min.js is no code to review: oxlint skips it too)."""
    lang = language_of(path)
    if lang is None or path.endswith(".min.js"):
        return False
    return any(lang in TOOL_LANGUAGES.get(t, frozenset()) for t in (tools if tools is not None else TOOL_LANGUAGES))


def analyzable(snap: TargetSnapshot, tools: list[str] | None = None) -> list[str]:
    """The snapshot's files one of `tools` (default: any analyzer of this install) applies to (none for a
    document target)."""
    if snap.is_document:
        return []
    return [f.path for f in snap.files if covered(f.path, tools)]


def run_analyzers(snap: TargetSnapshot, tools: list[str]) -> AnalyzerRun:
    """Copy the analyzable files to a temporary folder and run each tool there; failures are recorded."""
    files = analyzable(snap, tools)
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
            if not any(covered(path, [tool]) for path in files):
                continue  # nothing here in its language: it did not run
            try:
                run.hits += RUNNERS[tool](root)
                run.tools[tool] = tool_version(tool)
            except (subprocess.TimeoutExpired, RuntimeError, OSError, ValueError, KeyError, ImportError) as exc:
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
