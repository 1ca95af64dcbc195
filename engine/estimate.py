"""Estimate calls, tokens and cost of a run before making any call (pure)."""

from __future__ import annotations

import math

from pydantic import BaseModel

from engine.config import RunSettings, Workflow
from engine.llm.providers import context_window, price_of
from engine.stages.claims import planned_calls
from engine.stages.common import MAX_TOKENS, PROMPT_OVERHEAD
from engine.stages.selection import SHORTLIST
from engine.target.snapshot import TargetSnapshot

CHARS_PER_TOKEN = 3.5
OUTPUT_SHARE = 0.6  # typical share of max_tokens actually generated


class StageEstimate(BaseModel):
    stage: str
    calls: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None


class Estimate(BaseModel):
    stages: list[StageEstimate]
    calls: int
    tokens: int
    cost_usd: float | None
    unknown_prices: list[str]


def estimate(settings: RunSettings, workflow: Workflow, target: TargetSnapshot) -> Estimate:
    """Calls per stage and estimated tokens/cost for one full pass of the workflow."""
    n = len(settings.persona_slugs) or settings.personas
    k = min(settings.k, max(n - 1, 0))
    target_tokens = min(int(sum(len(f.text) for f in target.files) / CHARS_PER_TOKEN * 1.15),
                        context_window(settings.model) - 2000)
    excerpt = 400
    review_spec = workflow.stage("reviews")
    writers = 1 if review_spec is not None and review_spec.writers == "first" else n
    plan: list[tuple[str, int, int]] = []
    personas_spec = workflow.stage("personas")
    if not settings.persona_slugs and not (personas_spec and personas_spec.mode == "repeat"):
        plan.append(("personas", 1, target_tokens))
    if target.is_document:  # one short call per section, one per candidate pair (both capped)
        plan.append(("claims", planned_calls(target), 300))
    plan.append(("reviews", writers, target_tokens))
    if workflow.stage("responses"):
        plan.append(("picks", n if n - 1 > k > 0 else 0, 80 * min(n - 1, SHORTLIST)))
        plan.append(("responses", n * k, excerpt * 3))
    if workflow.stage("rebuttals"):
        plan.append(("rebuttals", n * k, excerpt * 3))
    if workflow.stage("findings"):
        plan.append(("findings", n, 600))
    if (sr := workflow.stage("self_review")) is not None:
        plan.append(("critique", sr.max_rounds, target_tokens))
        plan.append(("reviews", sr.max_rounds - 1, target_tokens))
    issues = writers * 4
    plan.append(("judge", issues, excerpt * 2))  # one isolated yes/no call per finding (at most `issues`)
    plan.append(("compile", max(1, math.ceil(issues / 6)), excerpt * 3))  # usefulness labels, 6 per call
    models = {settings.model, settings.judge_model, *settings.panel}
    unknown = sorted(m for m in models if price_of(m, settings.prices) is None)
    price = price_of(settings.model, settings.prices)
    rows = []
    for stage, calls, prompt in plan:
        p = calls * (prompt + PROMPT_OVERHEAD)
        c = int(calls * MAX_TOKENS.get(stage, 600) * OUTPUT_SHARE)
        cost = None if price is None else round((p * price[0] + c * price[1]) / 1e6, 6)
        rows.append(StageEstimate(stage=stage, calls=calls, prompt_tokens=p, completion_tokens=c, cost_usd=cost))
    costs = [r.cost_usd for r in rows]
    total_cost = None if any(c is None for c in costs) else round(sum(c or 0 for c in costs), 6)
    return Estimate(stages=rows, calls=sum(r.calls for r in rows),
                    tokens=sum(r.prompt_tokens + r.completion_tokens for r in rows),
                    cost_usd=total_cost, unknown_prices=unknown)


def budget_warning(settings: RunSettings, est: Estimate) -> str | None:
    """A one-line warning when the budget cannot cover one full pass, else None."""
    b = settings.budget
    if b.max_calls is not None and est.calls > b.max_calls:
        return f"budget max_calls={b.max_calls} is below the estimated {est.calls} calls: expect a partial report"
    if b.max_tokens is not None and est.tokens > b.max_tokens:
        return f"budget max_tokens={b.max_tokens} is below the estimated {est.tokens} tokens: expect a partial report"
    if b.max_usd is not None and est.cost_usd is not None and est.cost_usd > b.max_usd:
        return f"budget max_usd={b.max_usd} is below the estimated ${est.cost_usd:.4f}: expect a partial report"
    return None
