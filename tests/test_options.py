"""One options model: every way of giving run options (the CLI commands, a profile file, the server's request
body, a batch entry, the MCP tools, the LangGraph Server context) is generated from `engine.options.RunOptions`,
and a bound changed there changes all of them."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from engine.api import resolve
from engine.options import SURFACES, RunOptions

ROOT = Path(__file__).resolve().parents[1]
NAMES = set(RunOptions.model_fields)
# Each way in and the SURFACES entry it is generated from.
WAYS = {"review": "cli", "estimate": "cli", "resume": "budget", "batch": "batch", "profile save": "profile-save",
        "profile file": "profile", "batch entry": "batch", "server request": "request",
        "langgraph context": "langgraph", "mcp review": "mcp", "mcp estimate": "mcp", "mcp resume": "budget"}
HELP_BOUNDS = re.compile(r"\((?:(\d+) to (\d+)|at least (\d+)|at most (\d+))\)$")


def schema_bounds(prop: dict[str, Any]) -> list[Any]:
    """[minimum, maximum] of a JSON-schema property (an optional value's first anyOf branch)."""
    branch = prop["anyOf"][0] if "anyOf" in prop else prop
    return [branch.get("minimum"), branch.get("maximum")]


def help_bounds(text: str | None) -> list[Any]:
    """[minimum, maximum] as an option's --help text states them."""
    m = HELP_BOUNDS.search(text or "")
    lo, hi = (m.group(1) or m.group(3), m.group(2) or m.group(4)) if m else (None, None)
    return [None if lo is None else int(lo), None if hi is None else int(hi)]


def model_options(model: Any) -> dict[str, list[Any]]:
    """The run options of a pydantic model and their bounds."""
    return {n: schema_bounds(p) for n, p in model.model_json_schema()["properties"].items() if n in NAMES}


def surface_options() -> dict[str, dict[str, list[Any]]]:
    """Per way in, the run options it takes and their [min, max], read from the real commands, models and tools."""
    from engine.batch import BatchItem
    from engine.cli import app
    from engine.mcp_server import build_server
    from engine.profiles import Profile
    from engine.serve.openai_api import ChatRequest
    from engine.server_graph import build_server_graph

    root: Any = typer.main.get_command(app)

    def cli(*path: str) -> dict[str, list[Any]]:
        cmd = root
        for name in path:
            cmd = cmd.commands[name]
        return {p.name: help_bounds(p.help) for p in cmd.params if p.name in NAMES}

    tools = {t.name: t.input_schema["properties"]
             for t in asyncio.run(build_server(Path("runs"), check_providers=False).list_tools())}

    def tool(name: str) -> dict[str, list[Any]]:
        return {n: schema_bounds(p) for n, p in tools[name].items() if n in NAMES}

    return {
        "review": cli("review"), "estimate": cli("estimate"), "resume": cli("resume"), "batch": cli("batch"),
        "profile save": cli("profile", "save"), "profile file": model_options(Profile),
        "batch entry": model_options(BatchItem), "server request": model_options(
            ChatRequest.model_fields["rebuttal"].annotation),
        "langgraph context": model_options(build_server_graph().context_schema),
        "mcp review": tool("review"), "mcp estimate": tool("estimate"), "mcp resume": tool("resume"),
    }


def test_every_way_in_takes_its_options_with_the_models_bounds() -> None:
    bounds = model_options(RunOptions)
    assert bounds["k"] == [0, 64] and bounds["personas"] == [1, 256] and bounds["max_calls"] == [1, None]
    expected = {way: {n: bounds[n] for n in SURFACES[surface]} for way, surface in WAYS.items()}
    assert surface_options() == expected


def test_a_bound_changed_in_the_model_changes_every_way_in(tmp_path: Path) -> None:
    """Edit the one declaration of `k` in a copy of the engine: every command, model and tool follows."""
    shutil.copytree(ROOT / "engine", tmp_path / "engine", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("personas", "workflows", "templates", "tests"):
        (tmp_path / name).symlink_to(ROOT / name)
    source = tmp_path / "engine" / "options.py"
    text = source.read_text(encoding="utf-8")
    assert text.count("ge=0, le=64") == 1, "k is declared once"
    source.write_text(text.replace("ge=0, le=64", "ge=0, le=8"), encoding="utf-8")
    code = "import json; from tests.test_options import surface_options; print(json.dumps(surface_options()))"
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "REBUTTAL_FORBID_REAL_MODELS": "1"}
    res = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    ways = json.loads(res.stdout)
    with_k = {way for way, surface in WAYS.items() if "k" in SURFACES[surface]}
    assert with_k >= {"review", "batch", "profile file", "server request", "mcp review", "langgraph context"}
    assert {way: opts["k"] for way, opts in ways.items() if "k" in opts} == dict.fromkeys(with_k, [0, 8])


LOCAL = {"workflow": "debate", "model": "local", "personas": 3, "k": 1, "concurrency": 4, "strict": False, "seed": 0,
         "execute": False}


@pytest.mark.parametrize(("layers", "expected"), [
    ([], {**LOCAL, "workflow": "single", "personas": 1, "k": 0}),  # the local model's workflow, as single states
    ([RunOptions(workflow="debate")], LOCAL),  # a debate on the local model: its smaller panel
    ([RunOptions(model="fake")], {**LOCAL, "model": "fake", "personas": 5, "k": 3, "concurrency": 16}),
    ([RunOptions(model="fake", workflow="single")], {"personas": 1, "k": 0}),  # what the workflow file states
    ([RunOptions(k=2, personas=4), RunOptions(k=1, model="fake")], {"k": 2, "personas": 4, "model": "fake"}),
    ([RunOptions(strict=False, seed=0), RunOptions(strict=True, seed=7)], {"strict": False, "seed": 0}),  # given
    ([RunOptions(execute_unsafe=True)], {"execute_unsafe": True, "execute": False}),  # build_settings ORs them
])
def test_resolve_table(layers: list[RunOptions], expected: dict[str, Any]) -> None:
    got = resolve(*layers).model_dump()
    assert {k: got[k] for k in expected} == expected


@pytest.mark.parametrize(("args", "message"), [
    (["review", "x.py", "-k", "65"], "option k: Input should be less than or equal to 64"),
    (["estimate", "x.py", "--personas", "0"], "option personas: Input should be greater than or equal to 1"),
    (["batch", "list.txt", "--concurrency", "0"], "option concurrency: Input should be greater than or equal to 1"),
    (["profile", "save", "p", "-k", "65"], "option k: Input should be less than or equal to 64"),
    (["resume", "runs/x", "--max-calls", "0"], "option max_calls: Input should be greater than or equal to 1"),
])
def test_a_bad_option_is_one_line_from_the_model(args: list[str], message: str, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.cli import app

    monkeypatch.setenv("REBUTTAL_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 2, res.output
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert lines == [f"error: {message}"], res.stderr
