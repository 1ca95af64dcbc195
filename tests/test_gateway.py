"""The gateway with scripted provider failures: retries, repair, auth, budgets, ledger, replay."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from engine.config import Budget, RunSettings
from engine.errors import BudgetExceeded, ModelOutputError, ProviderError
from engine.llm.fake import FakeChatModel, Fault
from engine.llm.gateway import Gateway, call_id, is_transient
from engine.llm.ledger import read_ledger
from engine.schemas import ReviewOut

PROMPT = "=== FILE: a.py (lines 1-2) ===\n1| value = compute_something(x)\n2| return value_of_thing\n"


def gateway(tmp_path: Path, faults: list[Fault], **settings: object) -> tuple[Gateway, list[float], FakeChatModel]:
    model = FakeChatModel(faults=faults)
    sleeps: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    s = RunSettings(run_id="t", target="x", model="fake", **settings)  # type: ignore[arg-type]
    gw = Gateway(run_dir=tmp_path, settings=s, factory=lambda name, mt: model, sleep=fake_sleep)
    return gw, sleeps, model


def call(gw: Gateway, subject: str = "review") -> ReviewOut:
    return asyncio.run(gw.structured(stage="reviews", persona="p", subject=subject, model="fake", schema=ReviewOut,
                                     system="Your persona: P", user=PROMPT, max_tokens=500))


@pytest.mark.parametrize(
    ("kind", "outcome"),
    [("429", "error: FakeHTTPError"), ("500", "error: FakeHTTPError"), ("503", "error: FakeHTTPError"),
     ("timeout", "error: TimeoutError"), ("disconnect", "error: ConnectionError")],
)
def test_transient_errors_are_retried(tmp_path: Path, kind: str, outcome: str) -> None:
    gw, sleeps, model = gateway(tmp_path, [Fault(kind=kind, times=2)])
    out = call(gw)
    assert out.issues
    lines = read_ledger(tmp_path / "ledger.jsonl")
    assert [line.attempt for line in lines] == [1, 2, 3]
    assert [line.outcome.startswith(outcome) for line in lines] == [True, True, False]
    assert lines[-1].outcome == "ok" and lines[0].prompt_tokens == 0
    assert len(sleeps) == 2 and sleeps[1] >= sleeps[0] / 2
    assert model.calls == 3


def test_retry_after_is_honoured(tmp_path: Path) -> None:
    gw, sleeps, _ = gateway(tmp_path, [Fault(kind="429", times=1, retry_after=7.5)])
    call(gw)
    assert sleeps == [7.5]


def test_gives_up_after_max_retries(tmp_path: Path) -> None:
    gw, sleeps, model = gateway(tmp_path, [Fault(kind="500")], max_retries=3)
    with pytest.raises(ProviderError, match="gave up after 4 attempts"):
        call(gw)
    assert model.calls == 4 and len(sleeps) == 3
    assert len(read_ledger(tmp_path / "ledger.jsonl")) == 4


def test_auth_errors_are_not_retried(tmp_path: Path) -> None:
    gw, sleeps, model = gateway(tmp_path, [Fault(kind="auth")])
    with pytest.raises(ProviderError, match="HTTP 401"):
        call(gw)
    assert model.calls == 1 and sleeps == []


def test_malformed_output_is_repaired_with_the_error_fed_back(tmp_path: Path) -> None:
    gw, _, model = gateway(tmp_path, [Fault(kind="junk", times=1)])
    assert call(gw).issues
    record = json.loads((tmp_path / "calls" / f"{call_id('reviews', 'p', 'review')}.json").read_text())
    assert [a["outcome"] for a in record["attempts"]] == ["parse_error", "ok"]
    assert [line.outcome for line in read_ledger(tmp_path / "ledger.jsonl")] == ["parse_error", "ok"]
    assert model.calls == 2


def test_cut_off_answer_is_retried_shorter_and_its_tokens_counted(tmp_path: Path) -> None:
    gw, _, model = gateway(tmp_path, [Fault(kind="length", times=1)])
    assert call(gw).issues
    lines = read_ledger(tmp_path / "ledger.jsonl")
    assert [line.outcome for line in lines] == ["parse_error", "ok"]
    assert (lines[0].prompt_tokens, lines[0].completion_tokens) == (100, 600)
    record = json.loads((tmp_path / "calls" / f"{call_id('reviews', 'p', 'review')}.json").read_text())
    assert len(record["attempts"]) == 2 and model.calls == 2


def test_persistent_junk_fails_loudly(tmp_path: Path) -> None:
    gw, _, model = gateway(tmp_path, [Fault(kind="junk")], parse_retries=2)
    with pytest.raises(ModelOutputError, match="invalid output"):
        call(gw)
    assert model.calls == 3


def test_budget_max_calls_stops_before_the_call(tmp_path: Path) -> None:
    gw, _, model = gateway(tmp_path, [], budget=Budget(max_calls=2))
    call(gw, "a")
    call(gw, "b")
    with pytest.raises(BudgetExceeded, match="max_calls=2"):
        call(gw, "c")
    assert model.calls == 2 and gw.stopped


def test_budget_max_tokens(tmp_path: Path) -> None:
    gw, _, model = gateway(tmp_path, [], budget=Budget(max_tokens=400))
    with pytest.raises(BudgetExceeded, match="max_tokens"):
        call(gw)
    assert model.calls == 0


def test_budget_max_usd_uses_prices(tmp_path: Path) -> None:
    gw, _, model = gateway(tmp_path, [], budget=Budget(max_usd=0.001), prices={"fake": (1000.0, 1000.0)})
    with pytest.raises(BudgetExceeded, match="max_usd"):
        call(gw)
    assert model.calls == 0


def test_finished_calls_are_replayed_not_repeated(tmp_path: Path) -> None:
    gw, _, model = gateway(tmp_path, [])
    first = call(gw)
    gw2, _, model2 = gateway(tmp_path, [])
    assert call(gw2) == first
    assert model2.calls == 0
    assert len(read_ledger(tmp_path / "ledger.jsonl")) == 1
    assert gw2.used.calls == 1, "usage is restored from the ledger for budgets"


def test_call_ids_are_deterministic_and_safe() -> None:
    assert call_id("reviews", "../../etc", "x/y") == "reviews--etc--x-y"
    assert call_id("a", "b", "c") == call_id("a", "b", "c")


def test_transient_classification() -> None:
    from engine.llm.fake import FakeHTTPError

    assert is_transient(FakeHTTPError(429)) and is_transient(FakeHTTPError(502)) and is_transient(TimeoutError())
    assert not is_transient(FakeHTTPError(401)) and not is_transient(FakeHTTPError(400))
    assert not is_transient(ValueError("x"))


def test_a_line_torn_by_kill_9_does_not_swallow_the_next_one(tmp_path: Path) -> None:
    gw, _, _ = gateway(tmp_path, [])
    call(gw, "first")
    ledger = tmp_path / "ledger.jsonl"
    whole = ledger.read_text(encoding="utf-8")
    ledger.write_text(whole + whole[: len(whole) // 2], encoding="utf-8")  # killed halfway through a write
    gw2, _, _ = gateway(tmp_path, [])
    call(gw2, "second")
    lines = read_ledger(ledger)
    assert [ln.call_id for ln in lines] == [json.loads(whole)["call_id"], lines[1].call_id] and len(lines) == 2
    assert ledger.read_text(encoding="utf-8").endswith("\n")
    record = json.loads((tmp_path / "calls" / f"{lines[1].call_id}.json").read_text(encoding="utf-8"))
    assert "Your persona: P" in json.dumps(record), "the call record keeps the full prompt"
