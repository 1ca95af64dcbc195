"""What the MCP server answers with, kept free of the SDK: run lookup, read-only artifacts, finding filters.

Everything a client names is confined: a run is a plain run id under the server's runs folder, and an
artifact is a relative path inside that run directory (no `..`, no absolute path, no symlink out).
"""

from __future__ import annotations

import fnmatch
import os
import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from engine import rundir
from engine.errors import ConfigError
from engine.models import Finding, Report
from engine.paths import clean_path
from engine.rundir import RunDir

RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
ARTIFACT_SUFFIXES = {".md": "text/markdown", ".json": "application/json", ".jsonl": "application/x-ndjson",
                     ".yaml": "application/yaml", ".html": "text/html", ".txt": "text/plain"}
MAX_ARTIFACT_BYTES = 5_000_000


class FindingSummary(BaseModel):
    """One finding as a tool returns it: scores, place, status and the user's triage label if any."""

    model_config = ConfigDict(extra="forbid")
    id: str
    title: str
    severity: str
    status: str
    truth: float
    usefulness: float
    file: str
    line_start: int
    line_end: int
    personas: list[str]
    fix: str
    triage: str | None = None


class RunResult(BaseModel):
    """What `review` and `resume` return: the run, whether it finished, its best findings and where to read more."""

    model_config = ConfigDict(extra="forbid")
    run_id: str
    run_dir: str
    complete: bool
    partial_reason: str | None
    findings_total: int
    top_findings: list[FindingSummary]
    report_path: str
    report_uri: str
    report_json_uri: str
    calls: int
    cost_usd: float
    trace_hint: str


def run_dir_of(runs_dir: Path, run_id: str) -> Path:
    """The run directory of a run id under the runs folder; anything else is a one-line error."""
    if not RUN_ID.match(run_id) or run_id in (".", ".."):
        raise ConfigError(f"not a run id: {run_id!r} (use the run_id a review returned)")
    run_dir = runs_dir / run_id
    if not RunDir(run_dir).is_run():
        raise ConfigError(f"no run {run_id!r} in {runs_dir}")
    return run_dir


def artifact_path(run_dir: Path, relative: str) -> Path:
    """A file inside the run directory by relative path; refuses traversal, absolute paths, symlinks out."""
    rel = relative.replace("\\", "/")
    parts = rel.split("/")
    if not rel or rel.startswith("/") or re.match(r"^[A-Za-z]:", rel) or ".." in parts or "\0" in rel:
        raise ConfigError(f"refusing artifact path {relative!r}: give a path inside the run directory")
    root = os.path.realpath(run_dir)
    path = os.path.realpath(os.path.join(root, rel))
    if not path.startswith(root.rstrip(os.sep) + os.sep):
        raise ConfigError(f"refusing artifact path {relative!r}: it leads outside the run directory")
    suffix = Path(path).suffix.lower()
    if suffix not in ARTIFACT_SUFFIXES:
        raise ConfigError(f"not a readable artifact: {relative!r} (text files only: "
                          f"{', '.join(sorted(ARTIFACT_SUFFIXES))})")
    if not os.path.isfile(path):
        raise ConfigError(f"no artifact {relative!r} in run {run_dir.name}")
    if os.path.getsize(path) > MAX_ARTIFACT_BYTES:
        raise ConfigError(f"artifact {relative!r} is larger than {MAX_ARTIFACT_BYTES} bytes")
    return Path(path)


def mime_type(path: Path) -> str:
    """The MIME type an artifact is served with."""
    return ARTIFACT_SUFFIXES.get(path.suffix.lower(), "text/plain")


def list_artifacts(run_dir: Path) -> list[str]:
    """Relative paths of the readable artifacts of a run, sorted."""
    root = os.path.realpath(run_dir)
    out = []
    for p in run_dir.rglob("*"):
        readable = p.suffix.lower() in ARTIFACT_SUFFIXES and not p.name.startswith(".") and not p.is_symlink()
        if readable and p.is_file() and os.path.realpath(p).startswith(root + os.sep):
            out.append(p.relative_to(run_dir).as_posix())
    return sorted(out)


def summarise(f: Finding, labels: dict[str, str] | None = None) -> FindingSummary:
    """A finding as a tool returns it."""
    return FindingSummary(id=f.id, title=f.title, severity=f.severity, status=f.status, truth=f.scores.truth,
                          usefulness=f.scores.usefulness, file=f.file, line_start=f.line_start, line_end=f.line_end,
                          personas=f.personas, fix=f.fix, triage=(labels or {}).get(f.id))


def matches_file(path: str, pattern: str) -> bool:
    """A glob (`src/*.py`), a folder prefix (`src/`) or an exact path."""
    path, pattern = clean_path(path), clean_path(pattern)
    if any(c in pattern for c in "*?["):
        return fnmatch.fnmatchcase(path, pattern)
    return path == pattern or path.startswith(pattern.rstrip("/") + "/")


def filter_findings(report: Report, *, min_truth: float = 0.0, min_usefulness: float = 0.0,
                    status: list[str] | None = None, file: str | None = None,
                    labels: dict[str, str] | None = None, triage: str | None = None,
                    limit: int = 50) -> list[FindingSummary]:
    """The findings that pass every filter given, in report order (best first), at most `limit`."""
    for name, value in (("min_truth", min_truth), ("min_usefulness", min_usefulness)):
        if not 0 <= value <= 1:
            raise ConfigError(f"{name} takes a number from 0 to 1, got {value}")
    if limit < 1:
        raise ConfigError(f"limit must be at least 1, got {limit}")
    wanted = {s.lower() for s in status or []}
    if bad := wanted - {"consensus", "contested", "unique", "refuted"}:
        raise ConfigError(f"unknown status {sorted(bad)} (consensus, contested, unique, refuted)")
    if triage not in (None, "accept", "dismiss", "none"):
        raise ConfigError(f"triage filter takes accept, dismiss or none, got {triage!r}")
    labels = labels or {}
    out = []
    for f in report.reported:  # set-aside claims stay out of an agent's list (trace still reaches them)
        if f.scores.truth < min_truth or f.scores.usefulness < min_usefulness:
            continue
        if wanted and f.status not in wanted:
            continue
        if file and not matches_file(f.file, file):
            continue
        if triage and labels.get(f.id, "none") != triage:
            continue
        out.append(summarise(f, labels))
    return out[:limit]


def run_result(run_dir: Path, report: Report, top: int = 5) -> RunResult:
    """The answer of `review` / `resume` for a finished (or stopped) run."""
    uri = f"rebuttal://runs/{run_dir.name}"
    tot = report.total
    return RunResult(
        run_id=run_dir.name, run_dir=str(run_dir), complete=report.complete, partial_reason=report.partial_reason,
        findings_total=len(report.reported), top_findings=[summarise(f) for f in report.reported[:top]],
        report_path=str(RunDir(run_dir).report_md), report_uri=f"{uri}/{rundir.REPORT_MD}",
        report_json_uri=f"{uri}/{rundir.REPORT_JSON}", calls=tot.calls if tot else 0,
        cost_usd=tot.cost_usd if tot else 0.0,
        trace_hint="call the trace tool with this run_id and a finding id (F-001) for the debate behind it",
    )
