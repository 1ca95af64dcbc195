"""Stage 4: each review's author answers the challenges in a response to it: concede / maintain / revise.

A challenge is a refinement or a disagreement backed by a line of the target or a reproducer (`challenges`);
a response that only agrees, or disagrees without evidence, gets no rebuttal call.
"""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime
from langgraph.types import Send

from engine.context import RunContext
from engine.models import Rebuttal, RebuttalPoint
from engine.rundir import RunDir
from engine.schemas import RebuttalOut
from engine.stages.cluster import challenges
from engine.stages.common import Turn, counter_quote_status, excerpts, persona_turn
from engine.state import RebuttalTask, RunState, failed_personas, latest_reviews


def dispatch_rebuttals(state: RunState, runtime: Runtime[RunContext]) -> list[Send] | str:
    """One Send per response that challenges something, to the author of the review it answers."""
    ctx = runtime.context
    reviews = {r.id: r for r in latest_reviews(state.get("reviews", [])).values()}
    index = {p.slug: (i, p) for i, p in enumerate(state.get("personas", []))}
    dropped = failed_personas(state.get("failures", []))
    sends = []
    for resp in state.get("responses", []):
        review = reviews.get(resp.review_id)
        if review is None or review.persona in dropped or review.persona not in index:
            continue  # checker reviews (analyzers, claims-checker) are answered, never rebutted
        if not any(challenges(pt) for pt in resp.points):
            continue  # agreement, or disagreement without evidence: nothing for the author to answer
        i, author = index[review.persona]
        sends.append(Send("write_rebuttal", RebuttalTask(persona=author, index=i, review=review, response=resp)))
    ctx.progress.expect("rebuttals", len(sends))
    return sends or "rebuttals_done"


async def write_rebuttal(task: RebuttalTask, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Stage worker: the author answers one response, per challenged point."""
    ctx = runtime.context
    persona, review, response = task["persona"], task["review"], task["response"]
    numbers = {issue.id: n for n, issue in enumerate(review.issues, 1)}
    challenged = [p for p in response.points if challenges(p)]
    points = [{"number": numbers[p.issue_id], "stance": p.stance, "reason": p.reason, "quote": p.quote,
               "quote_status": p.quote_status, "reproducer": p.reproducer} for p in challenged]

    def build(out: RebuttalOut, model: str) -> Turn:
        answered = {p.issue_id for p in challenged}
        by_number = {n: iid for iid, n in numbers.items() if iid in answered}
        issues = {x.id: x for x in review.issues}
        rpoints, seen = [], set()
        for pt in out.points:
            if pt.issue in by_number and pt.issue not in seen:
                seen.add(pt.issue)
                issue, quote = issues[by_number[pt.issue]], pt.quote.strip()[:400]
                rpoints.append(RebuttalPoint(issue_id=issue.id, stance=pt.stance, reason=pt.reason.strip()[:800],
                                             revision=pt.revision.strip()[:800], quote=quote,
                                             quote_status=counter_quote_status(ctx, issue, quote)))
        rebuttal = Rebuttal(id=f"B-{persona.slug}--{response.persona}", persona=persona.slug,
                            response_id=response.id, review_id=review.id, model=model, points=rpoints)
        return Turn("rebuttals", rebuttal, RunDir.rebuttal_file(persona.slug, response.persona), "rebuttal",
                    [response.id, review.id])

    return await persona_turn(ctx, persona, task["index"], stage="rebuttals", subject=f"to-{response.persona}",
                              schema=RebuttalOut, prompt="rebuttal", build=build, issues=review.issues,
                              points=points, response=response,
                              target=excerpts(ctx, [(x.file, x.line_start, x.line_end) for x in review.issues]))


def rebuttals_done(state: RunState) -> dict[str, Any]:
    """Join point after the rebuttal fan-out."""
    return {}
