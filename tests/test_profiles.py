"""Saved profiles: YAML files validated with extra="forbid", filling unspecified options, panels of panels."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from engine.api import merge
from engine.cli import app
from engine.errors import ConfigError
from engine.options import RunOptions
from engine.profiles import (
    Profile,
    delete_profile,
    expand_panel,
    list_profiles,
    load_profile,
    profile_path,
    save_profile,
)
from engine.serve.openai_api import RequestOptions, run_layers

runner = CliRunner()


@pytest.fixture(autouse=True)
def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("REBUTTAL_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def write_raw(name: str, data: dict[str, object]) -> None:
    """A profile file written by hand (bypassing save's checks)."""
    path = profile_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data), encoding="utf-8")


def test_save_load_list_delete_round_trip(_home: Path) -> None:
    path, replaced = save_profile("quick", Profile(workflow="fusion", model="fake", personas=2, k=0))
    assert path == _home / "profiles" / "quick.yaml" and not replaced
    assert yaml.safe_load(path.read_text()) == {"workflow": "fusion", "model": "fake", "personas": 2, "k": 0}
    assert load_profile("quick").personas == 2
    assert save_profile("quick", Profile(model="fake"))[1] is True
    assert list(list_profiles()) == ["quick"]
    delete_profile("quick")
    assert list_profiles() == {}
    with pytest.raises(ConfigError, match="unknown profile 'quick'"):
        delete_profile("quick")


@pytest.mark.parametrize(("data", "message"), [
    ({"workflow": "fusion", "colour": "red"}, "field 'colour': Extra inputs are not permitted"),
    ({"personas": 0}, "field 'personas'"),
    ({"panel": "fake"}, "field 'panel'"),
])
def test_bad_profile_file_names_file_and_field(data: dict[str, object], message: str) -> None:
    write_raw("bad", data)
    with pytest.raises(ConfigError, match=message) as exc:
        load_profile("bad")
    assert "bad.yaml" in str(exc.value)


def test_bad_names_and_references_are_refused_on_save() -> None:
    with pytest.raises(ConfigError, match="lowercase"):
        save_profile("Bad Name", Profile())
    with pytest.raises(ConfigError, match="unknown workflow"):
        save_profile("x", Profile(workflow="nope"))
    with pytest.raises(ConfigError, match="unknown model provider"):
        save_profile("x", Profile(panel=["nope:m"]))
    with pytest.raises(ConfigError, match="unknown profile 'ghost'"):
        save_profile("x", Profile(panel=["profile:ghost"]))
    assert list_profiles() == {}


def test_profile_fills_only_what_was_not_given() -> None:
    save_profile("p", Profile(workflow="fusion", model="fake", judge="fake:1", personas=2, strict=True))
    # Only what was given counts (on the command line: what did not come from a default); the profile fills the rest.
    out = merge(RunOptions(personas=4, profile="p"))
    assert (out.workflow, out.model, out.judge, out.personas, out.strict) == ("fusion", "fake", "fake:1", 4, True)
    # A value given wins even when it equals a default.
    out = merge(RunOptions(workflow="debate", personas=4, strict=False, profile="p"))
    assert (out.workflow, out.model, out.personas, out.strict) == ("debate", "fake", 4, False)


def test_panel_of_panels_expands_in_order() -> None:
    save_profile("cheap", Profile(panel=["fake:1", "fake:2"]))
    save_profile("solo", Profile(model="fake:3"))
    save_profile("mixed", Profile(panel=["profile:cheap", "fake", "profile:solo"], judge="fake"))
    save_profile("top", Profile(panel=["profile:mixed,fake:9"]))
    assert expand_panel(["profile:top"]) == ["fake:1", "fake:2", "fake", "fake:3", "fake:9"]
    out = merge(RunOptions(profile="mixed"))
    assert out.panel == ["fake:1", "fake:2", "fake", "fake:3"] and out.judge == "fake"
    assert merge(RunOptions(panel=["profile:solo", "fake"])).panel == ["fake:3", "fake"]
    save_profile("empty", Profile(description="no models"))
    with pytest.raises(ConfigError, match="names no panel and no model"):
        expand_panel(["profile:empty"])


def test_cycles_are_one_line_errors() -> None:
    with pytest.raises(ConfigError, match=r"^profile cycle: self -> self$"):
        save_profile("self", Profile(panel=["profile:self"]))
    save_profile("a", Profile(panel=["fake"]))
    save_profile("b", Profile(panel=["profile:a"]))
    with pytest.raises(ConfigError, match=r"^profile cycle: a -> b -> a$"):
        save_profile("a", Profile(panel=["profile:b"]))
    write_raw("a", {"panel": ["profile:b"]})  # a cycle written by hand is caught when used
    with pytest.raises(ConfigError, match=r"^profile cycle: b -> a -> b$"):
        merge(RunOptions(profile="b"))


def test_request_options_for_the_server() -> None:
    save_profile("p", Profile(model="fake:5", personas=2))
    out = merge(*run_layers(RequestOptions(), "fusion", None, "fake"))
    assert out.model_dump(exclude_none=True) == {"workflow": "fusion", "model": "fake"}
    out = merge(*run_layers(RequestOptions(personas=3), None, "p", "local"))
    assert out.model_dump(exclude_none=True) == {"model": "fake:5", "personas": 3}


def test_cli_profile_commands_and_review_profile(tmp_path: Path, example: Path) -> None:
    res = runner.invoke(app, ["profile", "save", "quick", "--workflow", "fusion", "--model", "fake",
                              "--personas", "2", "--description", "fast fake"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["profile", "save", "panel", "--panel", "profile:quick,fake:1", "--judge", "fake"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["profile", "list"])
    assert res.exit_code == 0 and "quick" in res.stdout and "fast fake" in res.stdout
    res = runner.invoke(app, ["profile", "show", "panel"])
    assert res.exit_code == 0 and "panel expanded: fake, fake:1" in res.stdout
    res = runner.invoke(app, ["profile", "save", "loop", "--panel", "profile:loop"])
    assert res.exit_code == 2 and "profile cycle: loop -> loop" in res.stderr

    out = tmp_path / "runs"
    res = runner.invoke(app, ["review", str(example), "--profile", "quick", "--out", str(out), "--run-id", "a",
                              "-q", "--json"])
    assert res.exit_code == 0, res.output
    settings = yaml.safe_load((out / "a" / "run.yaml").read_text())["settings"]
    assert (settings["workflow"], settings["model"], settings["personas"]) == ("fusion", "fake", 2)
    # An option given on the command line wins, even when it equals the default.
    res = runner.invoke(app, ["review", str(example), "--profile", "quick", "--workflow", "debate", "--out",
                              str(out), "--run-id", "b", "-q", "--json", "-k", "1"])
    assert res.exit_code == 0, res.output
    settings = yaml.safe_load((out / "b" / "run.yaml").read_text())["settings"]
    assert (settings["workflow"], settings["personas"]) == ("debate", 2)
    res = runner.invoke(app, ["review", str(example), "--profile", "panel", "--model", "fake", "--out", str(out),
                              "--run-id", "c", "-q", "--json", "--workflow", "fusion"])
    assert res.exit_code == 0, res.output
    assert yaml.safe_load((out / "c" / "run.yaml").read_text())["settings"]["panel"] == ["fake", "fake:1"]
    res = runner.invoke(app, ["review", str(example), "--profile", "nope"])
    assert res.exit_code == 2 and "unknown profile 'nope'" in res.stderr
    assert runner.invoke(app, ["profile", "delete", "quick"]).exit_code == 0
    assert runner.invoke(app, ["profile", "delete", "quick"]).exit_code == 2


def test_panel_mixed_resolves_to_configured_models(tmp_path, monkeypatch) -> None:
    """`--panel mixed`: a saved `mixed` profile, else $REBUTTAL_MIXED_PANEL, else both embedded models."""
    from engine.profiles import MIXED_LOCAL

    monkeypatch.setenv("REBUTTAL_HOME", str(tmp_path))
    monkeypatch.delenv("REBUTTAL_MIXED_PANEL", raising=False)
    assert merge(RunOptions(panel=["mixed"])).panel == MIXED_LOCAL
    monkeypatch.setenv("REBUTTAL_MIXED_PANEL", "fake:1,fake:2")
    assert merge(RunOptions(panel=["mixed"])).panel == ["fake:1", "fake:2"]
    (tmp_path / "profiles").mkdir(exist_ok=True)
    (tmp_path / "profiles" / "mixed.yaml").write_text("panel: [fake:3, fake]\n", encoding="utf-8")
    assert merge(RunOptions(panel=["mixed", "fake:9"])).panel == ["fake:3", "fake", "fake:9"]
    (tmp_path / "profiles" / "mixed.yaml").write_text("panel: [mixed]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="cycle"):
        merge(RunOptions(panel=["mixed"]))
