"""What the gateway and the embedded model use of llama.cpp's server: timings, prefix warming, progress,
thread choice, speculative decoding, and a client that keeps the server's timings."""

from __future__ import annotations

import asyncio
import functools
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage

from engine import envvars
from engine.errors import LocalModelError

DRAFT_ENV = "REBUTTAL_DRAFT"  # a local model name used as the speculative draft (off unless set: see RESULTS.md)


def server_timings(raw: AIMessage | None) -> dict[str, Any]:
    """Cache and timing fields for the ledger from an answer, where the server reports them.

    llama.cpp's server returns `timings` (cache_n, prompt_ms, predicted_ms; the local client copies them
    into response_metadata) and OpenAI-style `usage.prompt_tokens_details.cached_tokens` (langchain's
    usage_metadata input_token_details.cache_read); a slot id where the response names one.
    """
    out: dict[str, Any] = {"prompt_cached": None, "prompt_eval_ms": None, "generation_ms": None, "slot": None}
    if raw is None:
        return out
    meta = getattr(raw, "response_metadata", None) or {}
    timings = meta.get("timings") or {}
    details = (getattr(raw, "usage_metadata", None) or {}).get("input_token_details") or {}
    cached = timings.get("cache_n", details.get("cache_read"))
    out["prompt_cached"] = int(cached) if cached is not None else None
    for key, field_name in (("prompt_ms", "prompt_eval_ms"), ("predicted_ms", "generation_ms")):
        if timings.get(key) is not None:
            out[field_name] = round(float(timings[key]), 1)
    slot = meta.get("id_slot")
    out["slot"] = int(slot) if isinstance(slot, int) else None
    return out


async def until_stalled(aw: Any, progress: Callable[[], int | None], stall_s: float, poll_s: float = 10.0) -> Any:
    """Await aw while the server makes progress; TimeoutError only after stall_s seconds without any.

    `progress` is a counter that rises while tokens flow (llama.cpp's decode steps), read in a thread every
    poll_s seconds; a slow call on a busy CPU keeps going as long as it advances. Where the counter is not
    available (None), this is a plain timeout of stall_s.
    """
    task = asyncio.ensure_future(aw)
    seen: int | None = None
    last = time.monotonic()
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=poll_s)
            if done:
                return task.result()
            probe = asyncio.ensure_future(asyncio.to_thread(progress))
            done, _ = await asyncio.wait({task, probe}, return_when=asyncio.FIRST_COMPLETED)
            if task in done:  # the answer came while the server was asked: do not wait for the probe
                return task.result()
            mark, now = probe.result(), time.monotonic()
            if mark is not None and mark != seen:
                seen, last = mark, now
            elif now - last > stall_s:
                raise TimeoutError(f"no progress from the model server for {stall_s:.0f} s")
    finally:
        if not task.done():
            task.cancel()


def free_cores(cpus: int, load1: float, own_busy: float = 0.0) -> int:
    """Cores free for llama.cpp's threads: the CPUs this process may use less the load of others (pure).

    llama.cpp's threads wait for each other at every layer: one thread more than the free cores stalls them
    all whenever another process takes its core, so a busy machine gets fewer threads, never fewer than one.
    """
    others = max(0.0, load1 - own_busy)
    return max(1, min(cpus, int(cpus - others + 0.5)))


def cpu_times(text: str) -> tuple[float, float]:
    """(busy, total) jiffies from /proc/stat's `cpu` line (pure): niced time counts as free, since a niced
    process yields its core to llama.cpp's threads; idle and iowait are free."""
    for line in text.splitlines():
        if line.startswith("cpu "):
            v = [float(x) for x in line.split()[1:9]]
            user, nice, system, idle, iowait, irq, softirq, steal = v + [0.0] * (8 - len(v))
            return user + system + irq + softirq + steal, user + nice + system + idle + iowait + irq + softirq + steal
    raise ValueError("no cpu line in /proc/stat")


def busy_cores(cpus: int, interval: float = 0.5) -> float | None:
    """Cores busy right now at normal priority, sampled over `interval` seconds; None without /proc/stat.

    The 1-minute load average lags: after a busy minute it still reports the load that just ended (and a
    run started then got one thread on an idle machine), so threads are chosen from what the CPUs do now.
    """
    try:
        with open("/proc/stat", encoding="ascii") as fh:
            b0, t0 = cpu_times(fh.read())
        time.sleep(interval)
        with open("/proc/stat", encoding="ascii") as fh:
            b1, t1 = cpu_times(fh.read())
    except (OSError, ValueError):
        return None
    return cpus * (b1 - b0) / (t1 - t0) if t1 > t0 else 0.0


def default_threads(cpus: int) -> int:
    """Threads for a new server: $REBUTTAL_THREADS, else the free cores (affinity less the cores busy now at
    normal priority; the 1-minute load average where /proc/stat is missing)."""
    pinned = envvars.positive_int("REBUTTAL_THREADS", error=LocalModelError)
    if pinned is not None:
        return pinned
    busy = busy_cores(cpus)
    if busy is None:
        busy = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    return free_cores(cpus, busy)


def parse_decode_total(metrics: str) -> int | None:
    """llama.cpp's `llamacpp:n_decode_total` (decode calls so far) from its /metrics text, if present."""
    m = re.search(r"^llamacpp:n_decode_total\s+([0-9.e+]+)", metrics, re.M)
    return int(float(m.group(1))) if m else None


@functools.cache
def client_class() -> type:
    """ChatOpenAI that keeps llama.cpp's `timings` (cache_n, prompt_ms, predicted_ms) in response_metadata."""
    from langchain_openai import ChatOpenAI

    class LlamaCppChat(ChatOpenAI):
        def _create_chat_result(self, response: Any, generation_info: dict[str, Any] | None = None) -> Any:
            result = super()._create_chat_result(response, generation_info)
            extra = response if isinstance(response, dict) else (getattr(response, "model_extra", None) or {})
            for key in ("timings", "id_slot"):
                if extra.get(key) is not None:
                    for gen in result.generations:
                        gen.message.response_metadata[key] = extra[key]
            return result

    return LlamaCppChat


def warm_slots(root: str, base_url: str, model: str, slots: int, system: str) -> dict[str, Any]:
    """Evaluate a shared prompt prefix once (first idle slot) and copy it into the other idle slots.

    Parallel calls that start with `system` then find it in whichever slot they get, instead of each
    evaluating it: llama.cpp reuses only a prefix that is in the slot a request lands on. The copy is a
    slot save/restore through the server's slot_save_path (milliseconds). Returns what it did.
    """
    import httpx

    messages = [{"role": "system", "content": system}, {"role": "user", "content": "."}]
    with httpx.Client(timeout=None) as client:
        busy = {s["id"] for s in client.get(f"{root}/slots").json() if s.get("is_processing")}
        idle = [i for i in range(slots) if i not in busy]
        if not idle:
            return {"skipped": "no idle slot"}
        first, rest = idle[0], idle[1:]
        body = {"model": model, "messages": messages, "max_tokens": 1, "id_slot": first, "temperature": 0}
        answer = client.post(f"{base_url}/chat/completions", json=body)
        answer.raise_for_status()
        timings = answer.json().get("timings", {})
        if rest:
            name = f"warm-{os.getpid()}.bin"
            client.post(f"{root}/slots/{first}?action=save", json={"filename": name}).raise_for_status()
            for slot in rest:
                client.post(f"{root}/slots/{slot}?action=restore", json={"filename": name}).raise_for_status()
    return {"evaluated": timings.get("prompt_n"), "cached": timings.get("cache_n"), "slots": [first, *rest]}


def decode_progress(root: str) -> int | None:
    """llama.cpp's decode steps so far, from /metrics (None when it does not answer in time or say)."""
    import httpx

    try:
        text = httpx.get(f"{root}/metrics", timeout=10).text
    except httpx.HTTPError:  # a long batch holds the server loop: no progress seen this time
        return None
    return parse_decode_total(text)


def set_draft(params: Any, draft: str, target: str, resolve: Callable[[str], str],
              model_path: Callable[[str], Path]) -> str:
    """Configure speculative decoding with another local model as the draft; "" leaves it off.

    `resolve` and `model_path` are local.resolve_local_name and local.model_path, passed in (this module does
    not import local, which imports it)."""
    if not draft:
        return ""
    import xllamacpp

    name = resolve(draft)
    if name == target:
        raise LocalModelError(f"{DRAFT_ENV}={draft!r}: the draft must be a smaller model than {target}")
    params.speculative.types = [xllamacpp.common_speculative_type.COMMON_SPECULATIVE_TYPE_DRAFT_SIMPLE]
    params.speculative.draft.mparams.path = str(model_path(name))
    params.speculative.draft.n_max = envvars.positive_int("REBUTTAL_DRAFT_MAX", error=LocalModelError) or 8
    params.speculative.draft.p_min = 0.6
    params.speculative.draft.cpuparams.n_threads = params.cpuparams.n_threads
    params.speculative.draft.cpuparams_batch.n_threads = params.cpuparams_batch.n_threads
    return name
