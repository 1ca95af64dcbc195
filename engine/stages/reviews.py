"""Stage 2: independent reviews, one per persona, fanned out with Send."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime
from langgraph.types import Send

from engine.claims.wishes import wish_only
from engine.context import RunContext
from engine.models import Issue, Persona, Review
from engine.rundir import RunDir
from engine.schemas import IssueOut, ReviewOut
from engine.stages.common import MAX_ISSUES, Turn, persona_turn, save, wrap
from engine.state import ReviewTask, RunState
from engine.target.evidence import check_evidence

MAX_PROMPT_CLAIMS = 24  # ~1,000 prompt tokens at most: prompt length is the big cost on a local model


def dispatch_reviews(state: RunState, runtime: Runtime[RunContext]) -> list[Send] | str:
    """One Send per writer; a task carries only its persona (the target comes from the runtime)."""
    ctx = runtime.context
    spec = ctx.workflow.stage("reviews")
    personas = state.get("personas", [])
    writers = personas[:1] if spec is not None and spec.writers == "first" else personas
    ctx.progress.expect("reviews", len(writers))
    claims = wrap(ctx, "\n".join(compact(state["claims"]))) if state.get("claims") else ""
    sends = [Send("write_review", ReviewTask(persona=p, index=i, claims=claims)) for i, p in enumerate(writers)]
    return sends or "reviews_done"


def compact(claims: list[Any]) -> list[str]:
    """One line per claim for the review prompt: the checkable kinds first when capped, shown in document order."""
    order = ("limit", "number", "dependency", "requirement", "decision", "owner", "assumption", "statement")
    keep = sorted(claims, key=lambda c: order.index(c.kind) if c.kind in order else len(order))[:MAX_PROMPT_CLAIMS]
    return [f"{c.id} line {c.line} [{c.kind}] {c.section or '-'}: {c.text[:110]}"
            for c in sorted(keep, key=lambda c: c.id)]


def to_issues(ctx: RunContext, review_id: str, items: list[IssueOut]) -> list[Issue]:
    """Number the model's issues (dropping wishes for more detail, docs or tests) and check each quote."""
    issues = []
    kept = [it for it in items[:MAX_ISSUES] if not wish_only(it.title, it.fix)]
    for n, it in enumerate(kept, 1):
        start, end = sorted((max(1, it.line_start), max(1, it.line_end)))
        status = check_evidence(ctx.target, it.file, start, end, it.evidence)
        issues.append(Issue(id=f"{review_id}#{n}", title=it.title.strip()[:200], file=it.file.strip()[:300],
                            line_start=start, line_end=end, evidence=it.evidence.strip()[:2000],
                            severity=it.severity, fix=it.fix.strip()[:1000], evidence_status=status))
    return issues


def review_turn(review: Review, relative: str, notes: list[str] | None = None) -> Turn:
    """A review as a stage's turn: into `reviews`, written as a review artifact with its round."""
    return Turn("reviews", review, relative, "review", review.derived_from, meta={"round": review.round},
                notes=notes or [])


def save_review(ctx: RunContext, persona: Persona, review: Review, relative: str) -> None:
    """Write a review artifact (the checker reviews, which no model call writes)."""
    save(ctx, persona, review.model, review_turn(review, relative))


async def write_review(task: ReviewTask, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Stage worker: one persona reviews the target independently."""
    ctx = runtime.context
    persona = task["persona"]

    def build(out: ReviewOut, model: str) -> Turn:
        rid = f"R-{persona.slug}"
        review = Review(id=rid, persona=persona.slug, model=model, abstract=out.abstract.strip()[:2000],
                        issues=to_issues(ctx, rid, out.issues), derived_from=[persona.id, "target"])
        wishes = sum(wish_only(it.title, it.fix) for it in out.issues[:MAX_ISSUES])
        note = f"reviews: {persona.slug}: {wishes} issue(s) that only asked for more detail, docs or tests dropped"
        return review_turn(review, RunDir.review_file(persona.slug), [note] if wishes else [])

    return await persona_turn(ctx, persona, task["index"], stage="reviews", subject="review", schema=ReviewOut,
                              prompt="review", build=build, max_issues=MAX_ISSUES, document=ctx.target.is_document,
                              claims=task.get("claims", ""))


def reviews_done(state: RunState) -> dict[str, Any]:
    """Join point after the review fan-out."""
    return {}
