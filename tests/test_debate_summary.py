"""What the debate did, from findings and the cost table (pure)."""

from __future__ import annotations

from engine.models import CostLine, Finding, FindingMember, Scores, Stance
from engine.stages.debate_summary import summarise_debate


def finding(fid: str, status: str, truth: float, members: list[tuple[str, bool]], personas: list[str],
            stances: list[str]) -> Finding:
    return Finding(
        id=fid, title="t", severity="high", file="a.py", line_start=1, line_end=1, evidence="e", fix="f",
        status=status, evidence_status="verified",  # type: ignore[arg-type]
        scores=Scores(truth=truth, truth_rationale="", usefulness=0.5, usefulness_rationale="", scored_by="j"),
        personas=personas, issues=[], derived_from=[],
        members=[FindingMember(issue=f"R-{p}#1", persona=p, title="t", file="a.py", line_start=1, line_end=1,
                               kept=kept) for p, kept in members],
        stances=[Stance(artifact="S", persona="x", stance=s, reason="r") for s in stances])


def test_summary_counts_each_effect() -> None:
    findings = [
        finding("F-001", "consensus", 0.9, [("a", True)], ["a", "b"], ["agree"]),  # confirmed, rescued by b
        finding("F-002", "refuted", 0.1, [("a", False)], ["a"], ["disagree", "concede"]),  # refuted, withdrawn
        finding("F-003", "unique", 0.8, [("c", False)], ["c"], ["revise"]),  # a trusted finding dropped
    ]
    cost = [CostLine(key="reviews", calls=3, prompt_tokens=100, completion_tokens=50, cost_usd=0, latency_s=1),
            CostLine(key="responses", calls=3, prompt_tokens=90, completion_tokens=30, cost_usd=0, latency_s=1),
            CostLine(key="compile", calls=1, prompt_tokens=10, completion_tokens=5, cost_usd=0, latency_s=1)]
    s = summarise_debate(findings, cost)
    assert (s.confirmed, s.refuted, s.rescued, s.withdrawn) == (["F-001"], ["F-002"], ["F-001"], ["F-002", "F-003"])
    assert s.minds_changed == 2
    assert (s.dropped_trusted, s.dropped_untrusted) == ("1/2", "1/1")
    assert (s.review_calls, s.review_tokens, s.debate_calls, s.debate_tokens) == (3, 150, 3, 120)
