"""`triage.yaml`: a user's accept / dismiss per finding of a run (labels for `rebuttal calibrate`)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from engine import rundir, yamlio
from engine.errors import ConfigError
from engine.rundir import RunDir

Label = Literal["accept", "dismiss"]


class TriageEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: Label
    note: str = ""
    at: str = ""


class Triage(BaseModel):
    """The file's shape: finding id -> the user's label."""

    model_config = ConfigDict(extra="forbid")
    run_id: str
    findings: dict[str, TriageEntry] = Field(default_factory=dict)


def read_triage(run_dir: Path, run_id: str) -> Triage:
    """The run's triage file, or an empty one; a malformed file is a ConfigError naming it."""
    path = RunDir(run_dir).triage
    if not path.exists():
        return Triage(run_id=run_id)
    try:
        data = yamlio.load(path.read_text(encoding="utf-8")) or {}
        return Triage.model_validate(data)
    except (OSError, UnicodeDecodeError, ValidationError, ValueError) as exc:
        raise ConfigError(f"{path}: not a valid triage file ({exc.__class__.__name__})") from None


def set_labels(run_dir: Path, run_id: str, labels: dict[str, Label], at: str = "", note: str = "") -> Triage:
    """Merge labels (finding id -> accept/dismiss) into the run's triage file and write it atomically."""
    tri = read_triage(run_dir, run_id)
    for fid, label in labels.items():
        tri.findings[fid] = TriageEntry(label=label, note=note, at=at)
    text = yamlio.dump(tri.model_dump(), sort_keys=True, allow_unicode=True, width=1000)
    RunDir(run_dir).write(rundir.TRIAGE, text)
    return tri
