"""Settle the pairs of issues whose claims the cheap similarity cannot tell apart: one short call each."""

from __future__ import annotations

import asyncio

from engine.context import RunContext
from engine.schemas import SameClaimOut
from engine.stages.cluster import Member, pair_key, unsure_pairs
from engine.stages.common import ask, optional_call

MAX_PAIR_CALLS = 8  # per run; pairs past the cap stay apart (no claim is lost, at worst a duplicate stays)


async def decide_unsure(ctx: RunContext, members: list[Member],
                        stage: str = "compile") -> tuple[dict[str, bool], list[str]]:
    """Ask the judge model about each unsure pair (in parallel, capped); returns decisions and notes."""
    pairs = unsure_pairs(members)
    notes = []
    if len(pairs) > MAX_PAIR_CALLS:
        notes.append(f"{len(pairs) - MAX_PAIR_CALLS} unsure issue pair(s) past the cap of {MAX_PAIR_CALLS} "
                     "were kept apart without asking")
        pairs = pairs[:MAX_PAIR_CALLS]
    if not pairs:
        return {}, notes

    async def one(a: Member, b: Member) -> bool | None:
        out = await optional_call(
            ctx, ask(ctx, stage=stage, persona=None, subject=f"same-claim-{pair_key(a, b)}",
                     model=ctx.settings.judge_model, schema=SameClaimOut, prompt="same_claim", a=view(a), b=view(b)),
            notes, lambda exc: f"same-claim call for {pair_key(a, b)} failed ({exc}); the issues stay apart")
        return None if out is None else out.same

    answers = await asyncio.gather(*(one(a, b) for a, b in pairs))
    return {pair_key(a, b): ans for (a, b), ans in zip(pairs, answers, strict=True) if ans is not None}, notes


def view(m: Member) -> dict[str, object]:
    """What the prompt shows of one issue."""
    i = m.issue
    return {"title": m.title, "file": i.file, "line_start": i.line_start, "line_end": i.line_end,
            "evidence": i.evidence, "fix": i.fix}
