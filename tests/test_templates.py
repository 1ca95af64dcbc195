"""Every artifact kind and every prompt has its template, the two kinds live apart, and templates are strict."""

from __future__ import annotations

import jinja2
import pytest

from engine.artifacts import ARTIFACT_KINDS, ARTIFACTS, PROMPTS, render_template
from engine.config import TEMPLATES_DIR

PROMPT_STAGES = ["personas", "review", "pick", "response", "rebuttal", "findings", "judge", "usefulness", "critique",
                 "revise", "system"]
# artifact templates that are not markdown artifacts with front matter: the HTML page and the reproducer script
OTHER_ARTIFACTS = {"report.html.j2", "reproducer.j2"}


@pytest.mark.parametrize("kind", ARTIFACT_KINDS)
def test_every_artifact_kind_has_a_template(kind: str) -> None:
    assert (TEMPLATES_DIR / ARTIFACTS / f"{kind}.md.j2").is_file()


@pytest.mark.parametrize("stage", PROMPT_STAGES)
def test_every_prompt_has_a_template(stage: str) -> None:
    assert (TEMPLATES_DIR / PROMPTS / f"{stage}.md.j2").is_file()


def test_prompt_and_artifact_templates_live_in_separate_folders() -> None:
    top = sorted(p.name for p in TEMPLATES_DIR.iterdir())
    assert top == sorted([ARTIFACTS, PROMPTS]), f"templates/ holds only the two folders, found {top}"
    artifacts = {p.name for p in (TEMPLATES_DIR / ARTIFACTS).iterdir()}
    assert artifacts == {f"{kind}.md.j2" for kind in ARTIFACT_KINDS} | OTHER_ARTIFACTS
    prompts = {p.name for p in (TEMPLATES_DIR / PROMPTS).iterdir()}
    assert {f"{s}.md.j2" for s in PROMPT_STAGES} <= prompts


def test_templates_are_strict() -> None:
    with pytest.raises(jinja2.UndefinedError):
        render_template("prompts/review.md.j2")
    with pytest.raises(jinja2.UndefinedError):
        render_template("artifacts/review.md.j2")
