"""This machine's measured speed of a local model, cached, and the wall time it predicts for a run."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from engine.errors import ConfigError
from engine.llm.ledger import LedgerLine


class Speed(BaseModel):
    """Rates of one local model on this machine: single-stream prompt and generation, aggregate generation."""

    model_config = ConfigDict(extra="forbid")
    model: str
    prompt_tps: float
    gen_tps: float
    aggregate_gen_tps: float | None = None  # all `slots` generating at once
    slots: int
    threads: int
    load1: float  # 1-minute load average when measured: a busy machine measures slow
    measured: str
    source: str  # "benchmark" (benchmarks/local_model.py) or "run <id>" (a review's ledger)


def speed_file(cache: Path) -> Path:
    """Where measured speeds are cached (one entry per local model)."""
    return cache / "speed.json"


def load_speed(cache: Path, model: str) -> Speed | None:
    """The cached speed of a model, or None; a corrupt cache file is a clear error."""
    path = speed_file(cache)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Speed.model_validate(data[model]) if model in data else None
    except (ValueError, ValidationError) as exc:
        raise ConfigError(f"{path}: not a valid speed cache ({str(exc)[:200]}); delete it to measure again") from None


def save_speed(cache: Path, speed: Speed) -> None:
    """Store a model's speed in the cache (other models' entries kept)."""
    path = speed_file(cache)
    data = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    data[speed.model] = speed.model_dump()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


def _interval(line: LedgerLine) -> tuple[float, float]:
    start = datetime.fromisoformat(line.started).timestamp() if line.started else 0.0
    return start, start + line.latency_s


def concurrent_groups(lines: list[LedgerLine]) -> list[list[LedgerLine]]:
    """Calls grouped by overlapping [start, start + latency] intervals, in start order (pure)."""
    groups: list[list[LedgerLine]] = []
    end = float("-inf")
    for line in sorted(lines, key=lambda x: _interval(x)[0]):
        start, stop = _interval(line)
        if groups and start < end - 1.0:  # `started` has one-second resolution
            groups[-1].append(line)
            end = max(end, stop)
        else:
            groups.append([line])
            end = stop
    return groups


def speed_from_ledger(lines: list[LedgerLine], model: str, *, slots: int, threads: int, load1: float,
                      run_id: str) -> Speed | None:
    """Rates from a run's server timings (None without enough timed tokens). Pure.

    Single-stream rates come from the calls that ran alone (the persona and judge calls); the aggregate
    generation rate from the group of calls that ran side by side and generated the most (all their tokens
    over the longest generation among them). Without a lone call, the per-stream rates of parallel calls are
    used: they err slow.
    """
    timed = [x for x in lines if x.model == model and x.prompt_eval_ms and x.generation_ms and x.outcome == "ok"]
    groups = concurrent_groups(timed)
    alone = [g[0] for g in groups if len(g) == 1] or timed
    evaluated = sum(x.prompt_tokens - (x.prompt_cached or 0) for x in alone)
    generated = sum(x.completion_tokens for x in alone)
    if evaluated < 50 or generated < 50:
        return None
    prompt_s = sum(x.prompt_eval_ms or 0.0 for x in alone) / 1000
    gen_s = sum(x.generation_ms or 0.0 for x in alone) / 1000
    parallel = [g for g in groups if len(g) > 1]
    # the parallel group that generated the most: a wave of tiny yes/no judge answers is wide but measures
    # the waiting between tokens, not the generation rate of a review fan-out
    widest = max(parallel, key=lambda g: sum(x.completion_tokens for x in g)) if parallel else groups[0]
    aggregate = None
    if len(widest) > 1:
        aggregate = round(sum(x.completion_tokens for x in widest) / max((x.generation_ms or 0.0) / 1000
                                                                         for x in widest), 2)
    return Speed(model=model, prompt_tps=round(evaluated / prompt_s, 2), gen_tps=round(generated / gen_s, 2),
                 aggregate_gen_tps=aggregate, slots=len(widest) if aggregate else slots, threads=threads,
                 load1=round(load1, 2), measured=datetime.now(UTC).isoformat(timespec="seconds"),
                 source=f"run {run_id}")


def generation_speedup(speed: Speed, width: int) -> float:
    """How much faster `width` streams generate together than one, interpolated from the measurement."""
    if width <= 1 or not speed.aggregate_gen_tps or speed.slots <= 1:
        return 1.0
    full = speed.aggregate_gen_tps / speed.gen_tps
    return 1.0 + (full - 1.0) * (min(width, speed.slots) - 1) / (speed.slots - 1)


def stage_seconds(speed: Speed, *, calls: int, evaluated: int, generated: int, slots: int) -> float:
    """Predicted wall time of one stage: evaluated prompt tokens one after another, generation batched. Pure."""
    if calls <= 0:
        return 0.0
    width = min(calls, slots)
    return evaluated / speed.prompt_tps + generated / (speed.gen_tps * generation_speedup(speed, width))
