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
from engine.config import Budget, RunSettings, Workflow, load_workflow, persona_library
from engine.errors import ConfigError
from engine.estimate import Estimate, budget_warning, estimate
from engine.llm.gateway import ModelFactory
from engine.llm.providers import parse_model, preflight
from engine.llm.speed import Speed
from engine.models import Report
from engine.rundir import RunDir
from engine.target import ingest
from engine.target.snapshot import TargetSnapshot

LOCAL_DEFAULTS = {"personas": 3, "k": 1}  # smaller panels for the embedded model, which is slow on a CPU
MODEL_DEFAULTS = {"personas": 5, "k": 3}


def panel_size(personas: int | None, k: int | None, wf: Workflow, local: bool) -> tuple[int, int]:
    """(personas, k) by precedence: the option given (or the profile's, already applied) > what the workflow file
    states in `defaults` > the model-dependent default (smaller for the local model)."""
    stated = wf.defaults.model_fields_set
    fallback = LOCAL_DEFAULTS if local else MODEL_DEFAULTS
    n = personas if personas is not None else (wf.defaults.personas if "personas" in stated else fallback["personas"])
    k = k if k is not None else (wf.defaults.k if "k" in stated else fallback["k"])
    return n, k


def build_settings(
    target: str, *, workflow: str = "debate", personas: int | None = None, persona: list[str] | None = None,
    k: int | None = None, model: str | None = None, panel: list[str] | None = None, judge: str | None = None,
    judge_fallback: str | None = None, diff: str | None = None, run_id: str | None = None,
    max_calls: int | None = None, max_tokens: int | None = None, max_usd: float | None = None,
    concurrency: int | None = None, strict: bool = False, seed: int = 0,
    prices: dict[str, tuple[float, float]] | None = None, execute: bool | None = None,
    execute_unsafe: bool = False,
) -> RunSettings:
    """RunSettings from options; panel size by `panel_size`'s precedence."""
    wf = load_workflow(workflow)
    model = model or "local"
    panel = [m.strip() for p in panel or [] for m in p.split(",") if m.strip()]
    for m in [model, *panel, *([judge] if judge else []), *([judge_fallback] if judge_fallback else [])]:
        parse_model(m)
    local = parse_model(model).provider == "local"
    n, k = panel_size(personas, k, wf, local)
    if persona:
        lib = persona_library()
        if missing := [p for p in persona if p not in lib]:
            raise ConfigError(f"unknown persona(s): {', '.join(missing)} (see `rebuttal personas`)")
    try:
        return RunSettings(
            run_id=run_id or "pending", target=str(target), diff=diff, workflow=workflow,
            personas=len(persona) if persona else n, persona_slugs=persona or [], k=k, model=model, panel=panel,
            judge=judge, judge_fallback=judge_fallback,
            concurrency=(4 if local else 16) if concurrency is None else concurrency,  # 0 is an error, not the default
            budget=Budget(max_calls=max_calls, max_tokens=max_tokens, max_usd=max_usd), strict=strict, seed=seed,
            prices=prices or {}, created=datetime.now(UTC).isoformat(timespec="seconds"),
            execute=bool(execute_unsafe or (wf.defaults.execute if execute is None else execute)),
            execute_unsafe=execute_unsafe,
        )
    except ValidationError as exc:
        e = exc.errors()[0]
        raise ConfigError(f"option {'.'.join(map(str, e['loc']))}: {e['msg']}") from None


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


def estimate_run(settings: RunSettings, workflow: Any, snapshot: TargetSnapshot) -> Estimate:
    """The estimate, with a wall time where the local model's speed has been measured on this machine."""
    return estimate(settings, workflow, snapshot, speed=measured_speed(settings), slots=local_slots(settings))


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
