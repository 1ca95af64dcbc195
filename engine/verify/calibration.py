"""Calibrated truth: a small logistic model over a finding's features (engine/verify/features.py).

truth = sigmoid(intercept + sum(weight[f] * x[f])). The weights are data: a JSON file with its name,
how it was obtained (`kind`: `prior` = hand-set, `fitted` = fitted by `rebuttal calibrate`), the number
of labelled findings it was fitted on and its held-out AUROC and expected calibration error. The
package ships a hand-set PRIOR for any model (engine/data/calibration.json, not fitted on anything) and
fitted models for the judge models they were fitted on (engine/data/calibration-*.json, `models:`): the
features mean different things from different models (a 1.5B's P(yes) is not GPT-4o's), so a fit applies
only to its own. `rebuttal calibrate` writes a user's fitted model to the config directory, and runs
use it when present.

Which calibration a run uses: $REBUTTAL_CALIBRATION (a file, or `shipped`), else the user's
`calibration.json` in the config directory ($REBUTTAL_HOME, else $XDG_CONFIG_HOME/rebuttal, else
~/.config/rebuttal) when it is for any model or names the run's judge model, else the shipped fit for
the run's judge model, else the shipped prior. A run keeps a copy in its directory, so resuming or
re-rendering it later scores with the same weights.
"""

from __future__ import annotations

import json
import math
import os
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from engine.artifacts import write_atomic
from engine.errors import ConfigError
from engine.rundir import RunDir
from engine.verify.features import FEATURES

ENV = "REBUTTAL_CALIBRATION"


class Calibration(BaseModel):
    """A logistic truth model and where it came from."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    kind: Literal["prior", "fitted"]
    description: str
    features: list[str] = Field(default_factory=lambda: list(FEATURES))
    intercept: float
    weights: dict[str, float]
    n: int = Field(0, ge=0, description="labelled findings it was fitted on (0 for a prior)")
    n_held_out: int = Field(0, ge=0)
    held_out_auroc: float | None = None
    held_out_ece: float | None = None
    l2: float | None = None
    sources: list[str] = Field(default_factory=list)
    created: str = ""
    models: list[str] = Field(default_factory=list,
                              description="judge models it applies to (canonical provider:name); empty: any model")

    @field_validator("weights")
    @classmethod
    def _known_features(cls, v: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(v) - set(FEATURES))
        if unknown:
            raise ValueError(f"unknown feature(s): {', '.join(unknown)} (known: {', '.join(FEATURES)})")
        return v

    @property
    def label(self) -> str:
        """The name with how it was obtained, for reports."""
        if self.kind == "prior":
            return f"{self.name} (hand-set prior, not fitted)"
        auroc = "n/a" if self.held_out_auroc is None else f"{self.held_out_auroc:.2f}"
        return f"{self.name} (fitted on {self.n} labelled findings, held-out AUROC {auroc})"


def sigmoid(z: float) -> float:
    """1 / (1 + e^-z), safe for large |z|."""
    if z >= 0:
        return 1 / (1 + math.exp(-z))
    e = math.exp(z)
    return e / (1 + e)


def contributions(cal: Calibration, x: dict[str, float]) -> dict[str, float]:
    """weight * value of every feature that moves the score (non-zero)."""
    return {f: cal.weights.get(f, 0.0) * v for f, v in x.items() if v and cal.weights.get(f, 0.0)}


def predict(cal: Calibration, x: dict[str, float]) -> float:
    """P(the finding is correct) under the model."""
    return sigmoid(cal.intercept + sum(contributions(cal, x).values()))


def judge_counts(cal: Calibration) -> bool:
    """Whether the truth judge's answer can move truth under this calibration. A fit that gives the judge's P(yes)
    no weight (fit-local-1.5b-v2 and v3: the embedded model's P(yes) added nothing once the checks were known) makes the
    truth judge's calls pure cost, so runs do not make them (engine/stages/compile.py) and estimates plan none."""
    return abs(cal.weights.get("judge", 0.0)) > 1e-9


def signed(v: float) -> str:
    """+1.2 / −0.4 (a real minus sign), one decimal; ±0.0 shown with two."""
    text = f"{abs(v):.1f}" if abs(v) >= 0.05 else f"{abs(v):.2f}"
    return ("+" if v >= 0 else "−") + text


def rationale(cal: Calibration, x: dict[str, float], labels: dict[str, str], top: int = 4) -> str:
    """The features that moved the score most, e.g. 'quote verified (+1.2), analyzer B006 (+0.9), ...'."""
    moved = sorted(contributions(cal, x).items(), key=lambda kv: (-abs(kv[1]), kv[0]))[:top]
    if not moved:
        return "no check or debate signal moved it from the base rate"
    return ", ".join(f"{labels.get(f, f)} ({signed(c)})" for f, c in moved)


def config_dir() -> Path:
    """$REBUTTAL_HOME, else $XDG_CONFIG_HOME/rebuttal, else ~/.config/rebuttal."""
    if os.environ.get("REBUTTAL_HOME"):
        return Path(os.environ["REBUTTAL_HOME"])
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "rebuttal"


def user_path() -> Path:
    """Where `rebuttal calibrate` writes the user's calibration."""
    return config_dir() / "calibration.json"


def load(path: Path) -> Calibration:
    """A calibration file; a missing or malformed one is a ConfigError naming it."""
    try:
        return Calibration.model_validate_json(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the calibration file ({exc.strerror or exc})") from None
    except ValidationError as exc:
        e = exc.errors()[0]
        loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
        raise ConfigError(f"{path}: not a valid calibration file (field '{loc}': {e['msg']})") from None


def canonical_model(model: str) -> str:
    """`provider:name` with the embedded model's alias resolved ("local" -> "local:qwen2.5-coder-1.5b")."""
    from engine.llm.local import resolve_local_name
    from engine.llm.registry import parse_model

    spec = parse_model(model)
    return f"local:{resolve_local_name(spec.name)}" if spec.provider == "local" else f"{spec.provider}:{spec.name}"


def shipped(model: str | None = None) -> Calibration:
    """The calibration the package ships for a judge model: a fit made for it, else the hand-set prior."""
    data = resources.files("engine").joinpath("data")
    key = canonical_model(model) if model else None
    for entry in sorted(data.iterdir(), key=lambda e: e.name) if key else ():
        if entry.name.startswith("calibration-") and entry.name.endswith(".json"):
            cal = Calibration.model_validate_json(entry.read_text(encoding="utf-8"))
            if key in cal.models:
                return cal
    return Calibration.model_validate_json(data.joinpath("calibration.json").read_text(encoding="utf-8"))


def resolve(model: str | None = None) -> tuple[Calibration, str]:
    """(the calibration new runs use, where it came from): $REBUTTAL_CALIBRATION, the user's, or the shipped one
    for the run's judge model."""
    chosen = os.environ.get(ENV, "").strip()
    if chosen == "shipped":
        return shipped(model), "shipped"
    if chosen:
        return load(Path(chosen)), chosen
    if user_path().exists() and applies(mine := load(user_path()), model):
        return mine, str(user_path())
    return shipped(model), "shipped"


def applies(cal: Calibration, model: str | None) -> bool:
    """Whether a calibration is for this judge model (one without `models` is for any)."""
    return not cal.models or (model is not None and canonical_model(model) in cal.models)


def save(cal: Calibration, path: Path) -> Path:
    """Write a calibration file atomically (creating its folder)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_atomic(path.parent, path.name, json.dumps(cal.model_dump(), indent=1) + "\n")


def for_run(run_dir: Path) -> Calibration:
    """The run's own copy of its calibration (written when the run was created; made now for older runs)."""
    copy = RunDir(run_dir).calibration
    if copy.exists():
        return load(copy)
    judge = RunDir(run_dir).info().get("judge")
    cal, _ = resolve(judge if isinstance(judge, str) else None)
    save(cal, copy)
    return cal
