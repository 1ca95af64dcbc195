"""Panel size precedence everywhere: explicit option > profile > workflow defaults > model-dependent defaults."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from typer.testing import CliRunner

from engine import api
from engine.cli import app
from engine.options import RunOptions
from engine.profiles import Profile, save_profile
from engine.serve.openai_api import RequestOptions, run_layers
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
    # CLI and batch: the options given (None: not given) and the profile they name
    s = api.build_settings("x.py", RunOptions(workflow=workflow, model=model, profile=name, **given))
    assert (s.personas, s.k) == expected(explicit, profile, workflow, model)
    # the server: the request body, then the profile, then the workflow and model defaults
    body = RequestOptions(**{k: v for k, v in given.items() if v is not None})
    s = api.build_settings("x.py", *run_layers(body, workflow, name, model))
    assert (s.personas, s.k) == expected(explicit, profile, workflow, model)


def test_single_on_the_local_model_runs_one_review() -> None:
    res = CliRunner().invoke(app, ["estimate", str(EXAMPLE), "--workflow", "single", "--model", "local"])
    assert res.exit_code == 0, res.output
    assert "single, 1 personas, k=0" in res.output.replace("\n", " ")
