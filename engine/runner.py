"""Create, run and resume a run directory: run.yaml, target.json, checkpointed graph execution."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from pydantic import ValidationError

from engine import rundir, yamlio
from engine.config import Budget, RunSettings, Workflow, load_workflow, load_workflow_file
from engine.context import Progress, RunContext
from engine.errors import ConfigError, RebuttalError, RunBusyError
from engine.graph import build_graph
from engine.llm.gateway import Gateway, ModelFactory
from engine.llm.providers import make_chat_model
from engine.paths import slugify
from engine.rundir import RunDir
from engine.store import configured_backend, open_saver
from engine.target.secrets import redact_name
from engine.target.snapshot import TargetSnapshot
from engine.verify import calibration

STATE_TYPES = ["Persona", "Issue", "Review", "Pick", "ResponsePoint", "Response", "RebuttalPoint", "Rebuttal",
               "FindingItem", "PersonaFindings", "Critique", "Scores", "Stance", "Finding", "Failure", "CostLine",
               "Report", "FindingMember", "DebateSummary", "AttachedReproducer"]  # tests/test_checkpoint_types.py
VERIFY_TYPES = ["Check", "Subject", "Verification"]
CLAIM_TYPES = ["Claim", "Hit"]  # a document's claims and cross-checks (state: claims, claim_hits)


def new_run_id(target_name: str, now: datetime | None = None) -> str:
    """`YYYYMMDD-HHMMSS-<target>-<random>`: sortable and unique across concurrent runs."""
    now = now or datetime.now(UTC)
    return f"{now:%Y%m%d-%H%M%S}-{slugify(target_name, 'target')[:24]}-{secrets.token_hex(3)}"


def default_factory(settings: RunSettings) -> ModelFactory:
    """Chat models by name, sized for the run's concurrency."""
    return lambda name, max_tokens: make_chat_model(name, max_tokens=max_tokens, slots=min(settings.concurrency, 4))


def serializer() -> JsonPlusSerializer:
    """Checkpoint serializer that may revive exactly our state records."""
    return JsonPlusSerializer(allowed_msgpack_modules=[("engine.models", t) for t in STATE_TYPES]
                              + [("engine.verify.checks", t) for t in VERIFY_TYPES]
                              + [("engine.claims.model", t) for t in CLAIM_TYPES]
                              + [("engine.claims.quantities", "Quantity")])


def create_run_dir(out: Path, run_id: str) -> Path:
    """Make the run directory; refuses to reuse an existing one, unless a signal stopped its creation before
    run.yaml was written (then it holds nothing of value and is reused)."""
    run_dir = out / slugify(run_id, "run")
    try:
        run_dir.mkdir(parents=True, exist_ok=False)
    except FileExistsError:
        if RunDir(run_dir).unstarted():
            return run_dir
        raise ConfigError(f"run directory already exists: {run_dir} (use `rebuttal resume {run_dir}`)") from None
    except OSError as exc:
        raise ConfigError(f"cannot create the run directory {run_dir}: {exc.strerror or type(exc).__name__}") from None
    return run_dir


def remove_unstarted(run_dir: Path) -> None:
    """Delete a run directory whose creation stopped before run.yaml (it holds nothing paid for)."""
    if RunDir(run_dir).unstarted():
        for p in run_dir.iterdir():
            p.unlink()
        run_dir.rmdir()


def write_run_files(run_dir: Path, settings: RunSettings, workflow: Workflow, target: TargetSnapshot,
                    nonce: str) -> None:
    """run.yaml (settings, target metadata, judge, skips) and target.json (the redacted snapshot)."""
    info: dict[str, Any] = {
        "run_id": settings.run_id,
        "created": settings.created,
        "workflow": workflow.name,
        "judge": settings.judge_model,
        "target": {
            "path": target.root, "kind": target.kind, "files": len(target.files),
            "git": target.git.model_dump() if target.git else None,
            "redactions": target.redactions,
            "skipped": [s.model_dump() for s in target.skipped],
            **({"notes": [s.model_dump() for s in target.notes]} if target.notes else {}),
        },
        "nonce": nonce,
        "settings": settings.model_copy(update={"target": redact_name(settings.target)}).model_dump(mode="json"),
    }
    # the judge model picks the shipped fit; the run keeps its own copy: resuming it later scores the same way
    cal, source = calibration.resolve(settings.judge_model)
    run = RunDir(run_dir)
    calibration.save(cal, run.calibration)
    info["calibration"] = {"name": cal.name, "kind": cal.kind, "source": source, "label": cal.label}
    if configured_backend() == "postgres":  # recorded so a resume without the database fails clearly
        info["checkpoints"] = "postgres"
    run.write(rundir.TARGET, target.model_dump_json())
    run.write(rundir.WORKFLOW, yaml.safe_dump(workflow.model_dump(mode="json", exclude_unset=True), sort_keys=False))
    run.save_info(info)  # last: a run directory with run.yaml has everything resume needs


def load_run(run_dir: Path) -> tuple[RunSettings, Workflow, TargetSnapshot, str]:
    """Read back what a run needs to resume: one ConfigError line when a file is missing or damaged."""
    run = RunDir(run_dir)
    path = run.run_yaml
    if not path.exists():
        hint = " (its creation was interrupted before it started: run the review again)" if run.unstarted() else ""
        raise ConfigError(f"not a run directory (no run.yaml): {run_dir}{hint}")
    try:
        info = yamlio.load(path.read_text(encoding="utf-8"))
        settings = RunSettings.model_validate(info["settings"])
        nonce = str(info["nonce"])
    except (OSError, UnicodeDecodeError, yaml.YAMLError, KeyError, TypeError, ValidationError) as exc:
        raise ConfigError(f"{path}: damaged run.yaml ({type(exc).__name__}); cannot resume") from None
    target_path = run.target_json
    try:
        target = TargetSnapshot.model_validate_json(target_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{target_path} is missing; cannot resume this run") from None
    except (OSError, UnicodeDecodeError, ValidationError) as exc:
        raise ConfigError(f"{target_path}: damaged target snapshot ({type(exc).__name__}); cannot resume") from None
    return settings, _run_workflow(run_dir, settings), target, nonce


def _run_workflow(run_dir: Path, settings: RunSettings) -> Workflow:
    """The workflow snapshot taken when the run started (runs made before snapshots: by name or path)."""
    snap = RunDir(run_dir).workflow_yaml
    if not snap.exists():
        return load_workflow(settings.workflow)
    return load_workflow_file(snap)


def raise_budget(run_dir: Path, settings: RunSettings, budget: Budget) -> RunSettings:
    """Apply a larger budget to a run (the limits given replace the saved ones; the rest stay) and save it.

    A run that a budget already stopped is finished; it gets a new pass, which replays every finished
    call from calls/ at no cost and goes on from where the budget stopped it. The budget counts the
    whole run, what was spent before included.
    """
    given = budget.model_dump(exclude_none=True)
    new_budget = settings.budget.model_copy(update=given)
    update: dict[str, Any] = {"budget": new_budget}
    run = RunDir(run_dir)
    data = run.optional_json(rundir.REPORT_JSON)
    if data and not data.get("complete", True) and str(data.get("partial_reason") or "").startswith("budget"):
        update["passes"] = settings.passes + 1
    settings = settings.model_copy(update=update)
    info = run.info()
    info["settings"] = settings.model_dump(mode="json")
    run.save_info(info)
    return settings


def make_nonce(target: TargetSnapshot) -> str:
    """A per-run marker that does not occur in the target, so the target cannot forge it."""
    while True:
        nonce = secrets.token_hex(8)
        if not any(nonce in f.text for f in target.files):
            return nonce


@contextlib.contextmanager
def run_lock(run_dir: Path) -> Iterator[None]:
    """Hold `run.lock` while a run executes, so a second `resume` of the same directory is refused, not
    interleaved with the first in one checkpoint database. The lock dies with its process (flock)."""
    try:
        import fcntl
    except ImportError:  # no flock (Windows): runs are not guarded against concurrent resumes
        yield
        return
    path = RunDir(run_dir).lock
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "another process"
            raise RunBusyError(f"run {run_dir} is already executing (pid {holder}); wait for it to finish or stop "
                               "it, then resume") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def sweep_temp_files(run_dir: Path) -> None:
    """Remove the half-written temp files (`.<name>.<random>.tmp`) a kill -9 can leave behind."""
    for tmp in run_dir.rglob(".*.tmp"):
        if tmp.is_file() and not tmp.is_symlink():
            tmp.unlink(missing_ok=True)


async def execute(
    run_dir: Path, settings: RunSettings, workflow: Workflow, target: TargetSnapshot, nonce: str, *,
    factory: ModelFactory | None = None, listener: Callable[[str, int, int], None] | None = None,
    clock: Callable[[], str] | None = None,
) -> dict[str, Any]:
    """Run (or resume) the workflow graph to its report and return the final state: under the run lock, after the
    temp-file sweep, checkpointed in the run directory's SQLite file or in PostgreSQL (see `api.run`)."""
    progress = Progress(listener=listener or (lambda s, d, t: None))
    gateway = Gateway(run_dir=run_dir, settings=settings, factory=factory or default_factory(settings),
                      on_call_done=progress.advance)
    ctx = RunContext(settings=settings, workflow=workflow, target=target, run_dir=run_dir, gateway=gateway,
                     nonce=nonce, progress=progress,
                     clock=clock or (lambda: datetime.now(UTC).isoformat(timespec="seconds")))
    # its own `configurable` replaces a calling graph's (the LangGraph Server's node), so the run keeps its own
    # checkpointer and thread instead of becoming that graph's subgraph
    config: dict[str, Any] = {"configurable": {"thread_id": settings.thread_id}, "recursion_limit": 200}
    with run_lock(run_dir):
        sweep_temp_files(run_dir)
        state = await _execute_locked(run_dir, workflow, ctx, config)
    if state.get("report") is None:
        raise RebuttalError(f"the run ended without a report; resume it with: rebuttal resume {run_dir}")
    return state


async def _execute_locked(run_dir: Path, workflow: Workflow, ctx: RunContext,
                          config: dict[str, Any]) -> dict[str, Any]:
    async with open_saver(run_dir, serializer()) as saver:  # checkpoint.sqlite, or PostgreSQL (engine/store.py)
        graph = build_graph(workflow).compile(checkpointer=saver)
        snapshot = await graph.aget_state(config)
        if snapshot.values.get("report") is not None and not snapshot.next:
            return dict(snapshot.values)
        start = None if snapshot.next else {}
        final = await graph.ainvoke(start, config, context=ctx)
    return dict(final) if isinstance(final, dict) else {}
