"""Stage 3: each persona picks k reviews from anonymised abstracts, then answers them point by point."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime
from langgraph.types import Send

from engine.claims.model import CLAIMS_CHECKER
from engine.context import RunContext
from engine.models import AttachedReproducer, Pick, Response, ResponsePoint
from engine.rundir import RunDir
from engine.schemas import PickOut, ResponseExecOut, ResponseOut
from engine.stages.common import Turn, counter_quote_status, excerpts, persona_turn
from engine.stages.selection import anonymise, repair_assignments, shortlists
from engine.stages.uncertainty import uncertain_issues
from engine.state import PickTask, ResponseTask, RunState, failed_personas, latest_reviews
from engine.verify.checks import Subject
from engine.verify.gather import module_name, reproducible
from engine.verify.matching import ANALYZERS


def live_personas(state: RunState) -> list[tuple[int, Any]]:
    """(index, persona) of personas that wrote a review and were not dropped."""
    reviews = latest_reviews(state.get("reviews", []))
    dropped = failed_personas(state.get("failures", []))
    return [(i, p) for i, p in enumerate(state.get("personas", [])) if p.slug in reviews and p.slug not in dropped]


def dispatch_picks(state: RunState, runtime: Runtime[RunContext]) -> list[Send] | str:
    """One pick task per live persona, with the others' abstracts (a bounded shortlist of them on a large
    panel) anonymised and shuffled."""
    ctx = runtime.context
    reviews = latest_reviews(state.get("reviews", []))
    by_id = reviews_by_id(reviews)
    offered = shortlists(list(reviews), ctx.settings.seed)
    doubt = uncertain_issues(list(reviews.values()))
    sends = []
    need_call = 0
    for i, p in live_personas(state):
        others = [reviews[s].id for s in offered.get(p.slug, [s for s in reviews if s != p.slug])]
        lab = anonymise(p.slug, others, ctx.settings.seed)
        need_call += len(others) > ctx.settings.k > 0
        abstracts = {x: by_id[rid].abstract for x, rid in lab.items()}
        uncertain = {x: [i.title for i in by_id[rid].issues if i.id in doubt] for x, rid in lab.items()}
        sends.append(Send("pick_reviews", PickTask(persona=p, index=i, labels=lab, abstracts=abstracts,
                                                   uncertain=uncertain)))
    ctx.progress.expect("picks", need_call)
    return sends or "picks_done"


def uncertain_first(abstracts: dict[str, str], uncertain: dict[str, list[str]]) -> list[tuple[str, str, list[str]]]:
    """(label, abstract, uncertain issue titles), the reviews with the most uncertain issues first."""
    return sorted(((x, a, uncertain.get(x, [])) for x, a in abstracts.items()), key=lambda t: (-len(t[2]), t[0]))


def reviews_by_id(reviews: dict[str, Any]) -> dict[str, Any]:
    return {r.id: r for r in reviews.values()}


async def pick_reviews(task: PickTask, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Stage worker: choose k reviews to answer (no call when there is nothing to choose)."""
    ctx = runtime.context
    persona, k, lab = task["persona"], ctx.settings.k, task["labels"]
    if k <= 0 or len(lab) <= k:
        reason = "answers every other review (k covers them all)"
        return {"picks": [Pick(persona=persona.slug, review_ids=list(lab.values()),
                               reasons=dict.fromkeys(lab.values(), reason))]}

    def build(out: PickOut, model: str) -> Turn:
        chosen = [(lab[p.label.strip().upper()], p.reason) for p in out.picks if p.label.strip().upper() in lab]
        return Turn("picks", Pick(persona=persona.slug, review_ids=[rid for rid, _ in chosen],
                                  reasons={rid: why.strip()[:300] for rid, why in chosen}))

    def failed(update: dict[str, Any]) -> dict[str, Any]:  # a failed pick is repaired like an empty one
        return {"picks": [Pick(persona=persona.slug, review_ids=[])],
                "notes": [f.error for f in update.get("failures", [])]}

    return await persona_turn(ctx, persona, task["index"], stage="picks", subject="picks", schema=PickOut,
                              prompt="pick", build=build, failed=failed, k=k,
                              abstracts=uncertain_first(task["abstracts"], task.get("uncertain", {})))


def picks_done(state: RunState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Join: repair the picks so every review has a responder and nobody answers more than k."""
    reviews = latest_reviews(state.get("reviews", []))
    # the checker reviews (analyzers, claims-checker) get a responder too
    live = {p.slug for _, p in live_personas(state)} | {ANALYZERS, CLAIMS_CHECKER}
    authors = {r.id: r.persona for r in reviews.values() if r.persona in live}
    picks = {p.persona: p.review_ids for p in state.get("picks", [])}
    readers = [p.slug for _, p in live_personas(state)]
    return {"assignments": repair_assignments(readers, authors, picks, runtime.context.settings.k)}


def dispatch_responses(state: RunState, runtime: Runtime[RunContext]) -> list[Send] | str:
    """One Send per (responder, review) in the repaired assignment."""
    ctx = runtime.context
    reviews = reviews_by_id(latest_reviews(state.get("reviews", [])))
    reasons = {p.persona: p.reasons for p in state.get("picks", [])}
    doubt = uncertain_issues(list(latest_reviews(state.get("reviews", [])).values()))
    sends = []
    for i, p in live_personas(state):
        lab = {rid: x for x, rid in anonymise(p.slug, [r for r in reviews if reviews[r].persona != p.slug],
                                               ctx.settings.seed).items()}
        for rid in state.get("assignments", {}).get(p.slug, []):
            sends.append(Send("write_response", ResponseTask(
                persona=p, index=i, review=reviews[rid], label=lab.get(rid, "?"),
                reason=reasons.get(p.slug, {}).get(rid, ""),
                uncertain={i.id: doubt[i.id] for i in reviews[rid].issues if i.id in doubt})))
    ctx.progress.expect("responses", len(sends))
    return sends or "responses_done"


def runnable_files(ctx: RunContext, issues: list[Any]) -> dict[str, str]:
    """`--execute`: {file: how a reproducer loads it} for the issues' files the sandbox can run; {} when off."""
    if not ctx.settings.execute:
        return {}
    from engine.verify import sandbox  # lazy: only runs that opt in look for interpreters

    files = {}
    for f in sorted({i.file for i in issues}):
        subject = Subject(id="-", title="-", file=f, line_start=1, line_end=1)
        if ctx.target.file(f) is None or not reproducible(ctx.target, subject):
            continue
        if f.endswith(".py"):
            files[f] = f"import {module_name(f)}"
        elif sandbox.interpreter("javascript"):
            files[f] = f"require('./{f}')"
    return files


async def attached(ctx: RunContext, response_id: str, n: int, issue: Any, code: str,
                   reason: str) -> AttachedReproducer | None:
    """Run the reproducer a responder attached to point #n in the sandbox; what it showed (None: not run)."""
    from engine.verify.reproduce import attach

    subject = Subject(id=f"{response_id}-{n}", title=issue.title, file=issue.file, line_start=issue.line_start,
                      line_end=issue.line_end, evidence=issue.evidence, fix=issue.fix, severity=issue.severity,
                      issues=[issue.id])
    check = await attach(ctx, subject, code, reason)
    if check is None:
        return None
    return AttachedReproducer(classification=check.data["classification"], reason=check.data["reason"],
                              path=check.data["path"])


async def write_response(task: ResponseTask, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Stage worker: answer one review point by point (agree / disagree / refine); under `--execute` a point may
    carry a reproducer, run in the sandbox here so the review's author sees its outcome."""
    ctx = runtime.context
    persona, review = task["persona"], task["review"]
    author = review.persona
    runnable = runnable_files(ctx, review.issues)
    response_id = f"S-{author}--{persona.slug}"

    async def build(out: ResponseOut, model: str) -> Turn:
        by_number = dict(enumerate(review.issues, 1))
        points, seen = [], set()
        for pt in out.points:
            if pt.issue in by_number and pt.issue not in seen:
                seen.add(pt.issue)
                issue, quote = by_number[pt.issue], pt.quote.strip()[:400]
                code = getattr(pt, "reproducer", "").strip()
                run = (await attached(ctx, response_id, pt.issue, issue, code, pt.reason)
                       if code and issue.file in runnable else None)
                points.append(ResponsePoint(issue_id=issue.id, stance=pt.stance, reason=pt.reason.strip()[:800],
                                            quote=quote, quote_status=counter_quote_status(ctx, issue, quote),
                                            reproducer=run))
        response = Response(id=response_id, persona=persona.slug, review_id=review.id,
                            model=model, summary=out.summary.strip()[:1000], reason_for_pick=task["reason"],
                            points=points)
        return Turn("responses", response, RunDir.response_file(author, persona.slug), "response",
                    [review.id, persona.id], meta={"review": review.id}, values={"review": review})

    return await persona_turn(ctx, persona, task["index"], stage="responses", subject=f"to-{author}",
                              schema=ResponseExecOut if runnable else ResponseOut, prompt="response", build=build,
                              label=task["label"], review=review, issues=review.issues,
                              uncertain=task.get("uncertain", {}), runnable=runnable,
                              target=excerpts(ctx, [(x.file, x.line_start, x.line_end) for x in review.issues]))


def responses_done(state: RunState) -> dict[str, Any]:
    """Join point after the response fan-out."""
    return {}
