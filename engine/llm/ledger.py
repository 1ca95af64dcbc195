"""The run's ledger: one JSON line per LLM call attempt, and summaries of it."""

from __future__ import annotations

import json
import os
import threading
from collections import defaultdict
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from engine.models import CostLine


class LedgerLine(BaseModel):
    """One attempt of one logical call."""

    model_config = ConfigDict(extra="forbid")
    call_id: str
    attempt: int
    stage: str
    persona: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None
    latency_s: float
    outcome: str
    tokens_estimated: bool = False
    started: str = ""
    # Reported by llama.cpp-compatible servers (None where the provider does not say): prompt tokens
    # served from the prompt cache, time spent evaluating the rest of the prompt, generating, and the slot.
    prompt_cached: int | None = None
    prompt_eval_ms: float | None = None
    generation_ms: float | None = None
    slot: int | None = None


class Ledger:
    """Append-only JSONL file; each line is written whole with one write call."""

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        self._torn = torn_tail(path)

    def append(self, line: LedgerLine) -> None:
        """Append one line with a single O_APPEND write (whole, even beside another writer)."""
        data = (line.model_dump_json() + "\n").encode()
        with self._lock:
            if self._torn:  # a kill -9 cut the last line short: end it, or this line would be glued to it
                data, self._torn = b"\n" + data, False
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)

    def lines(self) -> list[LedgerLine]:
        """Every line so far (a torn last line from a kill is ignored)."""
        return read_ledger(self.path)


def torn_tail(path: Path) -> bool:
    """Whether the file ends without a newline (a line cut short when the process was killed)."""
    try:
        with path.open("rb") as fh:
            fh.seek(-1, os.SEEK_END)
            return fh.read(1) != b"\n"
    except OSError:  # missing or empty: nothing torn
        return False


def read_ledger(path: Path) -> list[LedgerLine]:
    """Parse a ledger file; skips a torn final line left by a killed process."""
    if not path.exists():
        return []
    out = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(LedgerLine.model_validate(json.loads(raw)))
        except ValueError:
            continue
    return out


def summarise(lines: list[LedgerLine], key: str) -> list[CostLine]:
    """Totals grouped by a ledger field ('stage' or 'model'), in first-seen order."""
    groups: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"calls": 0, "prompt_tokens": 0, "completion_tokens": 0, "cost_usd": 0.0, "latency_s": 0.0,
                 "prompt_cached": 0, "prompt_eval_s": 0.0, "generation_s": 0.0, "timed_calls": 0}
    )
    for line in lines:
        g = groups[getattr(line, key)]
        g["calls"] += 1
        g["prompt_tokens"] += line.prompt_tokens
        g["completion_tokens"] += line.completion_tokens
        g["cost_usd"] += line.cost_usd or 0.0
        g["latency_s"] += line.latency_s
        g["prompt_cached"] += line.prompt_cached or 0
        if line.prompt_eval_ms is not None or line.generation_ms is not None:
            g["timed_calls"] += 1
            g["prompt_eval_s"] += (line.prompt_eval_ms or 0.0) / 1000
            g["generation_s"] += (line.generation_ms or 0.0) / 1000
    return [CostLine(key=k, **{**v, "cost_usd": round(v["cost_usd"], 6), "latency_s": round(v["latency_s"], 3),
                               "prompt_eval_s": round(v["prompt_eval_s"], 3),
                               "generation_s": round(v["generation_s"], 3)})
            for k, v in groups.items()]


def total(lines: list[LedgerLine]) -> CostLine:
    """One line summing every attempt."""
    rows = summarise([line.model_copy(update={"stage": "total"}) for line in lines], "stage")
    return rows[0] if rows else CostLine(key="total", calls=0, prompt_tokens=0, completion_tokens=0,
                                         cost_usd=0.0, latency_s=0.0)
