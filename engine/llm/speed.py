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


def speed_from_ledger(lines: list[LedgerLine], model: str, *, slots: int, threads: int, load1: float,
                      run_id: str) -> Speed | None:
    """Per-stream rates from a run's server timings (None without enough timed tokens). Pure.

    Calls that ran side by side share the CPU, so these per-stream rates are lower than a quiet single
    stream's: an estimate from them errs long, never short, until the benchmark measures the real rates.
    """
    timed = [x for x in lines if x.model == model and x.prompt_eval_ms and x.generation_ms and x.outcome == "ok"]
    evaluated = sum(x.prompt_tokens - (x.prompt_cached or 0) for x in timed)
    generated = sum(x.completion_tokens for x in timed)
    if evaluated < 50 or generated < 50:
        return None
    prompt_s = sum(x.prompt_eval_ms or 0.0 for x in timed) / 1000
    gen_s = sum(x.generation_ms or 0.0 for x in timed) / 1000
    return Speed(model=model, prompt_tps=round(evaluated / prompt_s, 2), gen_tps=round(generated / gen_s, 2),
                 slots=slots, threads=threads, load1=round(load1, 2),
                 measured=datetime.now(UTC).isoformat(timespec="seconds"), source=f"run {run_id}")


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
