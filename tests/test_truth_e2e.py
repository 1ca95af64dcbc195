"""Truth end to end on the fake model: isolated parallel yes/no judging, the verbal fallback, counter-quotes,
and the triage -> calibrate -> next run round trip."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from engine.cli import app
from engine.cli.truth import ask_labels, parse_label_args
from engine.errors import ConfigError
from engine.llm import fake_answers
from engine.llm.fake import FakeChatModel, FakeHTTPError
from engine.llm.ledger import read_ledger
from engine.triage import read_triage
from engine.verify.features import logit
from tests.conftest import run_fake


class CountingFake(FakeChatModel):
    """Records how many yes/no judge calls are in flight at once."""

    in_flight: int = 0
    peak: int = 0

    async def _agenerate(self, messages: Any, stop: Any = None, run_manager: Any = None, **kwargs: Any) -> Any:
        judging = fake_answers.is_yes_no("\n".join(str(m.content) for m in messages))
        if judging:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            await asyncio.sleep(0.05)
        try:
            return await super()._agenerate(messages, stop, run_manager, **kwargs)
        finally:
            self.in_flight -= judging


def judge_records(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted((run_dir / "calls").glob("judge--*.json"))]


def test_each_finding_is_judged_alone_and_all_at_once(tmp_path: Path) -> None:
    model = CountingFake()
    run_dir, report = run_fake(tmp_path, factory=lambda name, max_tokens: model, concurrency=16)
    records = judge_records(run_dir)
    assert len(records) == len(report.findings) >= 3
    assert model.peak == len(records), "every judge call was in flight at the same time"
    for r in records:
        user = r["messages"][1]["content"]
        assert user.count("Claim [") == 1, "one finding per prompt: no order effects"
        assert "Their outcomes are facts" in user and "- quote: " in user
    by_title = {f.title: f for f in report.findings}
    for r in records:
        claim = next(ln for ln in r["messages"][1]["content"].splitlines() if ln.startswith("Claim ["))
        title = claim.split("]: ", 1)[1].split(" — ")[0]
        s = by_title[title].scores if title in by_title else None
        if s is None:
            continue
        assert s.judge_mode == "logprob"
        assert s.judge_p_yes == pytest.approx(fake_answers.p_yes(r["messages"][0]["content"] + "\n"
                                                                 + r["messages"][1]["content"]))
        assert s.features["judge"] == pytest.approx(logit(s.judge_p_yes), abs=1e-3)
    assert all(f.scores.calibration == "prior-v2" and f.scores.features for f in report.findings)
    lines = [x for x in read_ledger(run_dir / "ledger.jsonl") if x.stage == "judge"]
    assert len(lines) == len(records) and all(x.completion_tokens <= 5 for x in lines), "tiny answers, ledgered"


def test_a_calibration_that_gives_the_judge_no_weight_asks_no_truth_judge(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The embedded model's fit gives the judge's P(yes) no weight: asking it would cost calls and change no truth.
    Under such a calibration a run makes no truth-judge call, says why in each rationale, and is not degraded;
    usefulness is still judged."""
    from engine.verify import calibration

    zero = calibration.shipped().model_copy(update={"name": "no-judge", "weights": {
        **calibration.shipped().weights, "judge": 0.0}})
    monkeypatch.setenv(calibration.ENV, str(calibration.save(zero, tmp_path / "no-judge.json")))
    run_dir, report = run_fake(tmp_path)
    assert report.findings and not any("truth" in d for d in report.degraded)
    assert not list((run_dir / "calls").glob("judge--*truth-*.json"))
    assert list((run_dir / "calls").glob("compile--panel--*.json")), "usefulness is still asked"
    for f in report.findings:
        assert f.scores.judge_p_yes is None and f.scores.features["judge"] == 0.0
        assert "truth judge not asked (no-judge gives its answer no weight)" in f.scores.truth_rationale
        assert f.scores.calibration == "no-judge"


@pytest.mark.parametrize("how", ["spec", "factory"])
def test_without_logprobs_the_judge_answers_in_words(tmp_path: Path, how: str) -> None:
    if how == "spec":
        run_dir, report = run_fake(tmp_path, model="fake:verbal")
    else:
        run_dir, report = run_fake(tmp_path, factory=lambda name, max_tokens: FakeChatModel(logprobs=False))
    assert report.findings and not report.degraded
    assert {f.scores.judge_mode for f in report.findings} == {"verbal"}
    assert {f.scores.judge_p_yes for f in report.findings} <= {0.9, 0.5, 0.1}
    assert "verbal" in (run_dir / "review-findings.md").read_text(encoding="utf-8")


class NoLogprobsOption(FakeChatModel):
    """A provider that refuses the logprobs option with HTTP 400."""

    def _answer(self, messages: Any, schema_name: Any, logprobs: bool = False) -> Any:
        if logprobs:
            raise FakeHTTPError(400, "logprobs is not supported by this model")
        return super()._answer(messages, schema_name, logprobs)


def test_a_provider_refusing_logprobs_is_asked_again_without(tmp_path: Path) -> None:
    model = NoLogprobsOption()
    run_dir, report = run_fake(tmp_path, factory=lambda name, max_tokens: model)
    assert not report.degraded and {f.scores.judge_mode for f in report.findings} == {"verbal"}
    outcomes = [[a["outcome"] for a in r["attempts"]] for r in judge_records(run_dir)]
    assert all(len(o) == 2 and o[0].endswith("(asked again without logprobs)") and o[1] == "ok" for o in outcomes)


def test_judge_answers_are_replayed_on_resume(tmp_path: Path) -> None:
    from engine import api

    run_dir, report = run_fake(tmp_path)
    before = len(read_ledger(run_dir / "ledger.jsonl"))
    (run_dir / "checkpoint.sqlite").unlink()  # forget the graph state: every call must come back from calls/
    def no_model(name: str, max_tokens: int) -> Any:
        raise AssertionError(f"a replayed run built a model ({name})")

    again = asyncio.run(api.resume(run_dir, factory=no_model))
    assert len(read_ledger(run_dir / "ledger.jsonl")) == before, "no call was made again"
    assert [f.scores for f in again.findings] == [f.scores for f in report.findings]


def test_unsupported_disagreements_are_shown_and_not_counted(tmp_path: Path) -> None:
    run_dir, report = run_fake(tmp_path, personas=4, k=2)
    stances = [s for f in report.findings for s in f.stances if s.stance == "disagree"]
    assert any(not s.counted for s in stances) and any(s.counted for s in stances)
    assert all(s.counted == (s.quote_status in ("verified", "moved")) for s in stances)
    text = (run_dir / "review-findings.md").read_text(encoding="utf-8")
    assert "disagree (not counted)" in text and "unsupported disagreement" in text
    responses = "".join(p.read_text(encoding="utf-8") for p in (run_dir / "responses").glob("*.md"))
    assert "unsupported, not counted" in responses


def test_parse_label_args_and_interactive_labels() -> None:
    assert parse_label_args(["--accept", "F-001", "F-004", "--dismiss", "F-002"]) == (["F-001", "F-004"], ["F-002"])
    assert parse_label_args(["--accept=F-001,F-002"]) == (["F-001", "F-002"], [])
    with pytest.raises(ConfigError, match="unexpected argument 'F-001'"):
        parse_label_args(["F-001"])
    findings = [{"id": f"F-00{i}", "title": "t", "severity": "high", "status": "unique", "file": "a.py",
                 "line_start": 1, "line_end": 1, "evidence": "x", "fix": "f",
                 "scores": {"truth": 0.5, "usefulness": 0.5, "truth_rationale": "r"}} for i in range(1, 5)]
    answers = iter(["a", "what", "d", "", "q"])
    shown: list[str] = []
    labels = ask_labels(findings, {}, lambda q: next(answers), shown.append)
    assert labels == {"F-001": "accept", "F-002": "dismiss"}, "skip leaves F-003 out, quit stops before F-004"
    assert any("please answer" in s for s in shown)


def test_triage_then_calibrate_then_the_next_run_uses_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REBUTTAL_CALIBRATION")
    monkeypatch.delenv("REBUTTAL_HOME", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    runner = CliRunner()
    runs = []
    for i, personas in enumerate([3, 4, 5, 3, 4]):
        run_dir, report = run_fake(tmp_path / f"r{i}", run_id=f"run-{i}", personas=personas, k=2, seed=i)
        assert yaml.safe_load((run_dir / "run.yaml").read_text(encoding="utf-8"))["calibration"]["name"] == "prior-v2"
        accept = [f.id for f in report.findings if (f.scores.judge_p_yes or 0) >= 0.65]
        dismiss = [f.id for f in report.findings if f.id not in accept]
        args = ["triage", str(run_dir), *(["--accept", *accept] if accept else []),
                *(["--dismiss", *dismiss] if dismiss else [])]
        res = runner.invoke(app, args)
        assert res.exit_code == 0, res.output
        assert {k: v.label for k, v in read_triage(run_dir, f"run-{i}").findings.items()} == \
            {**dict.fromkeys(accept, "accept"), **dict.fromkeys(dismiss, "dismiss")}
        runs.append(run_dir)
    res = runner.invoke(app, ["calibrate", *map(str, runs), "--name", "mine", "--l2", "0.1"])
    assert res.exit_code == 0, res.output
    assert "held out" in res.output and "AUROC" in res.output and "(the shipped prior-v2: AUROC" in res.output
    assert "positive)" in res.output and "ECE" in res.output
    saved = json.loads((tmp_path / "config" / "rebuttal" / "calibration.json").read_text(encoding="utf-8"))
    assert saved["name"] == "mine" and saved["kind"] == "fitted" and saved["n"] + saved["n_held_out"] >= 8
    assert saved["weights"]["judge"] > 0.6, "labels that follow the judge raise its weight"
    run_dir, report = run_fake(tmp_path / "next", run_id="next")
    info = yaml.safe_load((run_dir / "run.yaml").read_text(encoding="utf-8"))
    assert info["calibration"]["name"] == "mine" and info["calibration"]["source"].endswith("calibration.json")
    assert report.calibration.startswith("mine (fitted on")
    assert json.loads((run_dir / "report.json").read_text(encoding="utf-8"))["calibration"] == report.calibration
    assert f"**Truth calibration:** {report.calibration}" in (run_dir / "review-findings.md").read_text("utf-8")
    assert {f.scores.calibration for f in report.findings} == {"mine"}
    # a fit for another judge model is written with its model, and the fake's runs keep the prior
    res = runner.invoke(app, ["calibrate", *map(str, runs), "--for-model", "openai:gpt-4o", "--out",
                              str(tmp_path / "config" / "rebuttal" / "calibration.json")])
    assert res.exit_code == 0, res.output
    saved = json.loads((tmp_path / "config" / "rebuttal" / "calibration.json").read_text(encoding="utf-8"))
    assert saved["models"] == ["openai:gpt-4o"]
    _, report = run_fake(tmp_path / "after", run_id="after")
    assert report.calibration.startswith("prior-v2")
    # the judge held at 0 (runs that did not all ask it); a misspelt feature is one clear error
    res = runner.invoke(app, ["calibrate", *map(str, runs), "--hold", "judge", "--out", str(tmp_path / "held.json")])
    assert res.exit_code == 0, res.output
    held = json.loads((tmp_path / "held.json").read_text(encoding="utf-8"))
    assert held["weights"]["judge"] == 0.0 and "Held at 0: judge." in held["description"]
    res = runner.invoke(app, ["calibrate", *map(str, runs), "--hold", "jugde", "--out", str(tmp_path / "bad.json")])
    assert res.exit_code != 0 and "unknown feature(s) to hold: jugde" in res.output
    assert not (tmp_path / "bad.json").exists()


def test_calibrate_without_labels_is_one_clear_error(tmp_path: Path) -> None:
    run_dir, _ = run_fake(tmp_path)
    res = CliRunner().invoke(app, ["calibrate", str(run_dir), "--out", str(tmp_path / "c.json")])
    assert res.exit_code != 0 and "need at least 8 labelled findings" in res.output
    assert not (tmp_path / "c.json").exists()
