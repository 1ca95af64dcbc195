"""Batch reviews: many targets, a global concurrency and budget, one run directory each, resumable.

Targets come from a text file (one path per line, `#` comment lines) or a YAML list of paths or
mappings with `target`, `diff` and per-target run options (`profile`, `workflow`, `model`, `panel`, `k`, ...:
every option of `engine.options.RunOptions` but `execute_unsafe`). Relative paths are relative to the batch file.

Global budget, fair share: when a run starts it gets `(limit - committed) / runs not yet started`,
where `committed` is what finished runs spent plus the whole cap of runs still going. Leftovers of
finished runs flow to later ones, and the caps never add up to more than the limit, so the global
limit holds with concurrent runs too (each run's gateway enforces its own cap). `batch.json` in the
out folder records every entry; running the same batch again skips finished runs, resumes
interrupted or failed ones from their run directory (no finished call repeated) and retries the rest.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from engine import api, yamlio
from engine.artifacts import write_json
from engine.errors import ConfigError, RebuttalError
from engine.llm.gateway import ModelFactory
from engine.models import Report
from engine.options import BUDGET, RunOptions, options_model, run_options
from engine.rundir import RunDir

STATE_FILE = "batch.json"
FINAL = ("complete", "partial")
SPENT_KEYS = {"max_calls": "calls", "max_tokens": "tokens", "max_usd": "usd"}


# One target of a batch and its own options (they, then its profile, win over the batch's: `engine.api.resolve`).
BatchItem = options_model("BatchItem", "batch", "One target of a batch and its own options.",
                          target=(str, ...), diff=(str | None, None))


def load_items(path: Path) -> list[BatchItem]:
    """Targets from a text list or a YAML list; relative paths resolved against the file's folder."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read batch file {path} ({exc.__class__.__name__})") from None
    if path.suffix in (".yaml", ".yml"):
        try:
            raw = yamlio.load(text)
        except yaml.YAMLError:
            raise ConfigError(f"{path}: invalid YAML") from None
        if not isinstance(raw, list):
            raise ConfigError(f"{path}: a YAML batch file must be a list of targets")
    else:
        raw = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    items = []
    for i, entry in enumerate(raw, 1):
        try:
            item = BatchItem(target=entry) if isinstance(entry, str) else BatchItem.model_validate(entry)
        except ValidationError as exc:
            e = exc.errors()[0]
            raise ConfigError(f"{path}: item {i}: field '{'.'.join(map(str, e['loc']))}': {e['msg']}") from None
        if not Path(item.target).expanduser().is_absolute():
            item = item.model_copy(update={"target": str((path.parent / item.target).resolve())})
        items.append(item)
    if not items:
        raise ConfigError(f"{path}: no targets")
    return items


def item_keys(items: list[BatchItem]) -> list[str]:
    """A stable key per item (a hash of the options it gives; repeats numbered) so reordering keeps resumes."""
    seen: dict[str, int] = {}
    keys = []
    for item in items:
        given = json.dumps(item.model_dump(mode="json", exclude_none=True), sort_keys=True)
        h = hashlib.sha1(given.encode()).hexdigest()[:12]
        seen[h] = seen.get(h, 0) + 1
        keys.append(h if seen[h] == 1 else f"{h}-{seen[h]}")
    return keys


def spent(run_dir: Path) -> dict[str, float]:
    """What a run spent so far, from its ledger: calls, tokens, USD."""
    lines = RunDir(run_dir).ledger_lines()
    return {"calls": len(lines), "tokens": sum(ln.prompt_tokens + ln.completion_tokens for ln in lines),
            "usd": round(sum(ln.cost_usd or 0.0 for ln in lines), 6)}


def committed(entry: dict[str, Any], key: str) -> float:
    """What an entry holds of a limit: a finished run its spend, a started one its whole cap."""
    if entry.get("cap") is None:
        return 0
    used = float((entry.get("spent") or {}).get(SPENT_KEYS[key], 0))
    if entry["status"] in FINAL:
        return used
    cap = entry["cap"].get(key)
    return used if cap is None else max(float(cap), used)


def fair_share(limits: dict[str, Any], others: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The cap of the next run to start, given the other entries; None when a limit is used up."""
    waiting = 1 + sum(1 for e in others if e.get("cap") is None)
    cap: dict[str, Any] = {}
    for key in BUDGET:
        limit = limits.get(key)
        if limit is None:
            continue
        share = (limit - sum(committed(e, key) for e in others)) / waiting
        share = round(share, 6) if key == "max_usd" else int(share)
        if share <= 0:
            return None
        cap[key] = share
    return cap


class Batch:
    """A batch run over one out folder: state in `batch.json`, a semaphore over runs, a shared budget."""

    def __init__(self, items: list[BatchItem], out_dir: Path, options: RunOptions | dict[str, Any], *, jobs: int = 2,
                 check_providers: bool = True, on_done: Callable[[dict[str, Any]], None] | None = None,
                 factory: ModelFactory | None = None):
        self.items, self.out_dir, self.jobs, self.factory = items, out_dir, jobs, factory
        merged = api.merge(run_options(options))  # the batch's options, its profile applied
        self.limits = {k: getattr(merged, k) for k in BUDGET}  # global: shared out by fair_share
        self.options = merged.model_copy(update=dict.fromkeys(BUDGET))
        self.check_providers, self.on_done = check_providers, on_done or (lambda e: None)
        self.keys = item_keys(items)
        self.state = self._load()

    def _load(self) -> dict[str, Any]:
        path = self.out_dir / STATE_FILE
        empty: dict[str, Any] = {"version": 1, "entries": {}}
        state: dict[str, Any] = json.loads(path.read_text(encoding="utf-8")) if path.exists() else empty
        for key, item in zip(self.keys, self.items, strict=True):
            e = state["entries"].setdefault(key, {"target": item.target, "run_dir": None, "status": "pending",
                                                  "error": None, "cap": None, "spent": None, "findings": None})
            if e["status"] not in FINAL and not e["run_dir"]:
                e["cap"] = None  # never started: its share is decided again
        return state

    def save(self) -> None:
        """Write `batch.json` atomically."""
        write_json(self.out_dir, STATE_FILE, self.state)

    def entries(self) -> list[dict[str, Any]]:
        """This batch's entries, in file order."""
        return [self.state["entries"][k] for k in self.keys]

    async def run(self) -> list[dict[str, Any]]:
        """Run every unfinished item (at most `jobs` at once); returns the entries."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.save()
        sem = asyncio.Semaphore(self.jobs)
        await asyncio.gather(*(self._one(sem, item, e) for item, e in zip(self.items, self.entries(), strict=True)))
        return self.entries()

    async def _one(self, sem: asyncio.Semaphore, item: BatchItem, e: dict[str, Any]) -> None:
        if e["status"] in FINAL:
            return
        async with sem:
            try:
                report = await self._execute(item, e)
            except Exception as exc:  # recorded in batch.json and the summary; the other targets go on
                msg = str(exc) if isinstance(exc, RebuttalError) else f"{type(exc).__name__}: {exc}"
                e.update(status="failed", error=msg)
                if not e["run_dir"]:
                    e["cap"] = None
            else:
                e.update(status="complete" if report.complete else "partial", error=report.partial_reason,
                         findings=len(report.reported))
            if e["run_dir"]:
                e["spent"] = await asyncio.to_thread(spent, Path(e["run_dir"]))
            self.save()
            self.on_done(e)

    async def _execute(self, item: BatchItem, e: dict[str, Any]) -> Report:
        if e["run_dir"] and RunDir(Path(e["run_dir"])).is_run():
            e.update(status="running", error=None)
            self.save()
            return await api.resume(Path(e["run_dir"]), factory=self.factory)
        opts = api.merge(run_options(item), self.options)
        cap = fair_share(self.limits, [x for x in self.entries() if x is not e])
        if cap is None:
            raise ConfigError("global budget used up before this target started")
        e.update(cap=cap, status="running", error=None)
        own = {key: getattr(opts, key) for key in cap}
        opts = opts.model_copy(update={k: v if own[k] is None else min(v, own[k]) for k, v in cap.items()})
        settings = api.build_settings(item.target, opts, diff=item.diff)
        prep = await asyncio.to_thread(api.prepare, settings, self.out_dir, check_providers=self.check_providers)
        e["run_dir"] = str(prep.run_dir)
        self.save()
        return await api.execute(prep, factory=self.factory)
