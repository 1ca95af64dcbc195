"""Benchmark the embedded local models: assembly, load, prompt/generation speed, concurrency, a review.

    python benchmarks/local_model.py [--model NAME ...] [--slots 4,2] [--drop-caches] [--full-run]
    python benchmarks/local_model.py --model 1.5b --slots 1,2,4 --review examples/ratelimiter.py \
        [--baseline REF] [--busy] [--draft 0.5b]

Numbers come from llama.cpp's own per-request timings (prompt_per_second, predicted_per_second)
plus wall clocks. Every speed request starts with a fresh nonce so no prompt cache is reused. The
single-stream rates and the aggregate at the last slot count are cached for `rebuttal estimate`.
`--review` times a default review and reads its ledger: prompt tokens evaluated vs served from the
cache, and the ratio of its wall time to sum(tokens evaluated / measured rate), the physical limit.
`--baseline REF` runs the same review on another commit (a temporary git worktree) back to back;
`--busy` keeps one core busy with another process during the reviews; `--draft` adds a run with
that model as the speculative draft.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import inspect
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path

import httpx
from pydantic import BaseModel, Field

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.llm import local  # noqa: E402
from engine.llm.ledger import read_ledger  # noqa: E402
from engine.llm.speed import Speed, save_speed  # noqa: E402

PROMPT_TOKENS = 1500
GEN_TOKENS = 300
# Shapes of a default run (3 personas, k=1) for the wall-time estimate, as (calls, prompt, output) tokens
# in all: the brief's budget (18 calls of ~2,250 + ~450), and a real run of examples/ratelimiter.py.
RUN_SHAPES = {"planned": (18, 18 * 2250, 18 * 450), "ratelimiter.py run": (15, 13310, 3060)}


class Finding(BaseModel):
    title: str = Field(description="short name of the problem")
    line: int = Field(description="line number")
    severity: int = Field(ge=1, le=5)
    explanation: str


class Review(BaseModel):
    summary: str
    findings: list[Finding]


def _rss_mb() -> tuple[float, float]:
    """(current RSS, peak RSS) of this process in MB."""
    current = 0.0
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                current = int(line.split()[1]) / 1024
    return current, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class CpuWatch:
    """Cores used by *other* processes since the last reset: the benchmark needs a quiet machine."""

    def __init__(self) -> None:
        self.reset()

    @staticmethod
    def _sample() -> tuple[float, float, float]:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
        busy = (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")  # minus idle, iowait
        own = os.times()
        return time.monotonic(), busy, own.user + own.system

    def reset(self) -> None:
        self._start = self._sample()

    def others(self) -> str:
        (t0, busy0, own0), (t1, busy1, own1) = self._start, self._sample()
        cores = max(0.0, (busy1 - busy0) - (own1 - own0)) / max(t1 - t0, 1e-6)
        return f"[other processes: {cores:.2f} cores busy{' - NOT QUIET' if cores > 0.2 else ''}]"


WATCH = CpuWatch()


def _timed(fn, *args, **kwargs):
    WATCH.reset()
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - start, result


def _code_for(root: str, client: httpx.Client) -> str:
    """Lines of a fixed stdlib module, cut so the whole chat prompt is about PROMPT_TOKENS."""
    lines, code = inspect.getsource(textwrap).splitlines(keepends=True), ""
    for line in lines:
        tokens = client.post(f"{root}/tokenize", json={"content": code + line}).json()["tokens"]
        if len(tokens) > PROMPT_TOKENS - 60:  # room for the system prompt and chat template
            break
        code += line
    return code


def _messages(code: str) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": f"Request {uuid.uuid4()}. You are a meticulous reviewer."},
        {"role": "user", "content": f"Review this module in detail.\n\n```python\n{code}```"},
    ]


def _chat(base_url: str, client: httpx.Client, name: str, code: str) -> dict:
    body = {
        "model": name,
        "messages": _messages(code),
        "max_tokens": GEN_TOKENS,
        "temperature": 0.2,
        "seed": 1,
        "ignore_eos": True,
    }
    response = client.post(f"{base_url}/chat/completions", json=body, timeout=900)
    response.raise_for_status()
    return response.json()


def _speed(result: dict) -> str:
    t, u = result["timings"], result["usage"]
    prompt = f"prompt {u['prompt_tokens']} tok @ {t['prompt_per_second']:.1f} tok/s"
    return f"{prompt}, gen {u['completion_tokens']} tok @ {t['predicted_per_second']:.1f} tok/s"


def bench_assembly(name: str) -> None:
    """Cold assembly (into a scratch cache), cached verify, and a full sha256 re-check."""
    spec = local.LOCAL_MODELS[name]
    scratch, saved = tempfile.mkdtemp(prefix="rebuttal-bench-"), os.environ.get("REBUTTAL_CACHE")
    os.environ["REBUTTAL_CACHE"] = scratch
    try:
        cold, _ = _timed(local.model_path, name)
        cached, path = _timed(local.model_path, name)
        sha, _ = _timed(local._hash_file, path)
        size_gb = path.stat().st_size / 1e9
    finally:
        shutil.rmtree(scratch)
        if saved is None:
            os.environ.pop("REBUTTAL_CACHE")
        else:
            os.environ["REBUTTAL_CACHE"] = saved
    local.model_path(name)  # the real cache, for the rest of the run
    print(f"  {spec.filename} ({size_gb:.2f} GB): assemble+sha256 (cold) {cold:.2f} s")
    print(f"  cached check {cached * 1000:.1f} ms | sha256 alone {sha:.2f} s")


def bench_server(name: str, slots: int, drop_caches: bool) -> Speed:
    """Load time, single-request speed, concurrent aggregate and one structured call."""
    if drop_caches:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")  # needs root: a truly cold load
    load, server = _timed(local.get_server, name, slots=slots)
    root = server.base_url.removesuffix("/v1")
    rss_now = _rss_mb()[0]
    cold = " (page cache dropped)" if drop_caches else ""
    print(f"  slots={slots}: server load {load:.2f} s{cold} | RSS {rss_now:.0f} MB {WATCH.others()}")
    with httpx.Client() as client:
        code = _code_for(root, client)
        _chat(server.base_url, client, name, code[:400])  # warm-up
        single, result = _timed(_chat, server.base_url, client, name, code)
        print(f"    single call {single:.1f} s: {_speed(result)} {WATCH.others()}")
        width = max(slots, 1)
        with concurrent.futures.ThreadPoolExecutor(width) as pool:
            WATCH.reset()
            start = time.perf_counter()
            futures = [pool.submit(_chat, server.base_url, client, name, code) for _ in range(width)]
            results = [f.result() for f in futures]
            wall = time.perf_counter() - start
    gen = sum(r["usage"]["completion_tokens"] for r in results)
    both = gen + sum(r["usage"]["prompt_tokens"] for r in results)
    print(
        f"    {width} concurrent: wall {wall:.1f} s (sequential would be "
        f"{width * single:.1f} s) | aggregate gen {gen / wall:.1f} tok/s, "
        f"prompt+gen {both / wall:.1f} tok/s {WATCH.others()}"
    )
    pp, tg = result["timings"]["prompt_per_second"], result["timings"]["predicted_per_second"]
    # generation only: each of the `width` requests also evaluated its prompt inside the wall time
    agg_gen = gen / max(wall - width * result["usage"]["prompt_tokens"] / pp, 1e-6)
    print(f"    single stream: prompt {pp:.1f} tok/s, gen {tg:.1f} tok/s | aggregate gen at {width} slots "
          f"(prompt time taken out) {agg_gen:.1f} tok/s")
    speedup = width * single / wall
    for label, (calls, prompt_tokens, output_tokens) in RUN_SHAPES.items():
        sequential = (prompt_tokens / pp + output_tokens / tg) / 60
        print(
            f"    estimate default run, {label} ({calls} calls, {prompt_tokens}+{output_tokens} tok): "
            f"{sequential:.1f} min one call at a time, {sequential / speedup:.1f} min at x{speedup:.2f} batching"
        )
    model = local.chat_model(name, max_tokens=700, seed=1, slots=slots)
    structured = model.with_structured_output(Review, method="json_schema", include_raw=True)
    prompt = f"Review this code; report its real bugs.\n\n```python\n{code[:2500]}```"
    took, out = _timed(structured.invoke, prompt)
    raw, usage = out["raw"], out["raw"].response_metadata.get("token_usage", {})
    meta = raw.usage_metadata or {}
    same = (meta.get("input_tokens"), meta.get("output_tokens")) == (
        usage.get("prompt_tokens"),
        usage.get("completion_tokens"),
    )
    verdict = "parsed" if out["parsed"] is not None else f"NOT parsed: {out['parsing_error']}"
    print(
        f"    structured call {took:.1f} s, {verdict}, usage {meta.get('input_tokens')}+"
        f"{meta.get('output_tokens')} tok (matches server usage: {same}) {WATCH.others()}"
    )
    threads = server.threads
    stop, _ = _timed(server.stop)
    print(f"    peak RSS {_rss_mb()[1]:.0f} MB | server stop {stop:.2f} s | {threads} threads")
    return Speed(model=name, prompt_tps=round(pp, 2), gen_tps=round(tg, 2), aggregate_gen_tps=round(agg_gen, 2),
                 slots=width, threads=threads, load1=round(os.getloadavg()[0], 2),
                 measured=time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()), source="benchmark")


def full_run_seconds(model: str, example: Path | None = None) -> float:
    """Wall time of a full default `rebuttal review` of an example file with a local model."""
    if example is None:
        example = sorted(Path("examples").glob("*.py"))[0]
    with tempfile.TemporaryDirectory(prefix="rebuttal-full-run-") as out:
        cmd = ["rebuttal", "review", str(example), "--model", f"local:{model}", "--out", out]
        took, _ = _timed(subprocess.run, cmd, check=True)
    return took


def review_run(model: str, target: Path, *, repo: Path, env: dict[str, str] | None = None) -> tuple[float, list]:
    """Wall time and ledger of `rebuttal review TARGET` run from the code in `repo` (a default review)."""
    with tempfile.TemporaryDirectory(prefix="rebuttal-bench-review-") as out:
        cmd = [sys.executable, "-m", "engine", "review", str(target.resolve()), "--model", f"local:{model}",
               "--out", out, "--run-id", "bench", "--quiet"]
        full_env = {**os.environ, "PYTHONPATH": str(repo), **(env or {})}
        took, _ = _timed(subprocess.run, cmd, check=True, cwd=repo, env=full_env, stdout=subprocess.DEVNULL)
        return took, read_ledger(Path(out) / "bench" / "ledger.jsonl")


def report_review(label: str, took: float, lines: list, speed: Speed) -> None:
    """Wall time, tokens evaluated vs cached, and the ratio of wall time to the physical limit."""
    prompt = sum(x.prompt_tokens for x in lines)
    cached = sum(x.prompt_cached or 0 for x in lines)
    known = any(x.prompt_cached is not None for x in lines)
    gen = sum(x.completion_tokens for x in lines)
    evaluated = prompt - cached
    limit = evaluated / speed.prompt_tps + gen / speed.gen_tps
    calls = len([x for x in lines if x.stage != "warm"])
    cache_note = (f"evaluated {evaluated} ({evaluated / max(prompt, 1):.0%}), cached {cached}" if known
                  else "cache not recorded by this commit")
    again = [x for x in lines if x.attempt > 1]
    failed = [x for x in lines if x.outcome != "ok"]
    print(f"  review [{label}]: wall {took:.0f} s | {calls} calls | prompt {prompt} tok: {cache_note} | "
          f"generated {gen} | limit at single-stream rates {limit:.0f} s | wall/limit {took / max(limit, 1e-6):.2f} "
          f"| attempts {len(lines)}: {len(again)} retried, {len(failed)} not ok"
          f"{' (' + ', '.join(sorted({x.outcome for x in failed})) + ')' if failed else ''} {WATCH.others()}")


def baseline_repo(ref: str) -> Path:
    """A temporary git worktree of REF (removed at exit)."""
    path = Path(tempfile.mkdtemp(prefix="rebuttal-baseline-")) / "repo"
    subprocess.run(["git", "worktree", "add", "--detach", str(path), ref], check=True, capture_output=True)
    import atexit

    atexit.register(subprocess.run, ["git", "worktree", "remove", "--force", str(path)], check=False)
    return path


def bench_reviews(name: str, args: argparse.Namespace, speed: Speed) -> None:
    """The default review (and its baseline, busy and draft variants) back to back."""
    here = Path(__file__).resolve().parents[1]
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if args.busy else None
    label = " (one core kept busy)" if busy else ""
    try:
        runs = [("this commit" + label, here, None)]
        if args.baseline:
            runs.insert(0, (f"baseline {args.baseline}" + label, baseline_repo(args.baseline), None))
        if args.draft:
            runs.append((f"draft {args.draft}" + label, here, {local.DRAFT_ENV: args.draft}))
        for run_label, repo, env in runs:
            WATCH.reset()
            took, lines = review_run(name, args.review, repo=repo, env=env)
            report_review(run_label, took, lines, speed)
    finally:
        if busy is not None:
            busy.kill()


def main() -> None:
    """Run the benchmark for each requested local model."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", help="local model name (repeatable)")
    parser.add_argument("--slots", default="4", help="comma-separated slot counts to try (the last is cached)")
    parser.add_argument("--drop-caches", action="store_true", help="cold load (needs root)")
    parser.add_argument("--full-run", action="store_true", help="also time a full review run")
    parser.add_argument("--review", type=Path, help="time a default review of this target and read its ledger")
    parser.add_argument("--baseline", help="with --review: the same review on this git ref first (e.g. main~1)")
    parser.add_argument("--busy", action="store_true", help="with --review: keep one core busy meanwhile")
    parser.add_argument("--draft", help="with --review: also a run with this local model as speculative draft")
    args = parser.parse_args()
    names = [local.resolve_local_name(m) for m in args.model or list(local.LOCAL_MODELS)]
    print(f"{os.cpu_count()} CPUs ({len(os.sched_getaffinity(0))} usable), load {os.getloadavg()[0]:.2f}; "
          f"default model {local.DEFAULT_LOCAL_MODEL}")
    for name in names:
        print(f"{name}:")
        bench_assembly(name)
        speed = None
        for slots in (int(s) for s in args.slots.split(",")):
            speed = bench_server(name, slots, args.drop_caches)
        if speed is not None:
            save_speed(local.cache_dir(), speed)
            print(f"  cached for `rebuttal estimate`: {local.cache_dir() / 'speed.json'}")
        if args.full_run:
            print(f"  full default run: {full_run_seconds(name):.0f} s")
        if args.review and speed is not None:
            bench_reviews(name, args, speed)


if __name__ == "__main__":
    main()
