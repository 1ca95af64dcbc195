"""What the debate did: confirmed, refuted, rescued, minds changed, conformity, and what it cost (pure)."""

from __future__ import annotations

from engine.models import CostLine, DebateSummary, Finding

DEBATE_STAGES = ("picks", "responses", "rebuttals", "findings")
TRUSTED = 0.5


def summarise_debate(findings: list[Finding], cost_by_stage: list[CostLine]) -> DebateSummary:
    """The summary for a run with responses; conformity uses the report's own truth (labels in the benchmark)."""
    confirmed, refuted, rescued, withdrawn = [], [], [], []
    minds = 0
    dropped = {True: [0, 0], False: [0, 0]}
    for f in findings:
        if f.status == "refuted":
            refuted.append(f.id)
        elif any(s.stance in ("agree", "refine") for s in f.stances):
            confirmed.append(f.id)
        raisers = {m.persona for m in f.members}
        if len(raisers) == 1 and set(f.personas) - raisers:
            rescued.append(f.id)
        gone = bool(f.members) and not any(m.kept for m in f.members)
        if gone:
            withdrawn.append(f.id)
        minds += sum(s.stance in ("concede", "revise") for s in f.stances)
        bucket = dropped[f.scores.truth >= TRUSTED]
        bucket[0] += gone
        bucket[1] += 1
    stages = {c.key: c for c in cost_by_stage}
    review = stages.get("reviews")
    debate = [stages[s] for s in DEBATE_STAGES if s in stages]
    return DebateSummary(
        confirmed=confirmed, refuted=refuted, rescued=rescued, withdrawn=withdrawn, minds_changed=minds,
        dropped_trusted=f"{dropped[True][0]}/{dropped[True][1]}",
        dropped_untrusted=f"{dropped[False][0]}/{dropped[False][1]}",
        review_calls=review.calls if review else 0,
        review_tokens=(review.prompt_tokens + review.completion_tokens) if review else 0,
        debate_calls=sum(c.calls for c in debate),
        debate_tokens=sum(c.prompt_tokens + c.completion_tokens for c in debate))
