"""Run history: list the runs in a folder, and diff the findings of two runs of the same target."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import ConfigError
from engine.llm.ledger import total
from engine.models import Finding, Report
from engine.paths import clean_path
from engine.rundir import RunDir

MATCH_THRESHOLD = 0.55
SCORE_EPSILON = 0.05
NEAR_LINES = 30


@dataclass
class RunSummary:
    """One line of `rebuttal runs`."""

    run_id: str
    path: Path
    target: str
    target_path: str
    workflow: str
    models: list[str]
    judge: str
    findings: int | None
    cost_usd: float
    created: str
    state: str  # complete | partial | unfinished

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {**self.__dict__, "path": str(self.path)}


def summarise_run(run_dir: Path) -> RunSummary:
    """What `rebuttal runs` shows for one run directory (an unfinished run has no report.json yet)."""
    run = RunDir(run_dir)
    info = run.info()
    if not info:
        raise ConfigError(f"not a run directory (no run.yaml): {run_dir}")
    settings = info.get("settings") or {}
    target = (info.get("target") or {}).get("path") or settings.get("target", "")
    if run.report_json.exists():
        report = run.report()
        return RunSummary(report.run_id, run_dir, report.target, target, report.workflow, report.models, report.judge,
                          len(report.reported), report.total.cost_usd if report.total else 0.0,
                          str(info.get("created", "")), "complete" if report.complete else "partial")
    models = sorted({settings.get("model") or "", *(settings.get("panel") or [])} - {""})
    spent = total(run.ledger_lines())
    return RunSummary(str(info.get("run_id", run_dir.name)), run_dir, Path(target).name or target, target,
                      str(info.get("workflow", "")), models,
                      str(info.get("judge", "")), None, spent.cost_usd if spent else 0.0,
                      str(info.get("created", "")), "unfinished")


def list_runs(runs_dir: Path) -> list[RunSummary]:
    """Every run directory under `runs_dir` (those with a run.yaml), newest first."""
    if not runs_dir.is_dir():
        raise ConfigError(f"no runs folder at {runs_dir} (runs go to ./runs by default; pass the --out folder)")
    runs = [summarise_run(d) for d in sorted(runs_dir.iterdir()) if RunDir(d).is_run()]
    return sorted(runs, key=lambda r: (r.created, r.run_id), reverse=True)


@dataclass
class Change:
    """A finding present in both runs: where it was, where it is, and what moved."""

    before: Finding
    after: Finding
    similarity: float
    changes: list[str] = field(default_factory=list)


@dataclass
class RunDiff:
    """Findings that appeared, disappeared, changed or stayed between run A and run B."""

    a: Report
    b: Report
    appeared: list[Finding]
    disappeared: list[Finding]
    changed: list[Change]
    unchanged: list[Change]
    warning: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (finding ids, titles and the changes)."""
        def brief(f: Finding) -> dict[str, Any]:
            return {"id": f.id, "title": f.title, "severity": f.severity, "status": f.status,
                    "location": f"{f.file}:{f.line_start}", "truth": f.scores.truth,
                    "usefulness": f.scores.usefulness}
        return {"a": self.a.run_id, "b": self.b.run_id, "warning": self.warning,
                "appeared": [brief(f) for f in self.appeared], "disappeared": [brief(f) for f in self.disappeared],
                "changed": [{"before": brief(c.before), "after": brief(c.after), "changes": c.changes}
                            for c in self.changed],
                "unchanged": [{"before": c.before.id, "after": c.after.id} for c in self.unchanged]}


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def similarity(a: Finding, b: Finding) -> float:
    """How likely two findings (from two runs) are the same one: same file, then evidence, title and lines."""
    if clean_path(a.file) != clean_path(b.file):
        return 0.0
    ev = difflib.SequenceMatcher(None, _norm(a.evidence), _norm(b.evidence)).ratio()
    title = difflib.SequenceMatcher(None, _norm(a.title), _norm(b.title)).ratio()
    gap = max(0, max(a.line_start, b.line_start) - min(a.line_end, b.line_end))
    near = max(0.0, 1 - gap / NEAR_LINES)
    return round(0.55 * ev + 0.25 * title + 0.2 * near, 4)


def changes(a: Finding, b: Finding) -> list[str]:
    """Human-readable differences that count as a change (scores by ≥ 0.05, severity, status)."""
    out = []
    for name in ("truth", "usefulness"):
        x, y = getattr(a.scores, name), getattr(b.scores, name)
        if abs(x - y) >= SCORE_EPSILON - 1e-9:
            out.append(f"{name} {x:.2f} → {y:.2f}")
    if a.severity != b.severity:
        out.append(f"severity {a.severity} → {b.severity}")
    if a.status != b.status:
        out.append(f"status {a.status} → {b.status}")
    return out


def diff_findings(before: list[Finding], after: list[Finding]) -> tuple[list[Finding], list[Finding], list[Change]]:
    """Match findings one-to-one, best pairs first; returns (appeared, disappeared, matched pairs)."""
    pairs = sorted(((similarity(a, b), i, j) for i, a in enumerate(before) for j, b in enumerate(after)),
                   key=lambda t: (-t[0], t[1], t[2]))
    used_a: set[int] = set()
    used_b: set[int] = set()
    matched = []
    for score, i, j in pairs:
        if score < MATCH_THRESHOLD:
            break
        if i in used_a or j in used_b:
            continue
        used_a.add(i)
        used_b.add(j)
        matched.append(Change(before[i], after[j], score, changes(before[i], after[j])))
    appeared = [b for j, b in enumerate(after) if j not in used_b]
    disappeared = [a for i, a in enumerate(before) if i not in used_a]
    return appeared, disappeared, sorted(matched, key=lambda c: c.after.id)


def diff_runs(a: Path, b: Path) -> RunDiff:
    """Compare two runs' findings, matched by location and content (finding ids differ between runs)."""
    ra, rb = RunDir(a).report(), RunDir(b).report()
    ta = (RunDir(a).info().get("target") or {}).get("path") or ra.target
    tb = (RunDir(b).info().get("target") or {}).get("path") or rb.target
    warning = None if ta == tb else f"the runs reviewed different targets ({ta} vs {tb}); matching by content anyway"
    appeared, disappeared, matched = diff_findings(ra.findings, rb.findings)
    return RunDiff(ra, rb, appeared, disappeared, [c for c in matched if c.changes],
                   [c for c in matched if not c.changes], warning)
