"""Truth without a model: P(yes) from logprobs, the verbal fallback, features, the logistic model, fitting."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from engine.errors import ConfigError
from engine.llm.logprobs import judge_answer, p_yes_from_logprobs, verbal_answer
from engine.models import RebuttalPoint, ResponsePoint
from engine.stages.cluster import stance_of
from engine.verify import calibration
from engine.verify.calibration import Calibration, predict, rationale
from engine.verify.checks import Check
from engine.verify.features import CHECKLIST_HEADINGS, FEATURES, Signals, content_words, extract, generic_title
from engine.verify.fitting import (
    Row,
    auroc,
    calibrate,
    ece,
    fit_weights,
    held_out_by_hash,
    mixed_judge,
    rows_from_corpus,
    solve,
)


def position(token: str, lp: float, top: list[tuple[str, float]]) -> dict[str, object]:
    return {"token": token, "logprob": lp, "top_logprobs": [{"token": t, "logprob": v} for t, v in top]}


def sm(yes: float, no: float) -> float:
    return math.exp(yes) / (math.exp(yes) + math.exp(no))


@pytest.mark.parametrize(("logprobs", "expected"), [
    ({"content": [position("Yes", -0.1, [("Yes", -0.1), ("No", -2.4)])]}, sm(-0.1, -2.4)),
    ({"content": [position("No", -0.2, [("No", -0.2), ("Yes", -1.8), ("The", -3.0)])]}, sm(-1.8, -0.2)),
    # variants of one answer are summed; blanks and markup before the answer are skipped
    ({"content": [position("\n", -0.01, [("\n", -0.01)]), position("**", -0.1, []),
                  position(" yes", -0.5, [(" yes", -0.5), ("YES", -1.5), (" no", -1.0)])]},
     (math.exp(-0.5) + math.exp(-1.5)) / (math.exp(-0.5) + math.exp(-1.5) + math.exp(-1.0))),
    ({"content": [position("▁Yes", -0.3, [("▁No", -1.3)])]}, sm(-0.3, -1.3)),  # chosen token not in the top list
    ({"content": [position("Maybe", -0.1, [("Maybe", -0.1), ("Perhaps", -2.0)])]}, None),  # neither yes nor no
    ({"content": [position("Yes", float("-inf"), [("No", float("-inf"))])]}, None),
    (None, None), ({}, None), ({"content": None}, None), ({"content": []}, None), ("junk", None),
])
def test_p_yes_from_logprobs(logprobs: object, expected: float | None) -> None:
    got = p_yes_from_logprobs(logprobs)
    assert got == pytest.approx(expected) if expected is not None else got is None


@pytest.mark.parametrize(("text", "expected"), [
    ("Yes.", "yes"), ("no, the lock is held", "no"), ("**Unsure**", "unsure"), ("True", "yes"),
    ("incorrect", "no"), ("I think so", None), ("", None), ("   ", None),
])
def test_verbal_answer(text: str, expected: str | None) -> None:
    assert verbal_answer(text) == expected


def test_judge_answer_prefers_logprobs_and_falls_back_to_words() -> None:
    lp = {"content": [position("No", -0.5, [("No", -0.5), ("Yes", -1.0)])]}
    assert judge_answer("No", lp).model_dump() == {"mode": "logprob", "p_yes": round(sm(-1.0, -0.5), 6),
                                                    "answer": "no"}
    assert judge_answer("yes", None).model_dump() == {"mode": "verbal", "p_yes": 0.9, "answer": "yes"}
    assert judge_answer("unsure", {"content": []}).mode == "verbal"
    assert judge_answer("The code is fine", None) is None


ANALYZER = Check(kind="analyzer:ruff", outcome="supports", detail="B006 mutable default", data={"rule": "B006"})
BANDIT = Check(kind="analyzer:bandit", outcome="supports", detail="pickle", data={"test_id": "B301"})


def CLAIMS(strength: str, outcome: str = "supports") -> Check:  # noqa: N802 - reads like the constants above
    return Check(kind="claims", outcome=outcome, detail="limit-contradiction: d", data={"strength": strength})


@pytest.mark.parametrize(("signals", "expected"), [
    (Signals(evidence_status="verified"), {"quote_verified": 1.0, "severity": -0.5}),
    (Signals(evidence_status="moved", severity="critical"), {"severity": 1.5}),
    (Signals(evidence_status="not_found", severity="low"), {"quote_not_found": 1.0, "severity": -1.5}),
    # the engine's own quote check wins over compile's stricter matcher: verified stays verified
    (Signals(evidence_status="not_found", checks=[Check(kind="quote", outcome="supports", detail="found")]),
     {"quote_verified": 1.0, "severity": -0.5}),
    (Signals(evidence_status="moved", checks=[ANALYZER, BANDIT, Check(kind="location", outcome="refutes",
                                                                    detail="line 900 > 120")]),
     {"analyzer_support": 1.0, "location_refutes": 1.0, "severity": -0.5}),  # two analyzers: support, once
    # the verify stage's quote checks: data.status decides; no quote given counts as not found
    (Signals(evidence_status="moved", checks=[Check(kind="quote", outcome="inconclusive", detail="none",
                                                    data={"status": "no_quote", "location": "ok"})]),
     {"severity": -0.5}),
    (Signals(evidence_status="not_found", checks=[Check(kind="quote", outcome="inconclusive", detail="?")]),
     {"quote_not_found": 1.0, "severity": -0.5}),
    (Signals(evidence_status="not_found", checks=[
        Check(kind="quote", outcome="refutes", detail="x", data={"status": "not_found", "location": "file_missing"}),
        Check(kind="quote", outcome="refutes", detail="y", data={"status": "not_found",
                                                                 "location": "lines_out_of_range"})]),
     {"quote_not_found": 1.0, "location_refutes": 1.0, "severity": -0.5}),
    (Signals(evidence_status="not_found", checks=[
        Check(kind="quote", outcome="supports", detail="x", data={"status": "moved", "location": "ok"}),
        Check(kind="quote", outcome="refutes", detail="y", data={"status": "not_found", "location": "file_missing"})]),
     {"severity": -0.5}),
    (Signals(evidence_status="moved", checks=[Check(kind="reproducer", outcome="supports", detail="exit 1")]),
     {"reproduced": 1.0, "severity": -0.5}),
    (Signals(evidence_status="moved", checks=[Check(kind="reproducer", outcome="inconclusive", detail="crashed")]),
     {"reproducer_broken": 1.0, "severity": -0.5}),
    (Signals(evidence_status="moved", checks=[Check(kind="reproducer", outcome="inconclusive", detail="slow",
                                                    data={"classification": "timeout"})]),
     {"reproducer_broken": 1.0, "severity": -0.5}),
    (Signals(evidence_status="moved", checks=[Check(kind="reproducer", outcome="refutes", detail="passed",
                                                    data={"classification": "not_reproduced", "weak": True})]),
     {"not_reproduced": 1.0, "severity": -0.5}),
    (Signals(evidence_status="moved", raisers=9, agree=2, disagree=1, concede=7, maintain=1),
     {"raisers": 4.0, "agree": 2.0, "disagree": 1.0, "concede": 5.0, "maintain": 1.0, "severity": -0.5}),
    # the engine's checkers are not personas: a persona and a checker agreeing is its own feature
    (Signals(evidence_status="moved", raisers=2, raised_by=("user", "claims-checker")),
     {"checker_agrees": 1.0, "severity": -0.5}),
    (Signals(evidence_status="moved", raisers=3, raised_by=("a", "b", "analyzers")),
     {"raisers": 1.0, "checker_agrees": 1.0, "severity": -0.5}),
    (Signals(evidence_status="moved", raisers=1, raised_by=("analyzers",)), {"severity": -0.5}),
    (Signals(evidence_status="moved", raisers=2, raised_by=("a", "b")), {"raisers": 1.0, "severity": -0.5}),
    (Signals(evidence_status="moved", judge_p_yes=0.75), {"judge": round(math.log(3), 4), "severity": -0.5}),
    # a document's claims cross-checks: the strongest supporting one decides; a candidate or a rest-on note none
    (Signals(evidence_status="verified", checks=[CLAIMS("confirmed"), CLAIMS("certain")]),
     {"quote_verified": 1.0, "claims_certain": 1.0, "severity": -0.5}),
    (Signals(evidence_status="verified", checks=[CLAIMS("confirmed")]),
     {"quote_verified": 1.0, "claims_confirmed": 1.0, "severity": -0.5}),
    (Signals(evidence_status="verified", checks=[CLAIMS("candidate", "inconclusive"),
                                                 Check(kind="claims", outcome="inconclusive", detail="rests on")]),
     {"quote_verified": 1.0, "severity": -0.5}),
    (Signals(evidence_status="moved", judge_p_yes=1.0), {"judge": round(math.log(0.98 / 0.02), 4),
                                                         "severity": -0.5}),
])
def test_feature_extraction(signals: Signals, expected: dict[str, float]) -> None:
    x, labels = extract(signals)
    assert set(x) == set(FEATURES)
    assert {k: v for k, v in x.items() if v} == expected
    assert set(expected) <= set(labels)


@pytest.mark.parametrize(("title", "generic"), [
    ("Unbounded Cost", True), ("Missing Authentication and Authorization Checks", True),
    ("Contradictions between sections", True), ("Security and privacy holes", True), ("Untrusted Input", True),
    ("Unbounded growth of the cache dict", False), ("Incorrect handling of quotes", False),
    ("Race condition in allow()", False), ("Requirement cannot be tested: 'intuitive'", False),
    ("Off-by-one in the loop bound", False), ("", False),
])
def test_a_title_that_only_repeats_a_checklist_heading(title: str, generic: bool) -> None:
    assert generic_title(title) is generic
    x, labels = extract(Signals(title=title, raised_by=("generalist-1",)))
    assert x["generic_title"] == float(generic) and ("generic_title" in labels) is generic
    for checker in ("analyzers", "claims-checker"):  # a checker's title is never an echo of the prompt
        assert extract(Signals(title=title, raised_by=("generalist-1", checker)))[0]["generic_title"] == 0.0


def test_the_checklist_headings_are_the_review_prompts() -> None:
    text = " ".join((ROOT / "templates" / "prompts" / name).read_text(encoding="utf-8").lower()
                    for name in ("review.md.j2", "_doc_checklist.md.j2"))
    prompt_words = set(content_words(text))
    for heading in CHECKLIST_HEADINGS:
        assert set(content_words(heading)) & prompt_words, heading
        assert any(w in prompt_words for w in content_words(heading) if w not in ("authorization", "dependencie"))


def test_stored_findings_get_features_added_since(tmp_path: Path) -> None:
    old = {"features": {"judge": 0.5}, "claim_matched": False, "title": "Unbounded Cost", "personas": ["generalist-1"]}
    (tmp_path / "single__c.json").write_text(json.dumps({"case": "c", "held_out": False, "findings": [old]}))
    assert rows_from_corpus(tmp_path)[0].features == {"judge": 0.5, "generic_title": 1.0, "claims_certain": 0.0,
                                                      "claims_confirmed": 0.0, "analyzer_support": 0.0,
                                                      "raisers": 0.0, "checker_agrees": 0.0}


@pytest.mark.parametrize(("stored", "personas", "raisers", "agrees"), [
    (1.0, ["user", "claims-checker"], 0.0, 1.0),  # before the split `raisers` counted the checker
    (2.0, ["a", "b", "analyzers"], 1.0, 1.0),
    (1.0, ["a", "b"], 1.0, 0.0),
    (1.0, ["a", "b", "c"], 1.0, 0.0),  # a debate: c adopted it (a persona, not an independent raiser)
    (0.0, ["analyzers"], 0.0, 0.0),
])
def test_stored_raisers_are_split_into_personas_and_checkers(tmp_path: Path, stored: float, personas: list[str],
                                                             raisers: float, agrees: float) -> None:
    old = {"features": {"raisers": stored}, "claim_matched": True, "title": "t", "personas": personas}
    (tmp_path / "single__c.json").write_text(json.dumps({"case": "c", "held_out": False, "findings": [old]}))
    x = rows_from_corpus(tmp_path)[0].features
    assert (x["raisers"], x["checker_agrees"]) == (raisers, agrees)


def test_stored_analyzer_counts_read_as_support_and_findings_no_longer_raised_are_left_out(tmp_path: Path) -> None:
    """analyzer_support was a count of supporting checks (2 for one test ruff and bandit both report); a stored
    finding only the analyzers raised, for a rule now low (S311), is one today's engine would not report."""
    base = {"claim_matched": False, "personas": ["analyzers"]}
    findings = [base | {"title": "B608: Possible SQL injection", "claim_matched": True,
                        "features": {"analyzer_support": 2.0, "quote_verified": 1.0}},
                base | {"title": "S311: Standard pseudo-random generators", "features": {"analyzer_support": 2.0}},
                base | {"title": "S311 in a model's words", "personas": ["generalist-1"],
                        "features": {"analyzer_support": 1.0}},
                base | {"title": "S311: Standard pseudo-random generators", "fix": "Address ruff S311, bandit B311, "
                        "ruff S608: ...", "features": {"analyzer_support": 1.0}},  # S608 at the line: still raised
                base | {"title": "S311: Standard pseudo-random generators", "fix": "Address ruff S311, bandit B311: "
                        "...", "features": {"analyzer_support": 1.0}}]
    (tmp_path / "single__c.json").write_text(json.dumps({"case": "c", "held_out": False, "findings": findings}))
    rows = rows_from_corpus(tmp_path)
    assert [(r.key, r.label, r.features["analyzer_support"]) for r in rows] == [
        ("None/c/1", 1, 1.0), ("None/c/3", 0, 1.0), ("None/c/4", 0, 1.0)]


def test_stored_document_findings_get_the_claims_features_from_the_runs_claims(tmp_path: Path) -> None:
    """A document run stored before the claims features: its committed claims.json says which hits were at a
    finding's lines and how sure each was (a run-records copy, as committed results folders keep them)."""
    hit = {"rule": "limit-contradiction", "claims": ["CL-001", "CL-002"], "file": "prd.md", "lines": [5, 9],
           "title": "Limit 1 second contradicted by 5 minutes", "detail": "d", "evidence": "e", "severity": "high"}
    record = tmp_path / "run-records" / "single-doc-x-1"
    record.mkdir(parents=True)
    (record / "claims.json").write_text(json.dumps({"claims": [], "hits": [
        hit | {"strength": "confirmed"}, hit | {"lines": [20], "strength": "certain"},
        hit | {"lines": [30], "strength": "rejected"}]}))
    finding = {"features": {"judge": 0.5, "generic_title": 0.0}, "claim_matched": True, "file": "prd.md",
               "title": hit["title"]}
    findings = [finding | {"line_start": 5, "line_end": 5}, finding | {"line_start": 19, "line_end": 21},
                finding | {"line_start": 30, "line_end": 30}, finding | {"line_start": 50, "line_end": 50},
                # stored with the old (by-lines) claims features: recomputed by claim, and this one names no hit
                finding | {"line_start": 5, "line_end": 5, "title": "Owner not named", "fix": "Name one.",
                           "features": {"judge": 0.5, "generic_title": 0.0, "claims_certain": 0.0,
                                        "claims_confirmed": 1.0}}]
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "single__doc_x.json").write_text(json.dumps({
        "case": "doc_x", "held_out": False, "run_dir": "/gone/single-doc-x-1", "findings": findings}))
    rows = rows_from_corpus(tmp_path)
    assert [(r.features["claims_certain"], r.features["claims_confirmed"]) for r in rows] == [
        (0.0, 1.0), (1.0, 0.0), (0.0, 0.0), (0.0, 0.0), (0.0, 0.0)]
    # one result JSON of a folder is a corpus too, its run-records found beside it
    assert [r.features for r in rows_from_corpus(tmp_path / "results" / "single__doc_x.json")] == [
        r.features for r in rows]
    (record / "claims.json").write_text("{not json")
    with pytest.raises(ConfigError, match="claims.json"):
        rows_from_corpus(tmp_path)


def test_analyzer_labels_name_the_rules() -> None:
    _, labels = extract(Signals(checks=[ANALYZER, BANDIT]))
    assert labels["analyzer_support"] == "analyzer B006, B301"


PRIOR = calibration.shipped()
ROOT = Path(__file__).resolve().parent.parent


def truth(**kw: object) -> float:
    return predict(PRIOR, extract(Signals(**kw))[0])  # type: ignore[arg-type]


def test_the_shipped_calibration_is_a_named_prior() -> None:
    assert PRIOR.kind == "prior" and PRIOR.n == 0 and PRIOR.held_out_auroc is None
    assert "not fitted" in PRIOR.label and "PRIOR" in PRIOR.description
    assert set(PRIOR.weights) == set(FEATURES)


@pytest.mark.parametrize(("higher", "lower"), [
    ({"evidence_status": "verified"}, {"evidence_status": "moved"}),
    ({"evidence_status": "moved"}, {"evidence_status": "not_found"}),
    ({"evidence_status": "moved", "checks": [ANALYZER]}, {"evidence_status": "moved"}),
    ({"evidence_status": "moved", "judge_p_yes": 0.8}, {"evidence_status": "moved", "judge_p_yes": 0.2}),
    ({"evidence_status": "moved", "raisers": 3}, {"evidence_status": "moved"}),
    ({"evidence_status": "moved"}, {"evidence_status": "moved", "disagree": 1}),
    ({"evidence_status": "moved"}, {"evidence_status": "moved", "concede": 1}),
])
def test_prior_moves_truth_the_right_way(higher: dict[str, object], lower: dict[str, object]) -> None:
    assert truth(**higher) > truth(**lower)
    fit = calibration.shipped("local")  # the embedded model's fit never reverses a direction the prior sets
    assert predict(fit, extract(Signals(**higher))[0]) >= predict(fit, extract(Signals(**lower))[0])  # type: ignore[arg-type]


def test_the_embedded_model_ships_a_fit_and_other_models_the_prior() -> None:
    fit = calibration.shipped("local")
    assert fit.kind == "fitted" and fit.models == ["local:qwen2.5-coder-1.5b"] and fit.n >= 40
    assert fit.held_out_auroc is not None and fit.held_out_ece is not None and fit.n_held_out >= 20
    assert set(fit.weights) == set(FEATURES) and fit.name in fit.label and "fitted on" in fit.label
    assert calibration.shipped("local:0.5b") == calibration.shipped("openai:gpt-4o") == PRIOR


def test_a_verified_quote_is_never_refuted_for_a_missing_quote() -> None:
    # the case of a user's run: the judge said "quote not found" while the engine had verified the quote
    x, labels = extract(Signals(evidence_status="verified", judge_p_yes=0.05, judge_mode="verbal"))
    why = rationale(PRIOR, x, labels)
    assert "not found" not in why and "quote verified (+1.2)" in why
    assert predict(PRIOR, x) > predict(PRIOR, extract(Signals(evidence_status="not_found", judge_p_yes=0.05))[0])


def test_without_a_judge_truth_uses_the_rest() -> None:
    x, labels = extract(Signals(evidence_status="verified", checks=[ANALYZER]))
    assert x["judge"] == 0 and "judge" not in rationale(PRIOR, x, labels)
    assert predict(PRIOR, x) == pytest.approx(1 / (1 + math.exp(-(PRIOR.intercept + 1.2 + 0.9))))


def test_rationale_names_what_moved_it_most_first() -> None:
    x, labels = extract(Signals(evidence_status="verified", checks=[ANALYZER], judge_p_yes=0.31, severity="high"))
    assert rationale(PRIOR, x, labels) == "quote verified (+1.2), analyzer B006 (+0.9), judge P(yes)=0.31 (−0.5)"
    assert rationale(PRIOR, dict.fromkeys(FEATURES, 0.0), {}).startswith("no check")


def test_a_calibration_with_an_unknown_feature_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "cal.json"
    bad.write_text(PRIOR.model_copy().model_dump_json().replace('"judge":', '"jduge":', 1), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"cal\.json: not a valid calibration file .*jduge"):
        calibration.load(bad)


def test_which_calibration_a_run_uses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REBUTTAL_CALIBRATION")
    monkeypatch.delenv("REBUTTAL_HOME", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert calibration.resolve() == (PRIOR, "shipped")
    mine = PRIOR.model_copy(update={"name": "mine", "kind": "fitted", "n": 20})
    calibration.save(mine, tmp_path / "xdg" / "rebuttal" / "calibration.json")
    assert calibration.resolve()[0].name == "mine"
    monkeypatch.setenv("REBUTTAL_HOME", str(tmp_path / "home"))
    assert calibration.resolve()[0].name == "prior-v2", "REBUTTAL_HOME comes first"
    monkeypatch.setenv("REBUTTAL_CALIBRATION", str(tmp_path / "xdg" / "rebuttal" / "calibration.json"))
    assert calibration.resolve()[0].name == "mine"


def test_a_calibration_fitted_for_one_judge_model_is_not_used_for_another(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REBUTTAL_CALIBRATION")
    monkeypatch.setenv("REBUTTAL_HOME", str(tmp_path))
    mine = PRIOR.model_copy(update={"name": "mine", "kind": "fitted", "n": 20, "models": ["openai:gpt-4o"]})
    calibration.save(mine, tmp_path / "calibration.json")
    assert calibration.resolve("openai:gpt-4o")[0].name == "mine"
    assert calibration.resolve("fake")[0].name == "prior-v2"
    assert calibration.resolve(None)[0].name == "prior-v2"
    assert calibration.canonical_model("local") == calibration.canonical_model("local:1.5b") \
        == "local:qwen2.5-coder-1.5b"


@pytest.mark.parametrize(("quote", "status", "stance", "counted", "note"), [
    ("", None, "disagree", False, "unsupported disagreement: no counter-quote"),
    ("self.lock = Lock()", "not_found", "disagree", False, "unsupported disagreement: counter-quote not found"),
    ("self.lock = Lock()", "verified", "disagree", True, "counter-quote found at the cited lines"),
    ("self.lock = Lock()", "moved", "disagree", True, "counter-quote found in the target"),
    ("", None, "agree", True, ""),
])
def test_counter_quote_rule(quote: str, status: str | None, stance: str, counted: bool, note: str) -> None:
    st = stance_of("S-x", "p", ResponsePoint(issue_id="R-a#1", stance=stance, reason="r", quote=quote,  # type: ignore[arg-type]
                                             quote_status=status))  # type: ignore[arg-type]
    assert st.counted is counted and st.note.startswith(note)
    maintained = stance_of("B-x", "p", RebuttalPoint(issue_id="R-a#1", stance="maintain", reason="r"))
    assert maintained.counted


def test_solve_and_metrics() -> None:
    assert solve([[2.0, 1.0], [1.0, 3.0]], [3.0, 5.0]) == pytest.approx([0.8, 1.4])
    assert auroc([(0.9, 1), (0.8, 1), (0.3, 0), (0.1, 0)]) == 1.0
    assert auroc([(0.5, 1), (0.5, 0)]) == 0.5
    assert auroc([(0.5, 1)]) is None
    assert ece([(0.9, 1), (0.9, 1), (0.1, 0), (0.1, 0)]) == pytest.approx(0.1)
    assert ece([]) is None
    assert [held_out_by_hash(f"k{i}") for i in range(8)] == [held_out_by_hash(f"k{i}") for i in range(8)]


def synthetic(n: int) -> list[Row]:
    """Findings whose label follows the judge's logit strongly and the quote not at all (deterministic)."""
    rows = []
    for i in range(n):
        z = (i % 9 - 4) / 1.5
        label = int(z + ((i * 7919) % 11 - 5) / 5 > 0)
        rows.append(Row(f"r/{i}", {"judge": z, "quote_verified": float(i % 2)}, label, held_out_by_hash(f"r/{i}")))
    return rows


def test_fitting_learns_from_labels_and_stays_near_the_prior_without_them() -> None:
    rows = synthetic(160)
    intercept, weights = fit_weights([r for r in rows if not r.held_out], PRIOR, l2=0.1)
    assert weights["judge"] > 2 * PRIOR.weights["judge"], "the judge's weight grows with the evidence"
    assert weights["analyzer_support"] == PRIOR.weights["analyzer_support"], "no data: the prior stays"
    cal = calibrate(rows, PRIOR, name="t", l2=0.1)
    assert cal.kind == "fitted" and cal.n + cal.n_held_out == 160 and cal.n_held_out > 0
    assert cal.held_out_auroc is not None and cal.held_out_auroc > 0.85
    assert cal.held_out_ece is not None and 0 <= cal.held_out_ece < 0.2


def test_a_fit_never_turns_a_weight_against_the_sign_the_prior_gives_it() -> None:
    """Labels where a higher judge P(yes) goes with wrong findings: the judge's weight is held at 0 (a higher P(yes)
    never lowers truth), and the quote, which does separate them, still gets its weight."""
    rows = [Row(f"r{i}", {"judge": j, "quote_verified": q}, y, False)
            for i, (j, q, y) in enumerate([(2.0, 0.0, 0), (2.0, 0.0, 0), (1.5, 0.0, 0), (-1.0, 1.0, 1),
                                           (-1.5, 1.0, 1), (-2.0, 1.0, 1), (1.0, 1.0, 1), (-1.0, 0.0, 0)] * 3)]
    free = fit_weights(rows, PRIOR.model_copy(update={"weights": {**PRIOR.weights, "judge": 0.0}}))[1]
    assert free["judge"] < 0  # without a sign to keep, the data turn it negative
    intercept, weights = fit_weights(rows, PRIOR)
    assert weights["judge"] == 0.0 and weights["quote_verified"] > PRIOR.weights["quote_verified"]


def test_a_held_feature_stays_at_zero_and_the_rest_is_fitted() -> None:
    rows = synthetic(160)
    _, free = fit_weights(rows, PRIOR, l2=0.1)
    _, held = fit_weights(rows, PRIOR, l2=0.1, hold=["judge"])
    assert free["judge"] > 0 and held["judge"] == 0.0 and held["quote_verified"] != free["quote_verified"]
    cal = calibrate(rows, PRIOR, name="t", l2=0.1, hold=["judge"])
    assert cal.weights["judge"] == 0.0 and "Held at 0: judge." in cal.description
    with pytest.raises(ConfigError, match="unknown feature"):
        fit_weights(rows, PRIOR, hold=["jugde"])


def test_mixed_judge_rows_are_told_apart() -> None:
    asked = Row("a", {"judge": 1.2}, 1, False)
    unasked = Row("b", {"judge": 0.0, "quote_verified": 1.0}, 0, False)
    assert mixed_judge([asked, unasked]) and not mixed_judge([asked, asked]) and not mixed_judge([unasked])


def test_calibrate_refuses_too_few_labels() -> None:
    with pytest.raises(ConfigError, match="need at least 8 labelled findings"):
        calibrate(synthetic(6), PRIOR, name="t")
    with pytest.raises(ConfigError, match="unknown feature"):
        calibrate([Row("a", {"nope": 1.0}, 1, False)] * 9, PRIOR, name="t")


def test_corpus_rows_take_the_claim_label_over_the_place(tmp_path: Path) -> None:
    feats = {"judge": 0.5, "quote_verified": 1.0}
    findings = [{"features": feats, "matched": True, "claim_matched": False},  # generic claim at the defect
                {"features": feats, "matched": True, "claim_matched": True},
                {"features": feats, "matched": True},  # a result from before claim labels: the place decides
                {"features": feats, "matched": None}, {"matched": True}]  # unlabelled, no features: left out
    (tmp_path / "single__case_a.json").write_text(json.dumps({"case": "case_a", "workflow": "single",
                                                              "held_out": True, "findings": findings}))
    rows = rows_from_corpus(tmp_path)
    assert [(r.key, r.label, r.held_out) for r in rows] == [
        ("single/case_a/1", 0, True), ("single/case_a/2", 1, True), ("single/case_a/3", 1, True)]


def test_corpus_rows_follow_explicit_held_out_marks(tmp_path: Path) -> None:
    one = [{"features": {"judge": 0.5}, "claim_matched": True}]
    for i in range(12):  # a tuning-only folder: every case says held_out false, so nothing is held out
        (tmp_path / f"single__c{i}.json").write_text(json.dumps({"case": f"c{i}", "held_out": False, "findings": one}))
    assert not any(r.held_out for r in rows_from_corpus(tmp_path))
    for i in range(12):  # results without the key: a deterministic quarter of the cases, by name
        (tmp_path / f"single__c{i}.json").write_text(json.dumps({"case": f"c{i}", "findings": one}))
    held = [r.held_out for r in rows_from_corpus(tmp_path)]
    assert any(held) and not all(held)


def test_prior_file_round_trips(tmp_path: Path) -> None:
    path = calibration.save(PRIOR, tmp_path / "deep" / "c.json")
    assert calibration.load(path) == PRIOR
    assert isinstance(Calibration.model_json_schema(), dict)
