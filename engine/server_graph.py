"""The review graph for LangGraph Server (`langgraph.json` -> `graph`): a thread reviews the text in its input.

Input: `{"target_text": "...", "target_name": "ratelimiter.py"}`. Per-run options go in the run's
`context` (`ServerContext`: workflow, profile, model, panel, judge, personas, persona, k, strict,
budgets), so the standard API is used as is: `client.runs.create(thread_id, "review", input=...,
context=...)`. The server's environment gives the defaults: `REBUTTAL_SERVER_MODEL` (default
`local`) and `REBUTTAL_SERVER_OUT` (where run directories go, default `runs`).

Two nodes: `prepare_run` writes the text under `$REBUTTAL_SERVER_OUT/_inputs/`, ingests it (secrets
redacted) and creates the run directory; `run_review` builds the engine's RunContext from that
directory and runs the workflow graph as a subgraph, so the server's own checkpointer records every
stage and a retried thread resumes after the last finished one (finished calls are also cached in
the run directory). Progress goes to the `custom` stream mode as `{"stage", "done", "total"}`.
"""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypedDict

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from pydantic import Field

from engine import api, runner
from engine.context import Progress, RunContext
from engine.errors import ConfigError, RebuttalError
from engine.graph import build_graph
from engine.llm.gateway import Gateway
from engine.profiles import PanelChoice, request_options
from engine.rundir import RunDir
from engine.serve.inputs import DEFAULT_NAME, ingest_texts, remove_inputs
from engine.state import RunState

OUT_ENV = "REBUTTAL_SERVER_OUT"
MODEL_ENV = "REBUTTAL_SERVER_MODEL"


class ServerContext(PanelChoice):
    """A run's `context`: every field optional; the server's environment supplies the defaults."""

    strict: bool | None = None
    max_calls: int | None = Field(default=None, ge=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_usd: float | None = Field(default=None, ge=0)


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
    overrides = ctx.model_dump(exclude={"profile", "workflow"}, exclude_none=True)
    opts = request_options(profile=ctx.profile, workflow=ctx.workflow, overrides=overrides,
                           default_model=os.environ.get(MODEL_ENV) or "local")
    out = out_dir()
    target, snap = ingest_texts(out, [(name, text)])
    try:
        return api.prepare(api.build_settings(target, **opts), out, snapshot=snap)
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


def run_context(run_dir: Path, writer: Any) -> RunContext:
    """The engine's per-run dependencies, rebuilt from a run directory (as `engine.runner.execute` does)."""
    settings, workflow, target, nonce = runner.load_run(run_dir)
    progress = Progress(listener=lambda stage, done, total: writer({"stage": stage, "done": done, "total": total}))
    gateway = Gateway(run_dir=run_dir, settings=settings, factory=runner.default_factory(settings),
                      on_call_done=progress.advance)
    return RunContext(settings=settings, workflow=workflow, target=target, run_dir=run_dir, gateway=gateway,
                      nonce=nonce, progress=progress,
                      clock=lambda: datetime.now(UTC).isoformat(timespec="seconds"))


async def run_review(state: ServerState, runtime: Runtime[ServerContext]) -> dict[str, Any]:
    """Node: run the workflow graph as a subgraph (the server's checkpointer records each stage)."""
    run_dir = Path(state["run_dir"])
    ctx = await asyncio.to_thread(run_context, run_dir, runtime.stream_writer)
    inner = build_graph(ctx.workflow).compile()
    # The node's config (thread, checkpointer, namespace) is inherited from the running graph.
    config: RunnableConfig = {"recursion_limit": 200}
    final = await inner.ainvoke({}, config, context=ctx)  # type: ignore[call-overload]
    if final.get("report") is None:
        raise RebuttalError(f"the run ended without a report (run directory {run_dir})")
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
