"""`rebuttal mcp`: the engine as Model Context Protocol tools and resources, for coding agents.

Tools: review, resume, estimate, trace, findings, triage. Resources: the runs folder, and per run
review-findings.md, report.json and any text artifact by path (read-only, confined to the run).
Every request is served in its own task, so a long review never blocks the others; it reports
progress while it runs, and cancelling its request stops it at its next await with every finished
call saved, so the `resume` tool (or `rebuttal resume`) finishes it without repeating a call.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from pydantic import Field

from engine import api, rundir
from engine.config import Budget, load_workflow
from engine.errors import RebuttalError
from engine.estimate import estimate as estimate_run
from engine.mcp_tools import (
    FindingSummary,
    RunResult,
    artifact_path,
    filter_findings,
    list_artifacts,
    run_dir_of,
    run_result,
)
from engine.models import Report
from engine.options import BUDGET, RESUME_HELP, RunOptions, run_options, with_options
from engine.report.history import list_runs
from engine.rundir import RunDir
from engine.serve.inputs import ingest_texts
from engine.target import ingest
from engine.trace import render_trace, trace
from engine.triage import read_triage, set_labels

Listener = Callable[[str, int, int], None]
INSTRUCTIONS = ("rebuttal reviews code and documents with a panel of reviewer personas that debate, then scores "
                "every finding on truth and usefulness. Call `estimate` first for the cost, `review` to run, "
                "`findings`/`trace` to read the result, `triage` to accept or dismiss findings.")


async def with_progress(ctx: Context, expected: int, work: Callable[[Listener], Awaitable[Report]]) -> Report:
    """Run `work(listener)` while relaying the engine's progress as MCP progress notifications, in order."""
    queue: asyncio.Queue[tuple[int, int, str] | None] = asyncio.Queue()
    done: dict[str, int] = {}
    totals: dict[str, int] = {}
    sent = [0]

    def listen(stage: str, n: int, total: int) -> None:
        done[stage], totals[stage] = n, total
        progress = sum(done.values())
        if progress > sent[0]:  # progress must increase with every notification
            sent[0] = progress
            queue.put_nowait((progress, max(expected, sum(totals.values()), progress), f"{stage} {n}/{total}"))

    async def pump() -> None:
        while (item := await queue.get()) is not None:
            await ctx.report_progress(*item)

    async with anyio.create_task_group() as tg:
        tg.start_soon(pump)
        try:
            return await work(listen)
        finally:
            queue.put_nowait(None)


def tool_error(exc: RebuttalError) -> ToolError:
    """An engine error as a tool error the model can read."""
    return ToolError(str(exc))


def build_server(runs_dir: Path, *, default_model: str = "local", check_providers: bool = True) -> MCPServer:
    """The MCP server over one runs folder; `default_model` is used when a call names no model."""
    mcp = MCPServer(name="rebuttal", instructions=INSTRUCTIONS)

    def settings_for(target: str | None, text: str | None, filename: str, diff: str | None, options: dict[str, Any],
                     inputs: Path = runs_dir, run_id: str | None = None) -> tuple[Any, Any]:
        if bool(target) == bool(text):
            raise ToolError("give exactly one of 'target' (a path) or 'text' (the content to review)")
        layers = (run_options(options), RunOptions(model=default_model))  # validated first: no input folder on error
        if text:  # written under <inputs>/_inputs/, ingested like a file on disk (limits, redaction)
            target, snap = ingest_texts(inputs, [(filename, text)])
        else:
            snap = ingest(str(target), diff=diff)
        return api.build_settings(str(target), *layers, diff=diff, run_id=run_id), snap

    @mcp.tool()
    @with_options("mcp", style="mcp")
    async def review(
        ctx: Context,
        target: Annotated[str | None, Field(description="File, folder or git repository to review.")] = None,
        text: Annotated[str | None, Field(description="Or: the text to review (code or a document).")] = None,
        filename: Annotated[str, Field(description="Name for `text` (its extension picks code or document).")] =
            "snippet.md",
        diff: Annotated[str | None, Field(description="Review a change: BASE..HEAD or BASE.")] = None,
        run_id: Annotated[str | None, Field(description="Run id (default: time-target-random).")] = None,
        top: Annotated[int, Field(ge=0, le=50, description="How many top findings to return.")] = 5,
        **options: Any,
    ) -> RunResult:
        """Review a target with a panel of personas; returns the run id, the top findings and the report."""
        try:
            settings, snap = await anyio.to_thread.run_sync(
                lambda: settings_for(target, text, filename, diff, options, run_id=run_id))
            prep = await anyio.to_thread.run_sync(lambda: api.prepare(
                settings, runs_dir, check_providers=check_providers, snapshot=snap))
            await ctx.info(f"run {prep.settings.run_id}: ~{prep.estimate.calls} calls")
            report = await with_progress(ctx, prep.estimate.calls, lambda listen: api.execute(prep, listener=listen))
        except RebuttalError as exc:
            raise tool_error(exc) from None
        return run_result(prep.run_dir, report, top)

    @mcp.tool()
    @with_options("budget", style="mcp", help=RESUME_HELP)
    async def resume(
        ctx: Context,
        run_id: str,
        top: Annotated[int, Field(ge=0, le=50)] = 5,
        **options: Any,
    ) -> RunResult:
        """Finish an interrupted or cancelled run (or one a budget stopped); finished calls are not repeated."""
        try:
            run_dir = run_dir_of(runs_dir, run_id)
            budget = Budget(**run_options(options).model_dump(include=set(BUDGET)))
            report = await with_progress(ctx, 0, lambda listen: api.resume(run_dir, listener=listen, budget=budget))
        except RebuttalError as exc:
            raise tool_error(exc) from None
        return run_result(run_dir, report, top)

    @mcp.tool()
    @with_options("mcp", style="mcp")
    async def estimate(
        target: Annotated[str | None, Field(description="File, folder or git repository.")] = None,
        text: Annotated[str | None, Field(description="Or: the text to review.")] = None,
        filename: str = "snippet.md",
        diff: str | None = None,
        **options: Any,
    ) -> dict[str, Any]:
        """Calls, tokens and cost per stage of a review, without calling any model."""
        def work() -> dict[str, Any]:
            with tempfile.TemporaryDirectory(prefix="rebuttal-estimate-") as tmp:  # an estimate leaves no files
                settings, snap = settings_for(target, text, filename, diff, options, Path(tmp))
            est = estimate_run(settings, load_workflow(settings.workflow), snap)
            return {"workflow": settings.workflow, "personas": settings.personas, "k": settings.k,
                    "model": settings.model, "judge": settings.judge_model, **est.model_dump()}
        try:
            return await anyio.to_thread.run_sync(work)
        except RebuttalError as exc:
            raise tool_error(exc) from None

    @mcp.tool(name="trace")
    async def trace_tool(run_id: str, ref: Annotated[str, Field(description="F-001, R-persona#2 or an artifact.")]
                         ) -> dict[str, Any]:
        """The chain behind a finding: the review issues, responses, rebuttals and findings files that shaped it."""
        try:
            t = trace(run_dir_of(runs_dir, run_id), ref)
        except RebuttalError as exc:
            raise tool_error(exc) from None
        return {"text": render_trace(t), "trace": t}

    @mcp.tool()
    async def findings(
        run_id: str,
        min_truth: Annotated[float, Field(ge=0, le=1)] = 0.0,
        min_usefulness: Annotated[float, Field(ge=0, le=1)] = 0.0,
        status: Annotated[list[str] | None, Field(description="consensus, contested, unique, refuted")] = None,
        file: Annotated[str | None, Field(description="A path, folder or glob (src/*.py).")] = None,
        triage: Annotated[Literal["accept", "dismiss", "none"] | None, Field(description="By triage label.")] =
            None,
        limit: Annotated[int, Field(ge=1, le=500)] = 50,
    ) -> list[FindingSummary]:
        """A finished run's findings filtered by truth, usefulness, status, file and triage label, best first."""
        try:
            run_dir = run_dir_of(runs_dir, run_id)
            report = RunDir(run_dir).report()
            labels = {k: v.label for k, v in read_triage(run_dir, report.run_id).findings.items()}
            return filter_findings(report, min_truth=min_truth, min_usefulness=min_usefulness, status=status,
                                   file=file, labels=labels, triage=triage, limit=limit)
        except RebuttalError as exc:
            raise tool_error(exc) from None

    @mcp.tool(name="triage")
    async def triage_tool(run_id: str, finding_ids: list[str], label: Literal["accept", "dismiss"],
                          note: str = "") -> dict[str, Any]:
        """Accept or dismiss findings of a run (saved in its triage.yaml; labels feed `rebuttal calibrate`)."""
        try:
            run_dir = run_dir_of(runs_dir, run_id)
            report = RunDir(run_dir).report()
            known = {f.id for f in report.findings}
            if unknown := [fid for fid in finding_ids if fid not in known]:
                raise ToolError(f"no finding {', '.join(unknown)} in run {run_id}")
            if not finding_ids:
                raise ToolError("give at least one finding id")
            at = datetime.now(UTC).isoformat(timespec="seconds")
            tri = set_labels(run_dir, report.run_id, dict.fromkeys(finding_ids, label), at=at, note=note)
        except RebuttalError as exc:
            raise tool_error(exc) from None
        return {"run_id": run_id, "labels": {k: v.label for k, v in sorted(tri.findings.items())}}

    def read(run_id: str, relative: str) -> str:
        try:
            return artifact_path(run_dir_of(runs_dir, run_id), relative).read_text(encoding="utf-8")
        except RebuttalError as exc:
            raise ResourceError(str(exc)) from None
        except UnicodeDecodeError:
            raise ResourceError(f"artifact {relative!r} is not UTF-8 text") from None

    @mcp.resource("rebuttal://runs", name="runs", mime_type="application/json")
    def runs_resource() -> str:
        """The runs in the server's runs folder, newest first, with their artifacts."""
        rows = [{**r.as_dict(), "artifacts": list_artifacts(r.path)} for r in list_runs(runs_dir)] \
            if runs_dir.exists() else []
        return json.dumps(rows, indent=2, default=str)

    @mcp.resource(f"rebuttal://runs/{{run_id}}/{rundir.REPORT_MD}", name="review-findings", mime_type="text/markdown")
    def report_md(run_id: str) -> str:
        """A run's compiled report (markdown)."""
        return read(run_id, rundir.REPORT_MD)

    @mcp.resource(f"rebuttal://runs/{{run_id}}/{rundir.REPORT_JSON}", name="report-json", mime_type="application/json")
    def report_json(run_id: str) -> str:
        """A run's report, machine-readable."""
        return read(run_id, rundir.REPORT_JSON)

    @mcp.resource("rebuttal://runs/{run_id}/artifacts/{+path}", name="artifact", mime_type="text/plain")
    def artifact(run_id: str, path: str) -> str:
        """Any text artifact of a run by its path, e.g. reviews/<persona>-review.md (read-only)."""
        return read(run_id, path)

    return mcp


def serve(runs_dir: Path, *, model: str, http_port: int | None = None) -> None:
    """Serve over stdio, or over streamable HTTP on 127.0.0.1 when a port is given."""
    server = build_server(runs_dir, default_model=model)
    if http_port is None:
        server.run("stdio")
    else:
        server.run("streamable-http", host="127.0.0.1", port=http_port)

