"""Stage 2: independent reviews, one per persona, fanned out with Send."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime
from langgraph.types import Send

from engine.context import RunContext
from engine.models import Issue, Persona, Review
from engine.schemas import IssueOut, ReviewOut
from engine.stages.common import MAX_ISSUES, ask, failure_update, write
from engine.state import ReviewTask, RunState
from engine.target.evidence import check_evidence


def dispatch_reviews(state: RunState, runtime: Runtime[RunContext]) -> list[Send] | str:
    """One Send per writer; a task carries only its persona (the target comes from the runtime)."""
    ctx = runtime.context
    spec = ctx.workflow.stage("reviews")
    personas = state.get("personas", [])
    writers = personas[:1] if spec is not None and spec.writers == "first" else personas
    ctx.progress.expect("reviews", len(writers))
    sends = [Send("write_review", ReviewTask(persona=p, index=i)) for i, p in enumerate(writers)]
    return sends or "reviews_done"


def to_issues(ctx: RunContext, review_id: str, items: list[IssueOut]) -> list[Issue]:
    """Number the model's issues and check each quote against the target."""
    issues = []
    for n, it in enumerate(items[:MAX_ISSUES], 1):
        start, end = sorted((max(1, it.line_start), max(1, it.line_end)))
        status = check_evidence(ctx.target, it.file, start, end, it.evidence)
        issues.append(Issue(id=f"{review_id}#{n}", title=it.title.strip()[:200], file=it.file.strip()[:300],
                            line_start=start, line_end=end, evidence=it.evidence.strip()[:2000],
                            severity=it.severity, fix=it.fix.strip()[:1000], evidence_status=status))
    return issues


def save_review(ctx: RunContext, persona: Persona, review: Review, relative: str) -> None:
    """Write a review artifact."""
    write(ctx, relative, "review",
          {"id": review.id, "persona": persona.slug, "model": review.model, "derived_from": review.derived_from,
           "round": review.round},
          persona=persona, review=review)


async def write_review(task: ReviewTask, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Stage worker: one persona reviews the target independently."""
    ctx = runtime.context
    persona = task["persona"]
    model = ctx.settings.model_for(task["index"], persona)
    try:
        out = await ask(ctx, stage="reviews", persona=persona, subject="review", model=model, schema=ReviewOut,
                        prompt="review", max_issues=MAX_ISSUES)
    except Exception as exc:  # routed: budget stop, visible failure, or re-raised
        return failure_update(ctx, "reviews", persona.slug, exc)
    rid = f"R-{persona.slug}"
    review = Review(id=rid, persona=persona.slug, model=model, abstract=out.abstract.strip()[:2000],
                    issues=to_issues(ctx, rid, out.issues), derived_from=[persona.id, "target"])
    save_review(ctx, persona, review, f"reviews/{persona.slug}-review.md")
    return {"reviews": [review]}


def reviews_done(state: RunState) -> dict[str, Any]:
    """Join point after the review fan-out."""
    return {}
