"""Publish JSON schemas for editors and consumers: `python -m engine.schema_export` writes schemas/."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from engine.config import REPO_ROOT, PersonaFile, Workflow
from engine.models import Report
from engine.profiles import Profile
from engine.verify.calibration import Calibration

SCHEMAS: dict[str, type[BaseModel]] = {
    "persona.schema.json": PersonaFile,
    "workflow.schema.json": Workflow,
    "report.schema.json": Report,
    "calibration.schema.json": Calibration,
    "profile.schema.json": Profile,
}


def render(name: str) -> str:
    """The JSON schema text of one published model."""
    return json.dumps(SCHEMAS[name].model_json_schema(), indent=2, sort_keys=True) + "\n"


def main() -> None:
    """Write every schema under schemas/."""
    out = Path(REPO_ROOT) / "schemas"
    out.mkdir(exist_ok=True)
    for name in SCHEMAS:
        (out / name).write_text(render(name), encoding="utf-8")
        print(out / name)


if __name__ == "__main__":
    main()
