"""Self-review: one producer, one reviewer; loop critique -> revise until approved or a round limit."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from engine.context import RunContext
from engine.models import Critique, Review
from engine.rundir import RunDir
from engine.schemas import CritiqueOut, ReviewOut
from engine.stages.common import MAX_ISSUES, Turn, persona_turn
from engine.stages.reviews import review_turn, to_issues
from engine.state import RunState, latest_reviews


def _pair(state: RunState) -> tuple[Any, Any]:
    personas = state.get("personas", [])
    producer = personas[0]
    reviewer = personas[1] if len(personas) > 1 else personas[0]
    return producer, reviewer


async def critique(state: RunState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """The reviewer checks the producer's latest review."""
    ctx = runtime.context
    producer, reviewer = _pair(state)
    review = latest_reviews(state.get("reviews", [])).get(producer.slug)
    if review is None:
        return {}

    def build(out: CritiqueOut, model: str) -> Turn:
        c = Critique(id=f"C-{reviewer.slug}-r{review.round}", persona=reviewer.slug, review_id=review.id,
                     round=review.round, model=model, approve=out.approve,
                     points=[p.strip()[:500] for p in out.points])
        return Turn("critiques", c, RunDir.critique_file(reviewer.slug, review.round), "critique",
                    [review.id])

    return await persona_turn(ctx, reviewer, 1, stage="critique", subject=f"round-{review.round}",
                              schema=CritiqueOut, prompt="critique", build=build, round=review.round, review=review,
                              issues=review.issues)


def after_critique(state: RunState, runtime: Runtime[RunContext]) -> str:
    """Loop back to revise unless approved, failed, stopped or out of rounds."""
    spec = runtime.context.workflow.stage("self_review")
    rounds = spec.max_rounds if spec else 3
    crits = state.get("critiques", [])
    if not crits or crits[-1].approve or crits[-1].round >= rounds or runtime.context.gateway.stopped:
        return "compile"
    return "revise"


async def revise(state: RunState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """The producer rewrites its review to answer the critique."""
    ctx = runtime.context
    producer, _ = _pair(state)
    review = latest_reviews(state.get("reviews", []))[producer.slug]
    crit = state["critiques"][-1]
    rnd = review.round + 1

    def build(out: ReviewOut, model: str) -> Turn:
        rid = f"R-{producer.slug}-r{rnd}"
        new = Review(id=rid, persona=producer.slug, model=model, abstract=out.abstract.strip()[:2000],
                     issues=to_issues(ctx, rid, out.issues), round=rnd, derived_from=[review.id, crit.id])
        return review_turn(new, RunDir.review_file(producer.slug, rnd))

    return await persona_turn(ctx, producer, 0, stage="reviews", subject=f"revise-r{rnd}", schema=ReviewOut,
                              prompt="revise", build=build, points=crit.points, review=review, issues=review.issues,
                              max_issues=MAX_ISSUES)
