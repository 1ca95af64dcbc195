"""Orchestration speed and scaling of the debate workflow, measured with the fake provider.

    python benchmarks/orchestration.py [--n 4,8,16,32,64] [-k 3] [--latency-ms 200] [--concurrency C]
                                       [--markdown] [--json]

For every panel size N (k reviews answered per persona) each measurement runs in a fresh
subprocess, so peak RSS is per run:
- overhead: a zero-latency fake, unbounded concurrency: wall time, ms of engine time per call,
  peak RSS, and prompt tokens per stage read back from the run's ledger.jsonl;
- efficiency: a fake that sleeps --latency-ms per call: wall time divided by the critical path,
  the sum over the sequential stages of ceil(calls in the stage / concurrency) x latency (with
  unbounded concurrency: the number of sequential stages x latency). Sequential stages are personas
  (one call per generation round), reviews, picks (only when N-1 > k), responses, rebuttals,
  findings, and compile's judge and usefulness calls, issued together (counted from the ledger).
Then the growth of prompt tokens per stage from N=16 to N=64: 4x is linear (N·k), 16x is N².

The stock fake model proposes at most 8 distinct personas, so larger panels would silently be
filled from the library; this benchmark's fake answers the persona call with N distinct ones.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "examples" / "ratelimiter.py"
STAGES = ["personas", "reviews", "picks", "responses", "rebuttals", "findings", "judge", "compile"]
UNBOUNDED = 1024


def bench_factory(latency_ms: float) -> Any:
    """A model factory: the stock fake, except that the persona call returns N distinct personas."""
    import re

    from engine.llm.fake import FakeChatModel

    class DistinctPersonasFake(FakeChatModel):
        def _answer(self, messages: list[Any], schema_name: str | None, logprobs: bool = False) -> Any:
            if schema_name != "PersonasOut":
                return super()._answer(messages, schema_name, logprobs)
            prompt = "\n".join(str(m.content) for m in messages)
            n = int(m.group(1)) if (m := re.search(r"Propose exactly (\d+)", prompt)) else 3
            personas = [{"name": f"Reviewer{i:03d}", "role": f"specialist{i:03d}",
                         "perspective": f"Checks area {i}.", "focus": [f"topic{i:03d}a", f"topic{i:03d}b"]}
                        for i in range(1, n + 1)]
            return self._message(prompt, json.dumps({"personas": personas}))

    return lambda name, max_tokens: DistinctPersonasFake(latency_ms=latency_ms)


def measure(n: int, k: int, latency_ms: float, concurrency: int) -> dict[str, Any]:
    """One debate run in this process; wall time, calls per stage, tokens per stage, peak RSS."""
    sys.path.insert(0, str(ROOT))
    from engine import api
    from engine.llm.ledger import read_ledger

    with tempfile.TemporaryDirectory(prefix="rebuttal-orch-") as tmp:
        settings = api.build_settings(str(TARGET), workflow="debate", model="fake", personas=n, k=k,
                                      concurrency=concurrency, run_id=f"orch-{n}")
        prep = api.prepare(settings, Path(tmp), check_providers=False)
        start, cpu = time.perf_counter(), time.process_time()
        report = asyncio.run(api.execute(prep, factory=bench_factory(latency_ms)))
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        lines = read_ledger(prep.run_dir / "ledger.jsonl")
    calls = Counter(line.stage for line in lines)
    tokens: dict[str, int] = defaultdict(int)
    for line in lines:
        tokens[line.stage] += line.prompt_tokens
    return {
        "n": n, "k": k, "latency_ms": latency_ms, "concurrency": concurrency, "wall_s": wall, "cpu_s": cpu,
        "calls": dict(calls), "prompt_tokens": dict(tokens), "personas": len(report.personas),
        "findings": len(report.findings), "degraded": report.degraded,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def critical_path_s(calls: dict[str, int], latency_ms: float, concurrency: int) -> float:
    """Seconds the run must take at this latency: per sequential stage, ceil(calls / concurrency) waves.

    The persona rounds are sequential calls, one wave each; compile's judge calls (one per finding) and
    usefulness batches are all issued at once, so together they are one fan-out.
    """
    waves = 0
    for stage in STAGES:
        m = calls.get(stage, 0) + (calls.get("compile", 0) if stage == "judge" else 0)
        if not m or stage == "compile":  # counted with the judge calls
            continue
        waves += m if stage == "personas" else math.ceil(m / concurrency)
    return waves * latency_ms / 1000


def run_child(n: int, k: int, latency_ms: float, concurrency: int) -> dict[str, Any]:
    """measure() in a fresh interpreter (clean peak RSS, no warm caches from another N)."""
    cmd = [sys.executable, __file__, "--child", str(n), "-k", str(k), "--latency-ms", str(latency_ms),
           "--concurrency", str(concurrency)]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"})
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def fmt_table(headers: list[str], rows: list[list[Any]], markdown: bool) -> str:
    cells = [[str(c) for c in r] for r in rows]
    if markdown:
        out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
        return "\n".join(out + ["| " + " | ".join(r) + " |" for r in cells])
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    line = "  ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True))
    return "\n".join([line] + ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in cells])


def main(argv: list[str] | None = None) -> int:
    """Measure every N and print the overhead, efficiency and token-growth tables."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", default="4,8,16,32,64", help="panel sizes (comma-separated)")
    ap.add_argument("-k", type=int, default=3)
    ap.add_argument("--latency-ms", type=float, default=200.0, help="fake latency for the efficiency run")
    ap.add_argument("--concurrency", type=int, default=None,
                    help="gateway concurrency for the efficiency run (default: unbounded)")
    ap.add_argument("--repeat", type=int, default=1, help="runs per N and mode (the fastest is kept: less noise)")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    conc = args.concurrency or UNBOUNDED
    if args.child:
        print(json.dumps(measure(args.child, args.k, args.latency_ms, conc)))
        return 0
    ns = [int(x) for x in args.n.split(",") if x.strip()]
    rows = []
    for n in ns:
        zero = min((run_child(n, args.k, 0.0, UNBOUNDED) for _ in range(args.repeat)), key=lambda r: r["wall_s"])
        lat = min((run_child(n, args.k, args.latency_ms, conc) for _ in range(args.repeat)),
                  key=lambda r: r["wall_s"])
        cp = critical_path_s(lat["calls"], args.latency_ms, conc)
        rows.append({"n": n, "zero": zero, "latency": lat, "critical_path_s": cp,
                     "efficiency": lat["wall_s"] / cp if cp else None})
        print(f"N={n}: {sum(zero['calls'].values())} calls, zero-latency {zero['wall_s']:.2f}s, "
              f"{args.latency_ms:.0f} ms fake {lat['wall_s']:.2f}s / critical path {cp:.2f}s", file=sys.stderr)
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    c_text = "unbounded" if conc == UNBOUNDED else str(conc)
    print(f"\n{platform.node() or 'machine'}: {platform.processor() or platform.machine()}, {os.cpu_count()} CPU, "
          f"Python {platform.python_version()}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; debate workflow, k={args.k}")
    print("\nEngine overhead (zero-latency fake, unbounded concurrency)")
    print(fmt_table(["N", "personas", "calls", "wall s", "ms/call", "CPU s", "peak RSS MB"], [[
        r["n"], r["zero"]["personas"], sum(r["zero"]["calls"].values()), f"{r['zero']['wall_s']:.2f}",
        f"{1000 * r['zero']['wall_s'] / sum(r['zero']['calls'].values()):.1f}", f"{r['zero']['cpu_s']:.2f}",
        f"{r['zero']['peak_rss_mb']:.0f}"] for r in rows], args.markdown))
    print(f"\nParallel efficiency ({args.latency_ms:.0f} ms fake, concurrency {c_text}; target <= 1.2)")
    print(fmt_table(["N", "calls", "sequential waves", "critical path s", "wall s", "efficiency"], [[
        r["n"], sum(r["latency"]["calls"].values()), round(r["critical_path_s"] * 1000 / args.latency_ms),
        f"{r['critical_path_s']:.2f}", f"{r['latency']['wall_s']:.2f}", f"{r['efficiency']:.2f}"]
        for r in rows], args.markdown))
    print("\nPrompt tokens per stage (zero-latency run)")
    print(fmt_table(["N", *STAGES], [[r["n"], *(r["zero"]["prompt_tokens"].get(s, 0) for s in STAGES)]
                                     for r in rows], args.markdown))
    by_n = {r["n"]: r["zero"]["prompt_tokens"] for r in rows}
    if 16 in by_n and 64 in by_n:
        print("\nGrowth N=16 -> N=64 (4x = linear in N·k, 16x = quadratic)")
        print(fmt_table(["stage", "N=16", "N=64", "ratio"], [
            [s, by_n[16].get(s, 0), by_n[64].get(s, 0),
             f"{by_n[64].get(s, 0) / by_n[16][s]:.2f}" if by_n[16].get(s) else "n/a"] for s in STAGES],
            args.markdown))
    return 0


if __name__ == "__main__":
    sys.exit(main())
