"""The review graph for LangGraph Server (`langgraph.json` -> `graph`): a thread reviews the text in its input.

Input: `{"target_text": "...", "target_name": "ratelimiter.py"}`. Per-run options go in the run's
`context` (`ServerContext`: the run options of `engine.options`, e.g. workflow, profile, model, panel,
k), so the standard API is used as is: `client.runs.create(thread_id, "review", input=...,
context=...)`. The server's environment gives the defaults: `REBUTTAL_SERVER_MODEL` (default
`local`) and `REBUTTAL_SERVER_OUT` (where run directories go, default `runs`).

Two nodes: `prepare_run` writes the text under `$REBUTTAL_SERVER_OUT/_inputs/`, ingests it (secrets
redacted) and creates the run directory; `run_review` runs it through `engine.api.run`, the same path
as the CLI, the HTTP server and batch: under the run lock, after the temp-file sweep, checkpointed by
the run's own checkpointer. The server's checkpointer records the two nodes; a retried thread runs
`run_review` again, which resumes the run after its last finished step and replays finished calls
from the run directory. Progress goes to the `custom` stream mode as `{"stage", "done", "total"}`.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from engine import api
from engine.errors import ConfigError
from engine.options import RunOptions, options_model, run_options
from engine.rundir import RunDir
from engine.serve.inputs import DEFAULT_NAME, ingest_texts, remove_inputs
from engine.state import RunState

OUT_ENV = "REBUTTAL_SERVER_OUT"
MODEL_ENV = "REBUTTAL_SERVER_MODEL"


# A run's `context`: the run options of SURFACES["langgraph"], every one optional; the server's environment
# supplies the default model.
ServerContext = options_model("ServerContext", "langgraph", "A LangGraph Server run's context: its run options.")


class ServerInput(TypedDict, total=False):
    """A thread's input: the text to review and, optionally, its file name (the extension matters)."""

    target_text: str
    target_name: str


class ServerState(RunState, total=False):
    """The engine's RunState plus the thread's input and where its run directory is."""

    target_text: str
    target_name: str
    run_id: str
    run_dir: str
    report_markdown: str


def out_dir() -> Path:
    """Where the server writes run directories: `$REBUTTAL_SERVER_OUT`, default `runs`."""
    return Path(os.environ.get(OUT_ENV) or "runs")


def _prepare(text: str, name: str, ctx: ServerContext) -> api.PreparedRun:
    layers = (run_options(ctx), RunOptions(model=os.environ.get(MODEL_ENV) or "local"))
    out = out_dir()
    target, snap = ingest_texts(out, [(name, text)])
    try:
        return api.prepare(api.build_settings(target, *layers), out, snapshot=snap)
    except BaseException:  # a rejected input leaves no input folder behind
        remove_inputs(Path(target).parent)
        raise


async def prepare_run(state: ServerState, runtime: Runtime[ServerContext]) -> dict[str, Any]:
    """Node: write the input text, ingest it and create the run directory (once per thread)."""
    if state.get("run_dir"):
        return {}
    text = state.get("target_text")
    if not isinstance(text, str) or not text.strip():
        raise ConfigError("the thread input needs 'target_text': the text to review")
    ctx = runtime.context if isinstance(runtime.context, ServerContext) else ServerContext()
    prep = await asyncio.to_thread(_prepare, text, state.get("target_name") or DEFAULT_NAME, ctx)
    return {"run_id": prep.settings.run_id, "run_dir": str(prep.run_dir)}


async def run_review(state: ServerState, runtime: Runtime[ServerContext]) -> dict[str, Any]:
    """Node: run (or resume) the thread's run directory to its report, through the engine's one execution path."""
    run_dir = Path(state["run_dir"])
    writer = runtime.stream_writer
    final = await api.run(run_dir, listener=lambda stage, done, total: writer(
        {"stage": stage, "done": done, "total": total}))
    md = await asyncio.to_thread(RunDir(run_dir).report_markdown)
    return {**final, "report_markdown": md}


def build_server_graph() -> StateGraph[ServerState, ServerContext, ServerInput, ServerState]:
    """prepare_run -> run_review, with ServerContext as the context schema."""
    g = StateGraph(ServerState, context_schema=ServerContext, input_schema=ServerInput)
    g.add_node("prepare_run", prepare_run)
    g.add_node("run_review", run_review)
    g.add_edge(START, "prepare_run")
    g.add_edge("prepare_run", "run_review")
    g.add_edge("run_review", END)
    return g


graph = build_server_graph().compile()
