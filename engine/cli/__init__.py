"""The `rebuttal` command: parse, call, print. Everything else lives in the engine."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import threading
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from engine import api, runner, yamlio
from engine.config import Budget, load_workflow, persona_library, workflow_library
from engine.console import err, fail, out, print_notes
from engine.errors import ConfigError, RebuttalError
from engine.llm.providers import parse_model
from engine.models import Report
from engine.options import BUDGET, RESUME_HELP, command_line, with_options
from engine.rundir import RunDir
from engine.target import ingest
from engine.trace import render_trace, trace

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__ and "Multi-agent review: personas review, "
                  "respond, rebut and compile one scored, traceable report.")

Opt = typer.Option


def load_prices(path: Path | None) -> dict[str, tuple[float, float]]:
    """Prices from a YAML file of `model: [usd_in_per_M, usd_out_per_M]`."""
    if path is None:
        return {}
    try:
        data = yamlio.load(path.read_text(encoding="utf-8"))
        return {str(k): (float(v[0]), float(v[1])) for k, v in data.items()}
    except (OSError, yaml.YAMLError, AttributeError, TypeError, ValueError, IndexError):
        raise ConfigError(f"{path}: prices must be a YAML mapping like 'openai:x: [0.15, 0.60]'") from None


def staged_diff(diff: str | None) -> str:
    """The --diff spec of `--staged`; refuses a second range."""
    from engine.target.gitsource import STAGED

    if diff not in (None, STAGED):
        raise ConfigError("give either --staged or --diff, not both")
    return STAGED


def print_result(run_dir: Path, report: Report, as_json: bool) -> None:
    if as_json:
        data = json.loads(report.model_dump_json())
        print(json.dumps({"run_dir": str(run_dir), "complete": report.complete, "findings": data["findings"],
                          "total": data["total"]}, indent=2))
        return
    from engine.cli.report import findings_table

    out.print(findings_table(report, "Top findings"))
    tot = report.total
    cost = f"{tot.calls} calls, {tot.prompt_tokens + tot.completion_tokens} tokens, ${tot.cost_usd:.4f}" if tot else ""
    status = "complete" if report.complete else f"PARTIAL ({report.partial_reason})"
    out.print(f"[bold]{status}[/] — judge {report.judge} — {cost}")
    print_notes(report.degraded)
    out.print(f"Report: {RunDir(run_dir).report_md}")
    out.print(f"Trace a finding: rebuttal trace {run_dir} F-001")
    if not report.complete and (report.partial_reason or "").startswith("budget"):
        out.print(f"To go on: rebuttal resume {run_dir} --max-calls N (or --max-tokens / --max-usd), larger than "
                  "the budget that stopped it; finished calls are replayed, not repeated")


EXIT_BUDGET = 3  # a budget stopped the run: the report is partial (docs/when-things-go-wrong.md)


def budget_stopped(report: Report) -> bool:
    """Whether a budget stopped the run before its report was complete."""
    return not report.complete and (report.partial_reason or "").startswith("budget")


async def until_signal(coro: Awaitable[Report]) -> Report:
    """Await the engine; SIGINT/SIGTERM cancel it at its next await, so no finished call is cut half-saved."""
    task = asyncio.current_task()
    if task is None or threading.current_thread() is not threading.main_thread():
        return await coro
    loop, sigs = asyncio.get_running_loop(), (signal.SIGINT, signal.SIGTERM)
    before = {sig: signal.getsignal(sig) for sig in sigs}
    for sig in sigs:
        loop.add_signal_handler(sig, task.cancel)
    try:
        return await coro
    finally:
        for sig in sigs:
            loop.remove_signal_handler(sig)
            signal.signal(sig, before[sig])


def format_duration(seconds: float) -> str:
    """12 s, 4 min 05 s, 1 h 02 min."""
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def remaining_s(elapsed: float, done: int, total: int, predicted: float | None) -> float | None:
    """Seconds left: the measured pace once a call has finished, else the prediction (None without one). Pure."""
    if done <= 0:
        return None if predicted is None else max(predicted - elapsed, 0.0)
    pace = elapsed * max(total - done, 0) / done
    if predicted is None:
        return pace
    return (pace + max(predicted - elapsed, 0.0)) / 2  # the first calls (long prompts) are the slowest


def run_async(run_dir: Path, coro_fn: Any, quiet: bool = False, *, calls: int | None = None,
              predicted_s: float | None = None) -> Report:
    """Run the engine with a progress display (elapsed and remaining time); Ctrl-C stops cleanly."""
    bar = None if quiet or not err.is_terminal else Progress(
        TextColumn("{task.description:<10}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        TextColumn("{task.fields[left]}"), console=err)
    tasks: dict[str, Any] = {}
    counts: dict[str, int] = {}
    start = time.monotonic()

    def left() -> str:
        done = sum(counts.values())
        rest = remaining_s(time.monotonic() - start, done, max(calls or 0, done), predicted_s)
        return "" if rest is None or not calls else f"~{format_duration(rest)} left"

    def show(stage: str, done: int, total: int) -> None:
        if quiet:
            return
        counts[stage] = done
        if bar is None:
            if done:
                note = left()
                err.print(f"  {stage:<10} {done}/{total}  elapsed {format_duration(time.monotonic() - start)}"
                          f"{'  ' + note if note else ''}", highlight=False)
            return
        if "run" not in tasks and calls:
            tasks["run"] = bar.add_task("all calls", total=calls, left="")
        if stage not in tasks:
            tasks[stage] = bar.add_task(stage, total=max(total, 1), left="")
        bar.update(tasks[stage], completed=done, total=max(total, done, 1))
        if "run" in tasks:
            bar.update(tasks["run"], completed=sum(counts.values()), total=max(calls or 0, sum(counts.values())),
                       left=left())

    try:
        if bar is None:
            return asyncio.run(until_signal(coro_fn(show)))
        with bar:
            return asyncio.run(until_signal(coro_fn(show)))
    except (KeyboardInterrupt, asyncio.CancelledError):
        err.print(f"interrupted: finished work is saved. Resume with: rebuttal resume {run_dir}", soft_wrap=True,
                  highlight=False, markup=False)
        raise typer.Exit(130) from None


@app.command()
@with_options("cli")
def review(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(help="File, folder, git repository or document to review.")],
    diff: Annotated[str | None, Opt(help="Review a change: BASE..HEAD or BASE.")] = None,
    staged: Annotated[bool, Opt(help="Review the staged change (HEAD..index), as a pre-commit hook does.")] = False,
    out_dir: Annotated[Path, Opt("--out", help="Folder for run directories.")] = Path("runs"),
    run_id: Annotated[str | None, Opt(help="Run id (default: time-target-random).")] = None,
    prices: Annotated[Path | None, Opt(help="YAML: model -> USD per million input and output tokens.")] = None,
    as_json: Annotated[bool, Opt("--json", help="Print one JSON object instead of tables.")] = False,
    quiet: Annotated[bool, Opt("--quiet", "-q", help="No progress lines.")] = False,
    fail_on: Annotated[str | None, Opt(help="Exit 1 if a finding matches, e.g. 'severity>=high'")] = None,
    sarif: Annotated[Path | None, Opt(help="Also write SARIF 2.1.0 here.")] = None,
    markdown_summary: Annotated[Path | None, Opt(help="Also write a pull-request summary here.")] = None,
    **options: Any,
) -> None:
    """Review TARGET with a panel of personas and write a run directory."""
    from engine.cli.report import ci_exit
    from engine.report.ci import parse_fail_on

    try:
        if staged:
            diff = staged_diff(diff)
        if fail_on:
            parse_fail_on(fail_on)  # a malformed gate fails before any call is made
        settings = api.build_settings(target, command_line(ctx, options), diff=diff, run_id=run_id,
                                      prices=load_prices(prices))
        prep = api.prepare(settings, out_dir)
        s = prep.settings
        if not quiet and not as_json:
            err.print(f"run {s.run_id}: {len(prep.target.files)} file(s), workflow {prep.workflow.name}, "
                      f"{s.personas} personas, k={s.k}, model {s.model}, judge {s.judge_model}; "
                      f"~{prep.estimate.calls} calls"
                      + (f", ~{format_duration(prep.estimate.wall_s)}" if prep.estimate.wall_s else ""),
                      highlight=False)
        if prep.warning:
            err.print(f"[yellow]warning:[/] {prep.warning}")
        report = run_async(prep.run_dir, lambda show: api.execute(prep, listener=show), quiet or as_json,
                           calls=prep.estimate.calls, predicted_s=prep.estimate.wall_s)
    except RebuttalError as exc:
        fail(str(exc))
        return
    print_result(prep.run_dir, report, as_json)
    ci = fail_on or sarif or markdown_summary
    code = ci_exit(report, prep.run_dir, fail_on, sarif, markdown_summary) if ci else 0
    if code or budget_stopped(report):
        raise typer.Exit(code or EXIT_BUDGET)


@app.command()
@with_options("budget", help=RESUME_HELP)
def resume(
    ctx: typer.Context,
    run_dir: Annotated[Path, typer.Argument(help="A run directory.")],
    as_json: Annotated[bool, Opt("--json")] = False,
    quiet: Annotated[bool, Opt("--quiet", "-q")] = False,
    **options: Any,
) -> None:
    """Finish an interrupted run, or take a budget-stopped one further; finished calls are never made again."""
    try:
        budget = Budget(**command_line(ctx, options, BUDGET).model_dump(include=set(BUDGET)))
        runner.load_run(run_dir)  # a clear error before starting when it is not a run directory
        report = run_async(run_dir, lambda show: api.resume(run_dir, listener=show, budget=budget), quiet or as_json)
    except RebuttalError as exc:
        fail(str(exc))
        return
    print_result(run_dir, report, as_json)
    if budget_stopped(report):
        raise typer.Exit(EXIT_BUDGET)


@app.command("trace")
def trace_cmd(
    run_dir: Annotated[Path, typer.Argument(help="A run directory.")],
    ref: Annotated[str, typer.Argument(help="Finding id (F-001), review issue id (R-x#2) or artifact id/path.")],
    fmt: Annotated[str, Opt("--format", help="text or json")] = "text",
) -> None:
    """Print the chain behind a finding: findings files, review issues, responses and rebuttals."""
    try:
        t = trace(run_dir, ref)
    except RebuttalError as exc:
        fail(str(exc))
        return
    if fmt == "json":
        print(json.dumps(t, indent=2))
    else:
        print(render_trace(t))


@app.command("estimate")
@with_options("cli")
def estimate_cmd(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(help="File, folder, git repository or document.")],
    diff: Annotated[str | None, Opt(help="Estimate the review of a change: BASE..HEAD or BASE.")] = None,
    prices: Annotated[Path | None, Opt(help="YAML: model -> USD per million input and output tokens.")] = None,
    **options: Any,
) -> None:
    """Print calls, tokens and cost per stage of `review` with the same options, without calling any model."""
    try:
        settings = api.build_settings(target, command_line(ctx, options), diff=diff, prices=load_prices(prices))
        est = api.estimate_run(settings, load_workflow(settings.workflow), ingest(target, diff=diff))
    except RebuttalError as exc:
        fail(str(exc))
        return
    t = Table(title=f"Estimate: {settings.workflow}, {settings.personas} personas, k={settings.k}, {settings.model}")
    local = parse_model(settings.model).provider == "local"
    cols = ["stage", "calls", "prompt tokens", *(["of them cached"] if local else []), "completion tokens",
            "cost (USD)", *(["wall (s)"] if est.wall_s is not None else [])]
    for col in cols:
        t.add_column(col)
    for r in est.stages:
        t.add_row(r.stage, str(r.calls), str(r.prompt_tokens), *([str(r.prompt_cached)] if local else []),
                  str(r.completion_tokens), "unknown" if r.cost_usd is None else f"{r.cost_usd:.4f}",
                  *([f"{r.wall_s:.0f}"] if r.wall_s is not None else []))
    total_cost = "unknown" if est.cost_usd is None else f"{est.cost_usd:.4f}"
    prompt = sum(r.prompt_tokens for r in est.stages)
    t.add_row("total", str(est.calls), str(prompt), *([str(est.prompt_cached)] if local else []),
              str(est.tokens - prompt), total_cost, *([f"{est.wall_s:.0f}"] if est.wall_s is not None else []))
    out.print(t)
    if est.speed is not None and est.wall_s is not None:
        sp = est.speed
        out.print(f"expected wall time: {format_duration(est.wall_s)} at {sp.prompt_tps:.0f} prompt / {sp.gen_tps:.0f} "
                  f"generated tok/s (measured {sp.measured[:16]} by {sp.source}, {sp.threads} threads, load "
                  f"{sp.load1:.1f}); {est.prompt_cached / max(1, prompt):.0%} of the "
                  "prompt tokens expected from the prompt cache", highlight=False)
    elif local:
        out.print("expected wall time: not measured on this machine yet; run `python benchmarks/local_model.py` "
                  "(or one review) first", highlight=False)


@app.command("personas")
def personas_cmd() -> None:
    """List the persona library."""
    try:
        lib = persona_library()
    except RebuttalError as exc:
        fail(str(exc))
        return
    t = Table(title="Persona library (personas/*.md)")
    for col in ("slug", "name", "for", "focus"):
        t.add_column(col)
    for p in lib.values():
        t.add_row(p.slug, p.name, p.applies_to, ", ".join(p.focus))
    out.print(t)


@app.command("workflows")
def workflows_cmd() -> None:
    """List the workflows."""
    try:
        lib = workflow_library()
    except RebuttalError as exc:
        fail(str(exc))
        return
    t = Table(title="Workflows (workflows/*.yaml)")
    for col in ("name", "stages", "description"):
        t.add_column(col)
    for wf in lib.values():
        t.add_row(wf.name, " → ".join(s.stage for s in wf.stages), wf.description)
    out.print(t)


# Extension commands: each module below defines `register(app)` (one line per module).
# -- extension commands --
from engine.cli.mcp import register as _register_mcp  # noqa: E402
from engine.cli.report import register as _register_report  # noqa: E402
from engine.cli.serve import register as _register_serve  # noqa: E402
from engine.cli.truth import register as _register_truth  # noqa: E402

_register_report(app)
_register_serve(app)
_register_truth(app)
_register_mcp(app)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main() -> None:
    """Console entry point."""
    # Ctrl-C and SIGTERM stop cleanly even when the parent started us with SIGINT ignored.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        app()
    except RebuttalError as exc:  # errors raised outside a command body
        err.print(f"error: {exc}")
        sys.exit(2)
