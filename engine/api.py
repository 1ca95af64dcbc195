"""The programmatic entry points the CLI, the server and batch share."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from engine import runner
from engine.config import Budget, RunSettings, load_workflow, persona_refs
from engine.errors import ConfigError
from engine.estimate import Estimate, budget_warning, estimate
from engine.llm.gateway import ModelFactory
from engine.llm.providers import parse_model, preflight
from engine.llm.speed import Speed
from engine.models import Report
from engine.options import RunOptions, first_given, given, one_line, run_options
from engine.profiles import expand_panel, load_profile
from engine.rundir import RunDir
from engine.stages.verify import analyzer_tools
from engine.target import ingest
from engine.target.snapshot import TargetSnapshot
from engine.verify.analyzers import analyzable, run_analyzers
from engine.verify.matching import analyzer_review

BUILT_IN = RunOptions(workflow="debate", model="local", strict=False, seed=0, execute=False, execute_unsafe=False)
# The embedded model's defaults: `single` (one checklist review, the analyzers, verify and the judge), which
# measured best on it (benchmarks/RESULTS.md §2, §5: one call beat the debate and fusion on F1 at a third of their
# calls); a debate on it (`--workflow debate`) gets a smaller panel, as it is slow on a CPU.
LOCAL_DEFAULTS = RunOptions(workflow="single", personas=3, k=1, concurrency=4)
MODEL_DEFAULTS = RunOptions(personas=5, k=3, concurrency=16)


def merge(*layers: RunOptions) -> RunOptions:
    """The options given by `layers` (most explicit first), each followed by its `profile`'s; panels expanded."""
    chain: list[tuple[RunOptions, tuple[str, ...]]] = []
    for layer in layers:
        chain.append((layer, ()))
        if layer.profile:
            chain.append((run_options(load_profile(layer.profile)), (layer.profile,)))
    merged = first_given([layer for layer, _ in chain])
    if "panel" in merged:  # expanded with the profile it came from, so a cycle names the whole chain
        merged["panel"] = expand_panel(merged["panel"], next(names for layer, names in chain if given(layer.panel)))
    merged.pop("profile", None)  # applied: merging the result again gives the same options
    return RunOptions.model_validate(merged)


def resolve(*layers: RunOptions) -> RunOptions:
    """The options of a run, by the one precedence rule of the engine:

    explicit option > profile > workflow file defaults > model-dependent defaults (> built-in defaults).

    `layers` go from most to least explicit (a batch entry, then the batch's options; a server request, then the
    server's default model); a layer naming a `profile` is followed by that profile's options; per option the
    first layer that gives it wins. Then the workflow file's `defaults` (only what it states), then the defaults
    of the chosen model (on the embedded local model the `single` workflow, and a smaller panel for a debate), then
    `BUILT_IN`. Panel members
    `profile:NAME` and `mixed` are expanded. Every option but judges, budgets, panel and persona is then set.
    """
    head = merge(*layers)
    local = parse_model(head.model or str(BUILT_IN.model)).provider == "local"
    wf = load_workflow(head.workflow or str((LOCAL_DEFAULTS if local else BUILT_IN).workflow))
    stated = run_options(wf.defaults.model_dump(include=wf.defaults.model_fields_set))
    return RunOptions.model_validate(first_given([head, stated, LOCAL_DEFAULTS if local else MODEL_DEFAULTS,
                                                  BUILT_IN]))


def build_settings(target: str, *layers: RunOptions, diff: str | None = None, run_id: str | None = None,
                   prices: dict[str, tuple[float, float]] | None = None, **options: Any) -> RunSettings:
    """RunSettings for a target: `options` (keyword arguments, the most explicit layer), then `layers`, resolved by
    `resolve`; a bad option is a one-line ConfigError."""
    o = resolve(run_options(options), *layers)
    for m in [o.model, *(o.panel or []), o.judge, o.judge_fallback]:
        if m:
            parse_model(m)
    persona_slugs = persona_refs(o.persona or [])
    try:
        return RunSettings(
            run_id=run_id or "pending", target=str(target), diff=diff, workflow=o.workflow,
            personas=len(o.persona) if o.persona else o.personas, persona_slugs=persona_slugs, k=o.k,
            model=o.model, panel=o.panel or [], judge=o.judge, judge_fallback=o.judge_fallback,
            concurrency=o.concurrency, budget=Budget(max_calls=o.max_calls, max_tokens=o.max_tokens,
                                                     max_usd=o.max_usd),
            strict=o.strict, seed=o.seed, prices=prices or {}, created=datetime.now(UTC).isoformat(timespec="seconds"),
            execute=bool(o.execute_unsafe or o.execute), execute_unsafe=bool(o.execute_unsafe),
        )
    except ValidationError as exc:
        raise one_line(exc) from None


def check_out_dir(out_dir: Path) -> None:
    """A ConfigError, before anything is read or created, when run directories cannot be made under out_dir."""
    probe = out_dir.absolute()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise ConfigError(f"--out {out_dir}: {probe} is not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ConfigError(f"--out {out_dir}: {probe} is not writable")


@dataclass
class PreparedRun:
    """A run directory ready to execute: settings, workflow, snapshot, estimate."""

    run_dir: Path
    settings: RunSettings
    workflow: Any
    target: TargetSnapshot
    nonce: str
    estimate: Estimate
    warning: str | None


def local_slots(settings: RunSettings) -> int:
    """Server slots a run on the embedded model uses (the gateway's concurrency, at most 4)."""
    return min(settings.concurrency, 4)


def measured_speed(settings: RunSettings) -> Speed | None:
    """This machine's cached speed of the run's local model (None for other providers or before a measurement)."""
    spec = parse_model(settings.model)
    if spec.provider != "local":
        return None
    from engine.llm import local
    from engine.llm.speed import load_speed

    return load_speed(local.cache_dir(), local.resolve_local_name(spec.name))


def expected_analyzer_issues(workflow: Any, snapshot: TargetSnapshot) -> int:
    """How many issues the `analyzers` review will add: the workflow's analyzers run now (a second or two, no
    model), counted as if no persona raised any of their hits (the usual case on the embedded model)."""
    tools = analyzer_tools(workflow)
    if not tools or not analyzable(snapshot, tools):
        return 0
    review = analyzer_review(run_analyzers(snapshot, tools), [], {})
    return len(review.issues) if review is not None else 0


def estimate_run(settings: RunSettings, workflow: Any, snapshot: TargetSnapshot) -> Estimate:
    """The estimate, with a wall time where the local model's speed has been measured on this machine."""
    return estimate(settings, workflow, snapshot, speed=measured_speed(settings), slots=local_slots(settings),
                    analyzer_issues=expected_analyzer_issues(workflow, snapshot))


def remember_speed(run_dir: Path, settings: RunSettings) -> Speed | None:
    """After the first review on a local model, cache the speed its ledger shows (a benchmark's is kept)."""
    spec = parse_model(settings.model)
    if spec.provider != "local" or measured_speed(settings) is not None:
        return None
    import os

    from engine.llm import local
    from engine.llm.speed import save_speed, speed_from_ledger

    name = local.resolve_local_name(spec.name)
    server = local.running_server(name)
    if server is None:  # no call was made in this process
        return None
    found = speed_from_ledger(RunDir(run_dir).ledger_lines(), settings.model, slots=server.slots,
                              threads=server.threads, load1=os.getloadavg()[0], run_id=settings.run_id)
    if found is not None:
        save_speed(local.cache_dir(), found.model_copy(update={"model": name}))
    return found


def prepare(settings: RunSettings, out_dir: Path, *, check_providers: bool = True,
            snapshot: TargetSnapshot | None = None, nonce: str | None = None) -> PreparedRun:
    """Ingest, estimate, preflight the models, then create the run directory and its run.yaml."""
    check_out_dir(out_dir)
    snap = snapshot or ingest(settings.target, diff=settings.diff, exclude=(out_dir,))
    wf = load_workflow(settings.workflow)
    est = estimate_run(settings, wf, snap)
    if settings.budget.max_usd is not None and est.unknown_prices:
        raise ConfigError(f"--max-usd needs prices for: {', '.join(est.unknown_prices)} (use --prices FILE)")
    if settings.execute:  # refused here, before any call, when no sandbox works and no unsafe opt-out was given
        from engine.verify.sandbox import require_isolation

        require_isolation(settings.execute_unsafe)
    if check_providers:
        for m in sorted({settings.model, settings.judge_model, *settings.panel}
                        | ({settings.judge_fallback} if settings.judge_fallback else set())):
            preflight(m)
    if settings.run_id == "pending":
        settings = settings.model_copy(update={"run_id": runner.new_run_id(snap.name)})
    run_dir = runner.create_run_dir(out_dir, settings.run_id)
    nonce = nonce or runner.make_nonce(snap)
    try:
        runner.write_run_files(run_dir, settings, wf, snap, nonce)
    except BaseException:  # a signal or a full disk before run.yaml: leave no half-made run directory
        runner.remove_unstarted(run_dir)
        raise
    return PreparedRun(run_dir, settings, wf, snap, nonce, est, budget_warning(settings, est))


async def run(run_dir: Path, *, prepared: PreparedRun | None = None, factory: ModelFactory | None = None,
              listener: Callable[[str, int, int], None] | None = None, clock: Callable[[], str] | None = None,
              budget: Budget | None = None) -> dict[str, Any]:
    """The one way a run executes, from every entry point (CLI, HTTP server, batch, MCP, LangGraph Server): a
    prepared run, or the run directory read back (with `budget`, raised past a budget stop), run to its report
    by `runner.execute` (run lock, temp-file sweep, the run's checkpointer). Returns the final graph state."""
    if prepared is not None:
        settings, wf, snap, nonce = prepared.settings, prepared.workflow, prepared.target, prepared.nonce
    else:
        settings, wf, snap, nonce = await asyncio.to_thread(runner.load_run, run_dir)
        if budget is not None and budget.max_usd is not None:  # refused like review: a dollar cap needs prices
            settings_usd = settings.model_copy(update={"budget": budget})
            if unknown := estimate(settings_usd, wf, snap).unknown_prices:
                raise ConfigError(f"--max-usd needs prices for: {', '.join(unknown)} (saved in run.yaml's prices; "
                                  "this run has none for them)")
        if budget is not None and budget.model_dump(exclude_none=True):
            with runner.run_lock(run_dir):  # not while another process runs it
                settings = runner.raise_budget(run_dir, settings, budget)
    return await runner.execute(run_dir, settings, wf, snap, nonce, factory=factory, listener=listener, clock=clock)


async def execute(prepared: PreparedRun, *, factory: ModelFactory | None = None,
                  listener: Callable[[str, int, int], None] | None = None,
                  clock: Callable[[], str] | None = None) -> Report:
    """Run a prepared run to its report (the first one on a local model also caches its measured speed)."""
    state = await run(prepared.run_dir, prepared=prepared, factory=factory, listener=listener, clock=clock)
    if factory is None:
        remember_speed(prepared.run_dir, prepared.settings)
    report: Report = state["report"]
    return report


async def resume(run_dir: Path, *, factory: ModelFactory | None = None,
                 listener: Callable[[str, int, int], None] | None = None, budget: Budget | None = None) -> Report:
    """Resume an interrupted run from its directory; with `budget`, go on past a budget stop."""
    state = await run(run_dir, factory=factory, listener=listener, budget=budget)
    report: Report = state["report"]
    return report
