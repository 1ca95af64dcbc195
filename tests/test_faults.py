"""Fault injection on whole runs: scripted provider failures by call index and by persona, failing
judges, junk output and budgets that run out mid-stage. Each ends in a complete, partial or degraded
report that says what happened, or (under --strict) in one clear error; never a silent gap."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from engine import api
from engine.cli import app
from engine.errors import ModelOutputError, ProviderError
from engine.llm import fake
from engine.llm.fake import FakeChatModel, Fault
from engine.llm.gateway import Gateway, ModelFactory
from engine.llm.ledger import read_ledger
from engine.models import Report
from engine.stages.findings import NO_CALL
from tests.conftest import EXAMPLE, FIXED_CLOCK, FIXED_NONCE, run_fake

PANEL = ["security-auditor", "maintainer", "test-engineer"]
VICTIM = "Your persona: Security Auditor"  # the system prompt line of the security-auditor persona
TRUTH = "Question: is this claim correct?"  # the truth judge's yes/no question (one call per finding)
USEFUL = "Rate each finding of a review panel on usefulness"  # the usefulness judge's prompt


def judge_faults(kind: str, **kw: object) -> list[Fault]:
    """The same fault on every call of the judge: its truth questions and its usefulness labels."""
    return [Fault(kind=kind, match=TRUTH, **kw), Fault(kind=kind, match=USEFUL, **kw)]  # type: ignore[arg-type]
ARTIFACT_DIRS = {"reviews": "reviews", "responses": "responses", "rebuttals": "rebuttals", "findings": "findings"}


@dataclass
class AllOf(Fault):
    """A fault that needs a second substring too (e.g. a persona *and* a stage)."""

    also: str = ""

    def hits(self, index: int, prompt: str) -> bool:
        return self.also in prompt and super().hits(index, prompt)


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries happen as in production, without the seconds of backoff between them."""
    monkeypatch.setattr(Gateway, "backoff", lambda self, attempt, hint: 0.0)


def models(**by_name: list[Fault]) -> ModelFactory:
    """A factory with one fake model per model name, each with its own faults (`fake_1` is `fake:1`)."""
    built = {name.replace("_", ":"): FakeChatModel(faults=faults) for name, faults in by_name.items()}
    return lambda name, max_tokens: built[name]


def panel(tmp_path: Path, factory: ModelFactory | None = None, *, timeout_s: float | None = None,
          **options: object) -> tuple[Path, Report]:
    """Like `run_fake` with three library personas and k=1, optionally with a short call timeout."""
    options.setdefault("persona", PANEL)
    options.setdefault("k", 1)
    options.setdefault("model", "fake")
    settings = api.build_settings(str(EXAMPLE), run_id="test-run", **options)  # type: ignore[arg-type]
    settings = settings.model_copy(update={"created": FIXED_CLOCK, "timeout_s": timeout_s or settings.timeout_s})
    prep = api.prepare(settings, tmp_path / "runs", check_providers=False, nonce=FIXED_NONCE)
    return prep.run_dir, asyncio.run(api.execute(prep, factory=factory, clock=lambda: FIXED_CLOCK))


def summary(report: Report) -> list[tuple[object, ...]]:
    return [(f.id, f.title, f.status, f.scores.truth, f.scores.usefulness, tuple(f.personas)) for f in report.findings]


def ok_calls(run_dir: Path) -> Counter[str]:
    return Counter(line.stage for line in read_ledger(run_dir / "ledger.jsonl") if line.outcome == "ok")


def assert_artifacts_kept(run_dir: Path) -> None:
    """Every call that finished has its artifact on disk."""
    done = ok_calls(run_dir)
    for stage, folder in ARTIFACT_DIRS.items():
        written = list((run_dir / folder).glob("*.md")) if (run_dir / folder).is_dir() else []
        written = [p for p in written if p.name != "analyzers-review.md"]  # the analyzers make no call
        # a persona none of whose issues was challenged keeps them without a call (findings.undisputed)
        written = [p for p in written if f"model: '{NO_CALL}'" not in p.read_text(encoding="utf-8")]
        assert len(written) == done[stage], (stage, done)


def report_lines(run_dir: Path, marker: str) -> list[str]:
    text = (run_dir / "review-findings.md").read_text(encoding="utf-8")
    return [line for line in text.splitlines() if marker in line]


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Report:
    """The report of a run without faults."""
    return panel(tmp_path_factory.mktemp("clean"))[1]


# -- transient faults and junk: retried or repaired, the result is unchanged ------------------------------------


@pytest.mark.parametrize("kind", ["429", "500", "503", "timeout", "disconnect", "hang", "junk"])
def test_faults_by_call_index_are_retried_without_changing_the_report(tmp_path: Path, kind: str,
                                                                      clean: Report) -> None:
    # "hang": a provider that never answers; the gateway's timeout turns it into a retry
    # the timeout is generous enough that a loaded CI machine never times out a healthy fake call
    run_dir, report = panel(tmp_path / "faulty", models(fake=[Fault(kind=kind, calls={0, 4, 9})]), concurrency=1,
                            timeout_s=2.0)
    assert report.complete and not report.failures and not report.degraded
    assert summary(report) == summary(clean)
    lines = read_ledger(run_dir / "ledger.jsonl")
    assert len([line for line in lines if line.outcome != "ok"]) == 3
    assert all(line.outcome == "ok" for line in lines if line.attempt == 2), "each fault cost one retry"


def test_rate_limit_retry_after_is_honoured_in_a_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []
    monkeypatch.setattr(Gateway, "backoff", lambda self, attempt, hint: waits.append(hint or 0.0) or 0.0)
    _, report = panel(tmp_path, models(fake=[Fault(kind="429", match=VICTIM, times=2, retry_after=3.0)]))
    assert report.complete and not report.failures
    assert waits == [3.0, 3.0]


# -- a persona whose calls keep failing is dropped, visibly --------------------------------------------------------


@pytest.mark.parametrize("kind", ["500", "429", "timeout", "disconnect", "junk", "auth"])
def test_persona_that_keeps_failing_is_dropped_with_a_note(tmp_path: Path, kind: str) -> None:
    run_dir, report = panel(tmp_path, models(fake=[Fault(kind=kind, match=VICTIM)]))
    assert report.complete
    assert [(f.stage, f.persona) for f in report.failures] == [("reviews", "security-auditor")]
    dropped = report_lines(run_dir, "**Dropped:**")
    assert len(dropped) == 1 and "security-auditor at reviews" in dropped[0]
    data = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    assert data["failures"][0]["persona"] == "security-auditor" and data["failures"][0]["error"]
    later = [line for line in read_ledger(run_dir / "ledger.jsonl") if line.persona == "security-auditor"]
    assert {line.stage for line in later} == {"reviews"}, "no later stage calls the dropped persona"
    assert not any("security-auditor" in p.name for d in ("responses", "rebuttals", "findings")
                   for p in (run_dir / d).glob("*.md"))
    assert report.findings and all("security-auditor" not in f.personas for f in report.findings)
    assert_artifacts_kept(run_dir)


def test_persona_failing_in_a_later_stage_is_dropped_from_the_rest(tmp_path: Path) -> None:
    fault = AllOf(kind="500", match=VICTIM, also="written by another reviewer")  # its responses only
    run_dir, report = panel(tmp_path, models(fake=[fault]))
    assert report.complete
    assert [(f.stage, f.persona) for f in report.failures] == [("responses", "security-auditor")]
    assert (run_dir / "reviews" / "security-auditor-review.md").exists(), "its finished review is kept"
    stages = {line.stage for line in read_ledger(run_dir / "ledger.jsonl") if line.persona == "security-auditor"}
    assert "rebuttals" not in stages and "findings" not in stages
    assert report_lines(run_dir, "security-auditor at responses")


def test_strict_fails_instead_of_dropping(tmp_path: Path) -> None:
    with pytest.raises(ProviderError, match="gave up after"):
        panel(tmp_path / "a", models(fake=[Fault(kind="500", match=VICTIM)]), strict=True)
    with pytest.raises(ModelOutputError, match="invalid output"):
        panel(tmp_path / "b", models(fake=[Fault(kind="junk", match=VICTIM)]), strict=True)


def test_strict_on_the_cli_is_one_error_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REBUTTAL_FAKE_FAULTS", json.dumps([{"kind": "auth", "match": VICTIM}]))
    fake.plan_from_env.cache_clear()
    try:
        base = ["review", str(EXAMPLE), "--model", "fake", "--out", str(tmp_path), "-k", "1", "-q"]
        base += [x for p in PANEL for x in ("--persona", p)]
        strict = CliRunner().invoke(app, [*base, "--strict", "--run-id", "strict"])
        fake.plan_from_env.cache_clear()
        lenient = CliRunner().invoke(app, [*base, "--run-id", "lenient"])
    finally:
        fake.plan_from_env.cache_clear()
    assert strict.exit_code == 2, strict.output
    lines = [line for line in strict.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and "HTTP 401" in lines[0]
    assert "Traceback" not in strict.output
    assert lenient.exit_code == 0, lenient.output
    assert report_lines(tmp_path / "lenient", "**Dropped:** security-auditor at reviews")


# -- the judge: fallback, else mechanical scores marked degraded ---------------------------------------------------


def test_failing_judge_without_fallback_marks_the_report_degraded(tmp_path: Path) -> None:
    run_dir, report = panel(tmp_path, models(fake=judge_faults("500")))
    assert report.complete and report.findings
    assert {f.scores.scored_by for f in report.findings} == {"mechanical"}
    assert all(f.scores.judge_mode is None and f.scores.features["judge"] == 0 for f in report.findings)
    assert all(f.scores.truth_rationale and f.scores.usefulness_rationale for f in report.findings)
    assert all("no judge answer" in f.scores.truth_rationale for f in report.findings)
    assert any(d.startswith("judge fake failed") for d in report.degraded)
    assert any("the checks and the debate alone" in d for d in report.degraded)
    assert len(report_lines(run_dir, "**Degraded:**")) == len(report.degraded)


def test_failing_judge_falls_back_to_the_second_judge(tmp_path: Path) -> None:
    factory = models(fake=judge_faults("500"), fake_1=[])
    run_dir, report = panel(tmp_path, factory, judge_fallback="fake:1")
    assert {f.scores.scored_by for f in report.findings} == {"fake:1"}
    assert report.judge == "fake (fallback fake:1)"
    assert report.degraded == [d for d in report.degraded if d.startswith("judge fake failed")] != []
    for stage in ("judge", "compile"):
        used = {line.model for line in read_ledger(run_dir / "ledger.jsonl") if line.stage == stage}
        assert used == {"fake", "fake:1"}, "both judges' calls are in the ledger"


def test_both_judges_failing_gives_mechanical_scores_and_two_notes(tmp_path: Path) -> None:
    factory = models(fake=judge_faults("junk"), fake_1=judge_faults("timeout"))
    _, report = panel(tmp_path, factory, judge_fallback="fake:1")
    assert {f.scores.scored_by for f in report.findings} == {"mechanical"}
    assert [d.split(" failed")[0] for d in report.degraded[:2]] == ["judge fake", "judge fake:1"]


def test_judge_junk_once_is_repaired_not_degraded(tmp_path: Path) -> None:
    run_dir, report = panel(tmp_path, models(fake=[Fault(kind="junk", match=TRUTH, times=1)]))
    assert not report.degraded and {f.scores.scored_by for f in report.findings} == {"fake"}
    records = [json.loads(p.read_text(encoding="utf-8")) for p in (run_dir / "calls").glob("judge--*.json")]
    assert sorted(len(r["attempts"]) for r in records)[-1] == 2
    repaired = next(r for r in records if len(r["attempts"]) == 2)
    assert [a["outcome"] for a in repaired["attempts"]] == ["parse_error", "ok"]


def test_strict_judge_failure_raises(tmp_path: Path) -> None:
    with pytest.raises(ProviderError):
        panel(tmp_path, models(fake=[Fault(kind="500", match=TRUTH)]), strict=True)


def test_failed_persona_generation_falls_back_to_the_library(tmp_path: Path) -> None:
    run_dir, report = run_fake(tmp_path, factory=models(fake=[Fault(kind="junk", match="Propose exactly")]),
                               personas=3, k=1)
    assert report.complete and len(report.personas) == 3
    assert any("persona generation failed" in d for d in report.degraded)
    assert all((run_dir / "personas" / f"{p}.md").exists() for p in report.personas)


# -- budgets: stop cleanly at the limit with a partial report ------------------------------------------------------


@pytest.mark.parametrize(("max_calls", "concurrency"), [(2, 16), (8, 1), (14, 4)])
def test_budget_exhausted_mid_stage_gives_a_partial_report(tmp_path: Path, max_calls: int, concurrency: int) -> None:
    run_dir, report = panel(tmp_path, max_calls=max_calls, concurrency=concurrency)
    assert not report.complete and report.partial_reason == f"budget: max_calls={max_calls} reached"
    assert len(read_ledger(run_dir / "ledger.jsonl")) == max_calls
    assert report_lines(run_dir, f"**PARTIAL: budget: max_calls={max_calls} reached**")
    assert report.findings, "what the finished reviews found is reported"
    assert any("not asked" in d for d in report.degraded)
    assert_artifacts_kept(run_dir)
    data = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    assert data["complete"] is False and "max_calls" in data["partial_reason"]


def test_a_budget_stopped_run_goes_on_with_a_larger_budget_without_repeating_a_call(tmp_path: Path) -> None:
    run_dir, first = panel(tmp_path, max_calls=8, concurrency=1)
    assert not first.complete
    spent = {ln.call_id for ln in read_ledger(run_dir / "ledger.jsonl")}
    again = CliRunner().invoke(app, ["resume", str(run_dir)])  # no new budget: still stopped, and says how to go on
    assert again.exit_code == 3 and "PARTIAL" in again.stdout and "--max-calls N" in again.stdout  # EXIT_BUDGET
    res = CliRunner().invoke(app, ["resume", str(run_dir), "--max-calls", "100", "--json"])
    assert res.exit_code == 0, res.stderr
    assert json.loads(res.stdout)["complete"] is True
    lines = read_ledger(run_dir / "ledger.jsonl")
    ids = [ln.call_id for ln in lines]
    assert len(ids) == len(set(ids)) and spent < set(ids), "the 8 paid calls were replayed, the rest made once"
    _, whole = panel(tmp_path / "whole", concurrency=1)
    assert whole.total is not None and len(ids) == whole.total.calls
    report = Report.model_validate_json((run_dir / "report.json").read_text(encoding="utf-8"))
    assert [f.title for f in report.findings] == [f.title for f in whole.findings]
    assert "max_calls: 100" in (run_dir / "run.yaml").read_text(encoding="utf-8")
    assert CliRunner().invoke(app, ["resume", str(run_dir), "--max-calls", "0"]).exit_code == 2


@pytest.mark.parametrize("concurrency", [1, 4, 16])
def test_max_usd_is_never_exceeded_by_more_than_one_call_per_slot(tmp_path: Path, concurrency: int) -> None:
    limit = 0.2
    run_dir, report = panel(tmp_path, max_usd=limit, prices={"fake": (40.0, 40.0)}, concurrency=concurrency)
    assert not report.complete and "max_usd=0.2" in (report.partial_reason or "")
    costs = [line.cost_usd or 0.0 for line in read_ledger(run_dir / "ledger.jsonl")]
    assert costs and sum(costs) <= limit + concurrency * max(costs)
    assert report.total is not None and report.total.cost_usd == pytest.approx(sum(costs), abs=1e-6)


def test_budget_too_small_for_the_first_call_still_writes_a_partial_report(tmp_path: Path) -> None:
    run_dir, report = run_fake(tmp_path, personas=3, max_tokens=10)
    assert not report.complete and "max_tokens=10" in (report.partial_reason or "")
    assert any("no panel" in d for d in report.degraded)
    # no persona reviewed; the analyzers cost no call and still report the example's unraised hits
    assert report.findings and all(f.personas == ["analyzers"] for f in report.findings)
    assert all(f.scores.scored_by == "mechanical" for f in report.findings)
    assert read_ledger(run_dir / "ledger.jsonl") == []
    assert report_lines(run_dir, "**PARTIAL:")


def test_budget_warning_with_the_estimate_comes_before_the_first_call(tmp_path: Path) -> None:
    prices = tmp_path / "prices.yaml"
    prices.write_text("fake: [40.0, 40.0]\n", encoding="utf-8")
    cases = [(["--max-calls", "4"], "budget max_calls=4 is below the estimated"),
             (["--max-usd", "0.5", "--prices", str(prices)], "budget max_usd=0.5 is below the estimated $")]
    for n, (options, warning) in enumerate(cases):
        result = CliRunner().invoke(app, ["review", str(EXAMPLE), "--model", "fake", "--out", str(tmp_path),
                                          "--run-id", f"r{n}", "--personas", "3", "-k", "1", *options])
        assert result.exit_code == 3, result.output  # EXIT_BUDGET: a budget stopped it
        err = " ".join(result.stderr.split())  # the console may wrap long lines
        at = err.index(f"warning: {warning}")
        assert at < err.index(" personas 1/1"), "the warning comes before the first call finishes"
        assert "expect a partial report" in err[at:at + 200]
        assert "PARTIAL (budget:" in result.stdout
