"""Persona and workflow files: every library file validates; bad files name the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.config import (
    PERSONAS_DIR,
    WORKFLOWS_DIR,
    load_persona_file,
    load_workflow_file,
    persona_library,
    workflow_library,
)
from engine.errors import ConfigError


def test_library_personas_validate() -> None:
    lib = persona_library()
    assert len(lib) >= 8
    assert {p.applies_to for p in lib.values()} >= {"code", "document"}
    assert "generalist" in lib
    for path in PERSONAS_DIR.glob("*.md"):
        assert load_persona_file(path).slug == path.stem


def test_library_workflows_validate() -> None:
    lib = workflow_library()
    assert {"debate", "fusion", "sample", "self-review", "single"} <= set(lib)
    for path in WORKFLOWS_DIR.glob("*.yaml"):
        assert load_workflow_file(path).name == path.stem


GOOD = "---\nslug: x\nname: X\nrole: r\nperspective: p\nfocus: [a]\n---\nbrief\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("no front matter", "missing YAML front matter"),
        ("---\nslug: [unclosed\n---\n", "invalid YAML front matter"),
        (GOOD.replace("name: X\n", ""), "field 'name'"),
        (GOOD.replace("focus: [a]", "focus: []"), "field 'focus'"),
        (GOOD.replace("slug: x", "slug: Bad Slug"), "field 'slug'"),
        (GOOD.replace("role: r", "role: r\ncolour: blue"), "field 'colour'"),
        (GOOD.replace("name: X", "nmae: X"), "field 'name': Field required ('nmae' looks like a misspelling of it)"),
        (GOOD.replace("name: X", "title: X"), "field 'name': Field required (unknown field(s) 'title')"),
        (GOOD.replace("focus: [a]", "focus: [a]\napplies_to: cats"), "field 'applies_to'"),
        ("---\n- a list\n---\n", "must be a mapping"),
    ],
)
def test_bad_persona_files(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.md"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_persona_file(path)
    assert str(path) in str(exc.value)
    assert message in str(exc.value)


def test_persona_round_trip_from_run_artifact(tmp_path: Path) -> None:
    path = tmp_path / "x.md"
    path.write_text("---\nid: P-x\nkind: persona\npersona: x\nderived_from: [target]\ncreated: now\n"
                    "source: generated\nslug: x\nname: X\nrole: r\nperspective: p\nfocus: [a]\nmodel: fake\n---\n",
                    encoding="utf-8")
    p = load_persona_file(path)
    assert (p.slug, p.model) == ("x", "fake")


WF = "name: w\ndescription: d\nstages: [personas, reviews, compile]\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (WF.replace("reviews", "reveiws"), "field 'stages.1.stage'"),
        (WF.replace("[personas, reviews, compile]", "[personas, reviews, reviews, compile]"), "appears twice"),
        (WF.replace("[personas, reviews, compile]", "[personas, rebuttals, reviews, compile]"), "needs 'responses'"),
        (WF.replace("[personas, reviews, compile]", "[personas, reviews]"), "end with 'compile'"),
        (WF.replace("[personas, reviews, compile]", "[]"), "field 'stages'"),
        (WF + "colour: blue\n", "field 'colour'"),
        ("name: [unclosed", "invalid YAML"),
        ("- a\n- b\n", "must be a mapping"),
        (WF.replace("[personas, reviews, compile]", "[personas, {stage: reviews, writers: some}, compile]"),
         "field 'stages.1.writers'"),
        (WF.replace("[personas, reviews, compile]", "[personas, verify, reviews, compile]"), "needs 'reviews'"),
        (WF.replace("[personas, reviews, compile]", "[personas, reviews, verify, responses, compile]"),
         "'verify' must come right before 'compile'"),
        (WF.replace("[personas, reviews, compile]", "[personas, reviews, {stage: verify, analyzers: [pylint]}, "
                    "compile]"), "field 'stages.2.analyzers.0'"),
        (WF.replace("[personas, reviews, compile]", "[personas, reviews, {stage: verify, linters: [ruff]}, compile]"),
         "field 'stages.2.linters'"),
    ],
)
def test_bad_workflow_files(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "w.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_workflow_file(path)
    assert str(path) in str(exc.value)
    assert message in str(exc.value)


def test_published_schemas_are_current() -> None:
    from engine.schema_export import SCHEMAS, render

    for name in SCHEMAS:
        path = Path(__file__).resolve().parent.parent / "schemas" / name
        assert path.read_text(encoding="utf-8") == render(name), "regenerate with: python -m engine.schema_export"


def test_every_shipped_workflow_verifies_right_before_compile() -> None:
    from engine.config import workflow_library

    for wf in workflow_library().values():
        kinds = [s.stage for s in wf.stages]
        assert kinds[-2:] == ["verify", "compile"], wf.name
        assert wf.stage("verify").analyzers == ["ruff", "bandit", "oxlint"]  # type: ignore[union-attr]
