"""Panel size precedence everywhere: explicit option > profile > workflow defaults > model-dependent defaults."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from typer.testing import CliRunner

from engine import api
from engine.cli import app
from engine.profiles import Profile, request_options, resolve_options, save_profile
from tests.conftest import EXAMPLE

# workflow -> what its file states (None: nothing, the model decides)
WORKFLOWS = {"debate": (None, None), "single": (1, 0), "self-review": (2, 0), "fusion": (None, 0)}
MODELS = {"local": (3, 1), "fake": (5, 3)}
CASES = list(itertools.product([None, 2], [None, 4], WORKFLOWS, MODELS))


def expected(explicit: int | None, profile: int | None, workflow: str, model: str) -> tuple[int, int]:
    wf_n, wf_k = WORKFLOWS[workflow]
    n = next(v for v in (explicit, profile, wf_n, MODELS[model][0]) if v is not None)
    k = next(v for v in (explicit and 1, profile and 2, wf_k, MODELS[model][1]) if v is not None)
    return n, k


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REBUTTAL_HOME", str(tmp_path / "home"))
    save_profile("four", Profile(personas=4, k=2))
    save_profile("none", Profile(description="sets no panel size"))


@pytest.mark.parametrize(("explicit", "profile", "workflow", "model"), CASES)
def test_cli_and_server_options_follow_the_precedence(
    explicit: int | None, profile: int | None, workflow: str, model: str
) -> None:
    name = "four" if profile else "none"
    given = {"personas": explicit, "k": explicit and 1}
    # CLI and batch: options given, then the profile fills the rest
    options = {"workflow": workflow, "model": model, **given}
    explicit_names = {k for k, v in options.items() if v is not None}
    opts = resolve_options(name, options, explicit_names)
    s = api.build_settings("x.py", **{k: v for k, v in opts.items() if v is not None})
    assert (s.personas, s.k) == expected(explicit, profile, workflow, model)
    # the server: request overrides, then the profile, then the workflow and model defaults
    overrides = {k: v for k, v in given.items() if v is not None}
    opts = request_options(profile=name, workflow=workflow, overrides=overrides, default_model=model)
    s = api.build_settings("x.py", **opts)
    assert (s.personas, s.k) == expected(explicit, profile, workflow, model)


def test_single_on_the_local_model_runs_one_review() -> None:
    res = CliRunner().invoke(app, ["estimate", str(EXAMPLE), "--workflow", "single", "--model", "local"])
    assert res.exit_code == 0, res.output
    assert "single, 1 personas, k=0" in res.output.replace("\n", " ")
