"""Smoke test of benchmarks/orchestration.py: N=4 only, a short fake latency."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import load_benchmark

ROOT = Path(__file__).resolve().parent.parent


def _load_bench():
    return load_benchmark("orchestration.py", "rebuttal_orchestration_bench")


def test_critical_path_counts_waves_per_stage() -> None:
    bench = _load_bench()
    calls = {"personas": 1, "reviews": 8, "picks": 8, "responses": 24, "rebuttals": 24, "findings": 8, "judge": 7,
             "compile": 2}
    # unbounded: 5 fan-out stages + 1 persona call + the judge and usefulness calls issued together
    assert bench.critical_path_s(calls, 100, 1024) == pytest.approx(0.1 * 7)
    assert bench.critical_path_s(calls, 100, 8) == pytest.approx(0.1 * (1 + 1 + 1 + 3 + 3 + 1 + 2))
    assert bench.critical_path_s({"reviews": 4, "compile": 1}, 200, 1024) == pytest.approx(0.4)


def test_orchestration_bench_n4_prints_every_table(capsys) -> None:
    bench = _load_bench()
    assert bench.main(["--n", "4", "--latency-ms", "50"]) == 0
    out = capsys.readouterr().out
    assert "Engine overhead" in out and "Parallel efficiency" in out and "Prompt tokens per stage" in out
    overhead = out.split("Engine overhead")[1].splitlines()
    row = next(line.split() for line in overhead if line.strip().startswith("4 "))
    assert row[1] == "4"  # four distinct personas
    # personas, reviews, picks (each persona chooses 3 of 4 other reviews: the example's unraised analyzer hits
    # are a fifth review), responses, rebuttals (3 responses answered the analyzers review, which never rebuts),
    # findings, one judge call per finding (at least one), one usefulness batch at least
    assert int(row[2]) >= 1 + 4 + 4 + 4 * 3 + (4 * 3 - 3) + 4 + 1 + 1
