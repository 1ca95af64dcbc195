"""Every artifact kind and every prompt has its template, and templates are strict."""

from __future__ import annotations

import jinja2
import pytest

from engine.artifacts import ARTIFACT_KINDS, render_template
from engine.config import TEMPLATES_DIR


@pytest.mark.parametrize("kind", ARTIFACT_KINDS)
def test_every_artifact_kind_has_a_template(kind: str) -> None:
    assert (TEMPLATES_DIR / f"{kind}.md.j2").is_file()


@pytest.mark.parametrize("stage", ["personas", "review", "pick", "response", "rebuttal", "findings", "judge",
                                   "usefulness", "critique", "revise", "system"])
def test_every_prompt_has_a_template(stage: str) -> None:
    assert (TEMPLATES_DIR / "prompts" / f"{stage}.md.j2").is_file()


def test_templates_are_strict() -> None:
    with pytest.raises(jinja2.UndefinedError):
        render_template("prompts/review.md.j2")
