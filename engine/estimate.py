"""Estimate calls, tokens and cost of a run before making any call (pure)."""

from __future__ import annotations

import math

from pydantic import BaseModel

from engine.config import RunSettings, Workflow
from engine.llm.providers import context_window, parse_model, price_of
from engine.llm.speed import Speed, stage_seconds
from engine.stages.claims import planned_calls, planned_checker_issues
from engine.stages.common import MAX_TOKENS, PROMPT_OVERHEAD, STAGE_ROOM
from engine.stages.judge import USEFUL_BATCH
from engine.stages.selection import SHORTLIST
from engine.target.snapshot import TargetSnapshot
from engine.tokens import CHARS_PER_TOKEN
from engine.verify import calibration

OUTPUT_SHARE = 0.6  # typical share of max_tokens actually generated (hosted models; errs high for cost)
LOCAL_OUTPUT_SHARE = 0.35  # the embedded 1.5B: 4,637 completion tokens of ~13,300 allowed in a default run
# ... except the two calls a default run is made of, from the embedded 1.5B's ledgers of 27 runs (2026-11-27): a
# review writes about 600 tokens (mean 590), a usefulness batch about 55 per finding it labels
LOCAL_REVIEW_OUT, LOCAL_USEFUL_ITEM_OUT = 600, 55
# issues one review raises, on average: 2.8 on code and 4.4 on documents in the embedded 1.5B's ledgers of 21 code
# and 13 document runs (2026-11-26); a hosted model is planned at 4 (its cost errs high)
LOCAL_ISSUES = {"code": 3, "document": 4}
HOSTED_ISSUES = 4
# share of responses that challenge a point (a refinement, or a disagreement with a counter-quote): only those get
# a rebuttal and their author a findings call. The embedded 1.5B disputed 1 of 47 points it answered in the debate
# runs of 2026-11-26/27 (benchmarks/RESULTS.md §11); for a hosted panel a third is an assumption (its cost errs high)
DISPUTED = {"local": 0.02, "hosted": 1 / 3}
JUDGE_LINES = 13  # the judge's excerpt: the cited lines and 6 either side (engine/stages/common.py excerpts)
USEFUL_LINES, USEFUL_ITEM = 5, 40  # per finding in a usefulness batch: its lines and 2 either side, and its item
RULES_TOKENS = 150  # the system prompt's rules, before the target: part of the shared prefix
USER_TOKENS = 350  # persona and stage instructions of one call (275-300 measured on the Qwen tokenizer), rounded up
FOCUSED_TOKENS = 150  # the question of a focused call (a claims section, a pair, a truth judge): no target prefix
# stages whose prompts carry only an excerpt (the judge), a section or a pair (claims), not the shared target
FOCUSED = frozenset({"claims", "judge"})


class StageEstimate(BaseModel):
    stage: str
    calls: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None
    prompt_cached: int = 0  # expected from a prompt cache (local model: the shared rules + target prefix)
    wall_s: float | None = None


class Estimate(BaseModel):
    stages: list[StageEstimate]
    calls: int
    tokens: int
    cost_usd: float | None
    unknown_prices: list[str]
    prompt_cached: int = 0
    wall_s: float | None = None  # local model with a measured speed only
    speed: Speed | None = None


def estimate(settings: RunSettings, workflow: Workflow, target: TargetSnapshot, speed: Speed | None = None,
             slots: int = 1, analyzer_issues: int = 0) -> Estimate:
    """Calls per stage and estimated tokens/cost for one full pass of the workflow (wall time given a speed).

    Every prompt opens with the rules and the target: a local model evaluates that prefix once per view
    (one view when the target fits; else one per persona's focus and one for the panel) and serves the
    rest of the run's copies from its cache. Focused calls (a claims section or pair, a truth judge's
    excerpt) share only the rules.
    `analyzer_issues`: the issues the `analyzers` review will add (static analyzers' hits no persona raises):
    each becomes a finding with its own truth-judge call, like the claims checker's on a document.
    """
    n = len(settings.persona_slugs) or settings.personas
    k = min(settings.k, max(n - 1, 0))
    spec = parse_model(settings.model)
    local = spec.provider == "local"
    window = context_window(spec)
    full = int(sum(len(f.text) for f in target.files) / CHARS_PER_TOKEN * 1.15)
    shared_budget = window - max(MAX_TOKENS.values()) - PROMPT_OVERHEAD - STAGE_ROOM
    target_tokens = min(full, shared_budget)
    views = 1 if full <= shared_budget else n + 1
    excerpt = min(400, target_tokens)  # excerpts around cited lines: never more than the target itself
    per_line = full / max(1, sum(len(f.lines) for f in target.files))  # tokens per target line
    review_spec = workflow.stage("reviews")
    writers = 1 if review_spec is not None and review_spec.writers == "first" else n
    plan: list[tuple[str, int, int]] = []
    personas_spec = workflow.stage("personas")
    generated = max(n - 1, 0)  # the correctness reviewer comes from the library
    if not settings.persona_slugs and not (personas_spec and personas_spec.mode == "repeat") and generated:
        plan.append(("personas", 1, 0))
    if target.is_document:  # one short call per section, one per candidate pair (both capped)
        claim_calls = planned_calls(target)
        plan.append(("claims", claim_calls, min(400, target_tokens // max(1, claim_calls))))
    plan.append(("reviews", writers, 0))
    if workflow.stage("responses"):
        plan.append(("picks", n if n - 1 > k > 0 else 0, 80 * min(n - 1, SHORTLIST)))
        plan.append(("responses", n * k, excerpt * 3))
    # only a challenged response gets a rebuttal, and its author a findings call
    disputed = round(n * k * DISPUTED["local" if local else "hosted"])
    if workflow.stage("rebuttals"):
        plan.append(("rebuttals", disputed, excerpt * 3))
    if workflow.stage("findings"):
        plan.append(("findings", min(n, disputed), 600))
    if (sr := workflow.stage("self_review")) is not None:
        plan.append(("critique", sr.max_rounds, 0))
        plan.append(("reviews", sr.max_rounds - 1, 0))
    per_review = LOCAL_ISSUES["document" if target.is_document else "code"] if local else HOSTED_ISSUES
    checker = planned_checker_issues(target)  # the claims checker's hits no persona raises (documents)
    issues = writers * per_review + analyzer_issues + checker
    # one isolated yes/no call per finding, its own excerpt (none when the calibration in use gives the judge's
    # answer no weight: calibration.judge_counts); usefulness labels in batches of USEFUL_BATCH
    if calibration.judge_counts(calibration.resolve(settings.judge_model)[0]):
        plan.append(("judge", issues, min(excerpt, int(JUDGE_LINES * per_line))))
    batches = max(1, math.ceil(issues / USEFUL_BATCH))
    per_batch = math.ceil(issues / batches)
    plan.append(("compile", batches, min(excerpt * 3, int(per_batch * (USEFUL_LINES * per_line + USEFUL_ITEM)))))
    local_out = {"reviews": LOCAL_REVIEW_OUT, "compile": per_batch * LOCAL_USEFUL_ITEM_OUT}
    models = {settings.model, settings.judge_model, *settings.panel}
    unknown = sorted(m for m in models if price_of(m, settings.prices) is None)
    price = price_of(spec, settings.prices)
    prefix = target_tokens + RULES_TOKENS
    first_evaluations = prefix * views  # each view's prefix is evaluated once (warmed), then cached
    rows = []
    for stage, calls, own in plan:
        focused = stage in FOCUSED  # the rules, then its own excerpt: only the rules are shared
        p = calls * (RULES_TOKENS + own + FOCUSED_TOKENS if focused else prefix + own + USER_TOKENS)
        c = int(calls * (local_out[stage] if local and stage in local_out else
                         MAX_TOKENS.get(stage, 600) * (LOCAL_OUTPUT_SHARE if local else OUTPUT_SHARE)))
        cached = 0
        if local and calls and focused:
            cached = calls * RULES_TOKENS  # the rules were evaluated with the first prefix
        elif local and calls:
            cached = max(0, calls * prefix - first_evaluations)
            first_evaluations = max(0, first_evaluations - calls * prefix)
        cost = None if price is None else round((p * price[0] + c * price[1]) / 1e6, 6)
        wall = None if speed is None or not local else round(
            stage_seconds(speed, calls=calls, evaluated=p - cached, generated=c, slots=slots), 1)
        rows.append(StageEstimate(stage=stage, calls=calls, prompt_tokens=p, completion_tokens=c, cost_usd=cost,
                                  prompt_cached=cached, wall_s=wall))
    costs = [r.cost_usd for r in rows]
    total_cost = None if any(c is None for c in costs) else round(sum(c or 0 for c in costs), 6)
    walls = [r.wall_s for r in rows]
    return Estimate(stages=rows, calls=sum(r.calls for r in rows),
                    tokens=sum(r.prompt_tokens + r.completion_tokens for r in rows),
                    cost_usd=total_cost, unknown_prices=unknown, prompt_cached=sum(r.prompt_cached for r in rows),
                    wall_s=None if any(w is None for w in walls) else round(sum(w or 0 for w in walls), 1),
                    speed=speed if local else None)


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
