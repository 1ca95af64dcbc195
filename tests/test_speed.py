"""Speed work: ledger cache/timing fields, the shared prompt prefix, prefix warming, the stall watchdog,
free cores, and the wall-time estimate from a measured speed."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage
from rich.console import Console
from typer.testing import CliRunner

from engine.cli import app, format_duration, remaining_s
from engine.cli.report import time_table
from engine.config import RunSettings, load_workflow
from engine.errors import LocalModelError
from engine.estimate import estimate
from engine.llm import gateway as gateway_module
from engine.llm.fake import FakeChatModel
from engine.llm.gateway import Gateway
from engine.llm.ledger import read_ledger, summarise
from engine.llm.llamacpp import (
    busy_cores,
    cpu_times,
    default_threads,
    free_cores,
    parse_decode_total,
    server_timings,
    until_stalled,
)
from engine.llm.providers import ServerHooks
from engine.llm.speed import Speed, concurrent_groups, generation_speedup, load_speed, save_speed, speed_from_ledger
from engine.schemas import ReviewOut
from engine.target import ingest
from tests.conftest import run_fake


@pytest.mark.parametrize(("meta", "usage", "expected"), [
    ({"timings": {"cache_n": 400, "prompt_ms": 120.04, "predicted_ms": 900.0}, "id_slot": 2}, {},
     {"prompt_cached": 400, "prompt_eval_ms": 120.0, "generation_ms": 900.0, "slot": 2}),
    ({}, {"input_token_details": {"cache_read": 1024}},  # an OpenAI-style cached_tokens, no timings
     {"prompt_cached": 1024, "prompt_eval_ms": None, "generation_ms": None, "slot": None}),
    ({}, {}, {"prompt_cached": None, "prompt_eval_ms": None, "generation_ms": None, "slot": None}),
])
def test_server_timings(meta: dict, usage: dict, expected: dict) -> None:
    raw = AIMessage(content="{}", response_metadata=meta,
                    usage_metadata={"input_tokens": 5, "output_tokens": 1, "total_tokens": 6, **usage})
    assert server_timings(raw) == expected


def test_fake_run_records_cache_and_timings(tmp_path: Path) -> None:
    run_dir, report = run_fake(tmp_path, workflow="fusion", personas=3)
    lines = read_ledger(run_dir / "ledger.jsonl")
    assert lines and all(x.prompt_cached and x.prompt_eval_ms is not None and x.generation_ms for x in lines)
    reviews = next(c for c in report.cost_by_stage if c.key == "reviews")
    assert reviews.prompt_cached == sum(x.prompt_cached or 0 for x in lines if x.stage == "reviews")
    assert reviews.timed_calls == 3 and reviews.prompt_eval_s > 0 and reviews.generation_s > 0
    assert report.total is not None and report.total.prompt_cached == sum(x.prompt_cached or 0 for x in lines)
    assert "| of them cached |" in (run_dir / "review-findings.md").read_text()


def test_every_call_of_a_run_shares_the_rules_and_target_prefix(tmp_path: Path) -> None:
    run_dir, _ = run_fake(tmp_path, personas=3, k=1)
    records = [json.loads(p.read_text()) for p in (run_dir / "calls").glob("*.json")]
    # the judge's yes/no calls send only their own excerpt (engine/stages/judge.py): no shared target
    systems = {r["messages"][0]["content"] for r in records if r["stage"] != "judge"}
    assert len(systems) == 1  # the example fits: one view for every stage and persona
    system = systems.pop()
    assert "=== FILE: ratelimiter.py" in system and "Your persona" not in system
    users = [json.loads(p.read_text())["messages"][1]["content"] for p in (run_dir / "calls").glob("reviews--*")]
    assert all(u.startswith("You are one reviewer on a review panel.") for u in users)


class FakeServer:
    """Hooks that count warms and report a progress counter."""

    def __init__(self, progress: list[int | None]) -> None:
        self.warms: list[str] = []
        self.marks = progress

    def warm(self, system: str) -> dict:
        self.warms.append(system)
        return {"evaluated": 300, "cached": 0, "slots": [0, 1, 2]}

    def progress(self) -> int | None:
        return self.marks.pop(0) if len(self.marks) > 1 else self.marks[0]


def test_a_new_prefix_is_warmed_once_before_parallel_calls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    server = FakeServer([1])
    monkeypatch.setattr(gateway_module, "server_hooks", lambda model: ServerHooks(server.warm, server.progress))
    s = RunSettings(run_id="t", target="x", model="fake")
    gw = Gateway(run_dir=tmp_path, settings=s, factory=lambda name, mt: FakeChatModel())

    async def fan_out() -> None:
        await asyncio.gather(*(gw.structured(stage="reviews", persona=f"p{i}", subject="review", model="fake",
                                             schema=ReviewOut, system=f"rules + target {i // 3}", user=f"u{i}",
                                             max_tokens=100) for i in range(6)))

    asyncio.run(fan_out())
    assert sorted(server.warms) == ["rules + target 0", "rules + target 1"]
    lines = read_ledger(tmp_path / "ledger.jsonl")
    warms = [x for x in lines if x.stage == "warm"]
    assert len(warms) == 2 and all(x.prompt_tokens == 300 and x.outcome == "ok" for x in warms)
    assert gw.used.calls == 6  # warming is outside the budget
    assert Gateway(run_dir=tmp_path, settings=s, factory=lambda name, mt: FakeChatModel()).used.calls == 6


def test_model_strings_of_one_server_warm_it_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`local`, `local:1.5b` and `local:1.5b@0.8` are one llama.cpp server: a prefix is evaluated there once."""
    server = FakeServer([1])
    monkeypatch.setattr(gateway_module, "server_hooks",
                        lambda model: ServerHooks(server.warm, server.progress, server="qwen2.5-coder-1.5b"))
    gw = Gateway(run_dir=tmp_path, settings=RunSettings(run_id="t", target="x", model="fake"),
                 factory=lambda name, mt: FakeChatModel())

    async def fan_out() -> None:
        for model in ("fake", "fake:1", "fake@0.8"):
            await gw.structured(stage="reviews", persona=model, subject="review", model=model, schema=ReviewOut,
                                system="rules + target", user="u", max_tokens=100)

    asyncio.run(fan_out())
    assert server.warms == ["rules + target"]
    assert len([x for x in read_ledger(tmp_path / "ledger.jsonl") if x.stage == "warm"]) == 1


def test_a_call_that_still_progresses_is_not_abandoned() -> None:
    marks = iter(range(1000))

    async def slow() -> str:
        await asyncio.sleep(0.3)
        return "done"

    assert asyncio.run(until_stalled(slow(), lambda: next(marks), stall_s=0.05, poll_s=0.01)) == "done"


@pytest.mark.parametrize("mark", [7, None])
def test_a_stalled_call_times_out(mark: int | None) -> None:
    async def hang() -> str:
        await asyncio.sleep(10)
        return "never"

    with pytest.raises(TimeoutError, match="no progress"):
        asyncio.run(until_stalled(hang(), lambda: mark, stall_s=0.05, poll_s=0.01))


@pytest.mark.parametrize(("cpus", "load", "own", "expected"), [
    (2, 0.1, 0.0, 2), (2, 1.0, 0.0, 1), (2, 6.0, 0.0, 1), (8, 2.2, 0.0, 6), (8, 3.0, 2.0, 7), (1, 0.0, 0.0, 1),
])
def test_free_cores(cpus: int, load: float, own: float, expected: int) -> None:
    assert free_cores(cpus, load, own) == expected


@pytest.mark.parametrize("raw", ["0", "-2", "two", "1.5"])
def test_a_bad_thread_count_is_one_line_error(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("REBUTTAL_THREADS", raw)
    with pytest.raises(LocalModelError, match=r"REBUTTAL_THREADS=.*positive integer"):
        default_threads(2)


def test_a_pinned_thread_count_wins_over_the_free_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REBUTTAL_THREADS", " 3 ")
    assert default_threads(64) == 3
    monkeypatch.setenv("REBUTTAL_THREADS", "")
    assert 1 <= default_threads(2) <= 2


def test_cpu_times_counts_niced_and_idle_time_as_free() -> None:
    stat = "cpu  100 900 50 1000 20 5 5 0 0 0\ncpu0 50 450 25 500 10 2 3 0 0 0\n"
    assert cpu_times(stat) == (160.0, 2080.0)
    with pytest.raises(ValueError):
        cpu_times("intr 1 2 3\n")


def test_busy_cores_sees_a_spinning_process_now() -> None:
    spin = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)
        busy = busy_cores(os.cpu_count() or 1, interval=0.5)
    finally:
        spin.kill()
        spin.wait()
    if busy is None:
        pytest.skip("no /proc/stat here")
    assert busy >= 0.6


def test_parse_decode_total() -> None:
    text = "# HELP llamacpp:n_decode_total Total number of llama_decode() calls\nllamacpp:n_decode_total 1234\n"
    assert parse_decode_total(text) == 1234
    assert parse_decode_total("llamacpp:prompt_tokens_total 5\n") is None


def speed(**kw: object) -> Speed:
    base = {"model": "qwen2.5-coder-1.5b", "prompt_tps": 65.0, "gen_tps": 18.0, "aggregate_gen_tps": 27.0,
            "slots": 4, "threads": 2, "load1": 0.1, "measured": "2026-01-01T00:00:00+00:00", "source": "benchmark"}
    return Speed.model_validate({**base, **kw})


def test_speed_cache_roundtrip(tmp_path: Path) -> None:
    assert load_speed(tmp_path, "qwen2.5-coder-1.5b") is None
    save_speed(tmp_path, speed())
    save_speed(tmp_path, speed(model="qwen2.5-coder-0.5b", prompt_tps=150.0))
    assert load_speed(tmp_path, "qwen2.5-coder-1.5b") == speed()
    (tmp_path / "speed.json").write_text("{not json")
    with pytest.raises(Exception, match="not a valid speed cache"):
        load_speed(tmp_path, "qwen2.5-coder-1.5b")


@pytest.mark.parametrize(("width", "expected"), [(1, 1.0), (2, 1.1667), (4, 1.5), (9, 1.5)])
def test_generation_speedup(width: int, expected: float) -> None:
    assert generation_speedup(speed(), width) == pytest.approx(expected, abs=1e-3)


def test_speed_from_ledger(tmp_path: Path) -> None:
    run_dir, _ = run_fake(tmp_path, workflow="fusion", personas=3)
    lines = read_ledger(run_dir / "ledger.jsonl")
    got = speed_from_ledger(lines, "fake", slots=4, threads=2, load1=0.5, run_id="test-run")
    assert got is not None and got.prompt_tps == pytest.approx(100.0) and got.gen_tps == pytest.approx(20.0)
    assert speed_from_ledger(lines[:0], "fake", slots=4, threads=2, load1=0.5, run_id="x") is None


def test_estimate_counts_the_shared_prefix_as_cached_and_predicts_wall_time(example: Path) -> None:
    settings = RunSettings(run_id="t", target=str(example), model="local:1.5b", personas=3, k=1)
    est = estimate(settings, load_workflow("debate"), ingest(str(example)), speed=speed(), slots=4)
    assert 0 < est.prompt_cached < est.stages[0].prompt_tokens * est.calls
    first = est.stages[0]
    assert first.stage == "personas" and first.prompt_cached == 0  # the first call evaluates the prefix
    evaluated = sum(r.prompt_tokens - r.prompt_cached for r in est.stages)
    generated = sum(r.completion_tokens for r in est.stages)
    assert est.wall_s is not None
    assert evaluated / 65.0 + generated / 27.0 <= est.wall_s <= evaluated / 65.0 + generated / 18.0
    hosted = RunSettings(run_id="t", target=str(example), model="fake", personas=3, k=1)
    assert estimate(hosted, load_workflow("debate"), ingest(str(example)), speed=speed()).wall_s is None
    assert summarise([], "stage") == []


@pytest.mark.parametrize(("elapsed", "done", "total", "predicted", "expected"), [
    (0.0, 0, 10, None, None), (30.0, 0, 10, 100.0, 70.0), (10.0, 2, 10, None, 40.0),
    (10.0, 2, 10, 100.0, 65.0), (200.0, 9, 10, 100.0, 11.11),
])
def test_remaining_time(elapsed: float, done: int, total: int, predicted: float | None,
                        expected: float | None) -> None:
    got = remaining_s(elapsed, done, total, predicted)
    assert got == pytest.approx(expected, abs=0.01) if expected is not None else got is None


@pytest.mark.parametrize(("seconds", "text"), [(4.4, "4 s"), (245, "4 min 05 s"), (3725, "1 h 02 min")])
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_show_prints_where_the_time_went(tmp_path: Path) -> None:
    run_dir, report = run_fake(tmp_path, workflow="fusion", personas=2)
    result = CliRunner().invoke(app, ["show", str(run_dir)])
    assert result.exit_code == 0, result.output
    assert "cached" in result.output
    console = Console(width=200, record=True)
    console.print(time_table(report))
    text = console.export_text()
    reviews = next(c for c in report.cost_by_stage if c.key == "reviews")
    row = [c.strip() for c in next(x for x in text.splitlines() if "reviews" in x).split("│")[1:-1]]
    assert "Where the time went" in text
    assert row[3:5] == [str(reviews.prompt_cached), str(reviews.prompt_tokens - reviews.prompt_cached)]


def test_estimate_prints_a_wall_time_once_the_speed_is_measured(example: Path, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REBUTTAL_CACHE", str(tmp_path))
    monkeypatch.setattr("engine.llm.providers.context_window", lambda model: 8192)
    before = CliRunner().invoke(app, ["estimate", str(example), "--model", "local:1.5b"])
    assert "not measured on this machine yet" in before.output
    save_speed(tmp_path, speed())
    after = CliRunner().invoke(app, ["estimate", str(example), "--model", "local:1.5b"])
    assert after.exit_code == 0, after.output
    assert "expected wall time:" in after.output and "wall (s)" in after.output


def test_the_first_local_run_caches_its_speed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    from engine import api
    from engine.llm import local
    from engine.llm.ledger import Ledger, LedgerLine

    monkeypatch.setenv("REBUTTAL_CACHE", str(tmp_path / "cache"))
    settings = RunSettings(run_id="r1", target="x", model="local:0.5b")
    ledger = Ledger(tmp_path / "ledger.jsonl")
    for i in range(3):
        ledger.append(LedgerLine(call_id=f"c{i}", attempt=1, stage="reviews", persona="p", model="local:0.5b",
                                 prompt_tokens=600, completion_tokens=200, cost_usd=0.0, latency_s=9.0, outcome="ok",
                                 prompt_cached=400, prompt_eval_ms=2000.0, generation_ms=8000.0))
    monkeypatch.setattr(local, "running_server", lambda name: None)
    assert api.remember_speed(tmp_path, settings) is None  # no server ran in this process: nothing measured
    monkeypatch.setattr(local, "running_server", lambda name: SimpleNamespace(slots=4, threads=2))
    got = api.remember_speed(tmp_path, settings)
    assert got is not None and got.prompt_tps == 100.0 and got.gen_tps == 25.0 and got.source == "run r1"
    name = "qwen2.5-coder-0.5b"
    assert load_speed(tmp_path / "cache", name) == got.model_copy(update={"model": name})
    assert api.remember_speed(tmp_path, settings) is None  # measured once; a benchmark's numbers are never replaced


def test_benchmark_reports_evaluated_cached_and_the_ratio_to_the_limit(capsys: pytest.CaptureFixture[str]) -> None:
    from engine.llm.ledger import LedgerLine
    from tests.conftest import load_benchmark

    bench = load_benchmark("local_model.py", "local_model_bench")
    line = {"attempt": 1, "persona": "p", "model": "local:1.5b", "cost_usd": 0.0, "latency_s": 1.0, "outcome": "ok"}
    lines = [LedgerLine(call_id="w", stage="warm", prompt_tokens=1300, completion_tokens=1, prompt_cached=0, **line),
             LedgerLine(call_id="a", stage="reviews", prompt_tokens=1700, completion_tokens=299, prompt_cached=1300,
                        **line)]
    bench.report_review("this commit", 120.0, lines, speed(prompt_tps=50.0, gen_tps=20.0))
    text = capsys.readouterr().out
    # evaluated 1300 + 400 = 1700 of 3000 prompt tokens; limit 1700/50 + 300/20 = 49 s
    assert "1 calls" in text and "evaluated 1700 (57%), cached 1300" in text
    assert "limit at single-stream rates 49 s" in text and "wall/limit 2.45" in text


def test_speed_from_a_run_separates_lone_calls_from_parallel_ones() -> None:
    from engine.llm.ledger import LedgerLine

    def line(cid: str, started: str, latency: float, gen: int, gen_ms: float) -> LedgerLine:
        return LedgerLine(call_id=cid, attempt=1, stage="s", persona="p", model="local:0.5b", prompt_tokens=500,
                          completion_tokens=gen, cost_usd=0.0, latency_s=latency, outcome="ok", prompt_cached=300,
                          prompt_eval_ms=10_000.0, generation_ms=gen_ms, started=started)

    lines = [line("personas", "2026-01-01T00:00:00+00:00", 50.0, 250, 50_000.0),    # alone: 5 tok/s
             line("review-a", "2026-01-01T00:01:00+00:00", 250.0, 600, 240_000.0),  # side by side with b
             line("review-b", "2026-01-01T00:01:00+00:00", 250.0, 600, 200_000.0),
             line("compile", "2026-01-01T00:06:00+00:00", 130.0, 550, 110_000.0)]   # alone: 5 tok/s
    got = speed_from_ledger(lines, "local:0.5b", slots=4, threads=1, load1=5.0, run_id="r")
    assert [len(g) for g in concurrent_groups(lines)] == [1, 2, 1]
    assert got is not None and got.gen_tps == 5.0 and got.prompt_tps == 20.0
    assert got.aggregate_gen_tps == 5.0 and got.slots == 2  # 1,200 tokens over the longest generation, 240 s
    judges = [line(f"judge-{i}", "2026-01-01T00:09:00+00:00", 60.0, 3, 55_000.0) for i in range(4)]
    got = speed_from_ledger(lines + judges, "local:0.5b", slots=4, threads=1, load1=5.0, run_id="r")
    assert got is not None and got.aggregate_gen_tps == 5.0 and got.slots == 2, "a wide wave of 3-token answers"


def test_a_call_without_the_shared_target_gets_the_rules_and_the_organiser_role() -> None:
    from engine.artifacts import render_template

    bare = render_template("prompts/system.md.j2", nonce="n0", target=None, persona=None, plain=False)
    shared = render_template("prompts/system.md.j2", nonce="n0", target="<<<DATA n0>>>\nx\n<<<END n0>>>", persona=None,
                             plain=False)
    assert "You are impartial." in bare and "The target:" not in bare
    assert shared.rstrip().endswith("<<<END n0>>>") and "You are impartial." not in shared


@pytest.fixture
def judged(monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs scored with the packaged prior, which gives the truth judge's answer a weight (the embedded model's
    fit gives it none, so its runs and estimates have no truth-judge calls)."""
    from engine.verify import calibration

    monkeypatch.setenv(calibration.ENV, str(Path(calibration.__file__).parent.parent / "data" / "calibration.json"))


def test_the_embedded_models_fit_plans_no_truth_judge_calls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The embedded model's fit gives the judge's P(yes) no weight: the estimate plans no truth-judge call for the
    embedded model, and one per finding under a calibration that counts the judge."""
    code = tmp_path / "store.py"
    code.write_text("def load(path, seen=[]):\n    seen.append(path)\n    return seen\n", encoding="utf-8")
    settings = RunSettings(run_id="t", target=str(code), model="local:1.5b", workflow="single")
    monkeypatch.setenv("REBUTTAL_HOME", str(tmp_path / "home"))  # no user calibration
    assert "judge" not in {r.stage for r in estimate(settings, load_workflow("single"), ingest(str(code))).stages}
    from engine.verify import calibration

    monkeypatch.setenv(calibration.ENV, str(Path(calibration.__file__).parent.parent / "data" / "calibration.json"))
    assert "judge" in {r.stage for r in estimate(settings, load_workflow("single"), ingest(str(code))).stages}


@pytest.mark.usefixtures("judged")
def test_focused_calls_carry_an_excerpt_not_the_target(tmp_path: Path) -> None:
    """The truth judge and the claims calls see an excerpt, a section or a pair: the estimate must not charge
    them the whole target (it did, and predicted document runs 20-97 % too long)."""
    doc = tmp_path / "prd.md"
    doc.write_text("# Goals\n\n" + "The service must answer within 200 ms for every request we get.\n" * 300
                   + "\n# Design\n\nThe worker calls the SMS gateway for each event.\n", encoding="utf-8")
    settings = RunSettings(run_id="t", target=str(doc), model="local:1.5b", workflow="single")
    est = estimate(settings, load_workflow("single"), ingest(str(doc)), speed=speed(), slots=4)
    rows = {r.stage: r for r in est.stages}
    review = rows["reviews"].prompt_tokens / rows["reviews"].calls
    for stage in ("claims", "judge"):
        assert rows[stage].calls and rows[stage].prompt_tokens / rows[stage].calls < review / 2
        assert rows[stage].prompt_cached < rows[stage].prompt_tokens  # only the rules are shared


@pytest.mark.usefixtures("judged")
def test_the_estimate_foresees_the_analyzers_findings(tmp_path: Path) -> None:
    """Each analyzer hit no persona raises becomes a finding with its own truth-judge call: the estimate runs
    the analyzers (no model) and plans those calls (the file estimate was 36 % short without them)."""
    from engine.api import estimate_run, expected_analyzer_issues

    code = tmp_path / "store.py"
    code.write_text("import pickle\n\n\ndef load(path, seen=[]):\n    with open(path, 'rb') as fh:\n"
                    "        seen.append(path)\n        return pickle.load(fh)\n", encoding="utf-8")
    settings = RunSettings(run_id="t", target=str(code), model="local:1.5b", workflow="single")
    snap, workflow = ingest(str(code)), load_workflow("single")
    assert expected_analyzer_issues(workflow, snap) == 2  # ruff B006 (mutable default), bandit B301 (pickle)
    without = {r.stage: r for r in estimate(settings, workflow, snap).stages}
    with_hits = {r.stage: r for r in estimate_run(settings, workflow, snap).stages}
    assert with_hits["judge"].calls == without["judge"].calls + 2
    assert expected_analyzer_issues(load_workflow("single").model_copy(update={"stages": [
        s.model_copy(update={"analyzers": []}) if s.stage == "verify" else s for s in workflow.stages]}), snap) == 0
    doc = tmp_path / "notes.md"
    doc.write_text("# Plan\n\nWe store the data.\n", encoding="utf-8")
    assert expected_analyzer_issues(workflow, ingest(str(doc))) == 0


@pytest.mark.usefixtures("judged")
def test_the_estimate_foresees_the_claims_checkers_findings(tmp_path: Path) -> None:
    """On a document the claims checker's rule hits become findings too (each a truth-judge call)."""
    from engine.stages.claims import planned_checker_issues

    plain, open_bucket = tmp_path / "plain.md", tmp_path / "bucket.md"
    plain.write_text("# Plan\n\nWe store the data.\n", encoding="utf-8")
    open_bucket.write_text("# Storage\n\nThe bucket is configured for public-read.\n", encoding="utf-8")
    assert planned_checker_issues(ingest(str(plain))) == 0
    assert planned_checker_issues(ingest(str(open_bucket))) == 1
    assert planned_checker_issues(ingest(str(Path(__file__).parents[1] / "examples" / "ratelimiter.py"))) == 0

    def judge_calls(path: Path) -> int:
        settings = RunSettings(run_id="t", target=str(path), model="local:1.5b", workflow="single")
        return next(r.calls for r in estimate(settings, load_workflow("single"), ingest(str(path))).stages
                    if r.stage == "judge")

    assert judge_calls(open_bucket) == judge_calls(plain) + 1
