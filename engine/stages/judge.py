"""Compile's model calls: the truth judge (one yes/no question per finding, in isolation, all in parallel)
and usefulness labels (a separate axis, in small batches; truth is never asked there)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import Any, Literal, TypeVar

from pydantic import Field, create_model

from engine.artifacts import render_template
from engine.context import RunContext
from engine.errors import BudgetExceeded, ModelOutputError, ProviderError
from engine.llm.logprobs import JudgeAnswer
from engine.llm.providers import parse_model
from engine.schemas import UsefulnessOut, UsefulOut
from engine.stages.cluster import Cluster
from engine.stages.common import MAX_TOKENS, ask, excerpts, system_prompt
from engine.verify.checks import Check, Verification
from engine.verify.features import quote_status, rule_of

USEFUL_BATCH = 6
HOSTED_JUDGE_TOKENS = 256
USEFUL_SCORE: dict[str, float] = {"none": 0.05, "low": 0.25, "medium": 0.5, "high": 0.75, "critical": 0.95}
QUOTE_LINE = {
    "verified": "quote: supports — the quoted evidence is at the cited lines",
    "moved": "quote: inconclusive — the quoted evidence is in the target, but not at the cited lines",
    "not_found": "quote: refutes — the quoted evidence is nowhere in the target",
}
LABEL = re.compile(r"F\d+")
R = TypeVar("R")


def answer_cap(model: str) -> int:
    """max_tokens of a yes/no answer: tiny on the embedded and local servers; hosted reasoning models spend
    hidden tokens before the first visible one, so they get room for it (an answer is still one word)."""
    return MAX_TOKENS["judge"] if parse_model(model).free else HOSTED_JUDGE_TOKENS


def checks_for(c: Cluster, verifications: list[Verification]) -> list[Check]:
    """The verify stage's checks of the verifications whose subject merges one of the cluster's issues."""
    ids = {m.issue.id for m in c.members}
    return [ch for v in verifications if ids & set(v.subject.issues) for ch in v.checks]


def check_lines(c: Cluster, checks: list[Check]) -> list[str]:
    """The engine's checks as the judge reads them: the quote verdict first, then every other check."""
    lines = [QUOTE_LINE[quote_status(c.evidence_status, checks)]]
    for ch in checks:
        if ch.kind != "quote":
            lines.append(f"{ch.kind}: {ch.outcome} — {' '.join(ch.detail.split())[:300]}")
    return lines


def judge_prompt(ctx: RunContext, c: Cluster, checks: list[Check]) -> str:
    """The yes/no question about one finding: its claim, the engine's checks (facts) and the numbered excerpt."""
    issue = c.lead.issue
    return judge_question(ctx, severity=c.lead.severity, title=c.lead.title, file=issue.file,
                          line_start=issue.line_start, line_end=issue.line_end, evidence=issue.evidence,
                          fix=issue.fix, checks=check_lines(c, checks))


def judge_question(ctx: RunContext, *, severity: str, title: str, file: str, line_start: int, line_end: int,
                   evidence: str, fix: str, checks: list[str]) -> str:
    """The judge's user message: the claim, the checks and the numbered excerpt around the cited lines. `ctx`
    needs only `target` and `nonce` (benchmarks/judge_replay.py asks it again for stored findings).

    Measured, not kept: the whole target as the judge's shared prefix with only the cited lines (±1) here made
    its calls cheaper (about 300 prompt tokens evaluated instead of 450) but its P(yes) separated real findings
    from invented ones worse (AUROC 0.63 -> 0.52 over 62 stored findings; benchmarks/RESULTS.md §8)."""
    return render_template(
        "prompts/judge.md.j2", severity=severity, title=title, file=file, line_start=line_start,
        line_end=line_end, evidence=evidence, fix=fix, checks=checks,
        target=excerpts(ctx, [(file, line_start, line_end)]),
    ).strip()


def judge_system(ctx: RunContext) -> str:
    """The judge's system prompt: the organiser's role and the rules, no target (the question carries its
    excerpt)."""
    return system_prompt(ctx, None, plain=True)


async def with_fallback(ctx: RunContext, call: Callable[[str, int], Awaitable[R]],
                        errors: list[str]) -> tuple[R, str] | None:
    """Ask the judge, then the fallback judge; (answer, model) or None when both failed (noted in errors)."""
    judges = [ctx.settings.judge_model] + ([ctx.settings.judge_fallback] if ctx.settings.judge_fallback else [])
    for n, model in enumerate(judges):
        try:
            return await call(model, n), model
        except (ProviderError, ModelOutputError) as exc:
            if ctx.settings.strict:
                raise
            errors.append(f"judge {model} failed ({exc})")
    return None


def outcomes(results: list[Any], what: str, total: int, degraded: list[str]) -> list[Any]:
    """Results of a gather: budget stops become one degraded note, other exceptions are raised."""
    stopped = [r for r in results if isinstance(r, BudgetExceeded)]
    for r in results:
        if isinstance(r, BaseException) and not isinstance(r, BudgetExceeded):
            raise r
    if stopped:
        degraded.append(f"{what} not asked for {len(stopped)} of {total} finding(s) ({stopped[0]})")
    return [None if isinstance(r, BaseException) else r for r in results]


def summarise_errors(errors: list[str], what: str, total: int) -> list[str]:
    """One note per failing judge model, with how many findings it failed on."""
    by_model: dict[str, list[str]] = {}
    for e in errors:
        by_model.setdefault(e.split(" failed")[0], []).append(e)
    return [f"{m} failed on {len(v)} of {total} {what} call(s) ({v[0].split(' failed ', 1)[1].strip('()')})"
            for m, v in by_model.items()]


async def judge_truth(ctx: RunContext, clusters: list[Cluster],
                      checks: list[list[Check]]) -> tuple[dict[int, tuple[JudgeAnswer, str]], list[str]]:
    """One isolated yes/no call per finding, all in flight at once (bounded by the gateway); by cluster index."""
    ctx.progress.expect("judge", len(clusters))
    errors: list[str] = []

    async def one(i: int) -> tuple[JudgeAnswer, str] | None:
        user = judge_prompt(ctx, clusters[i], checks[i])
        subject = clusters[i].lead.issue.id

        def call(model: str, n: int) -> Awaitable[JudgeAnswer]:
            return ctx.gateway.yes_no(stage="judge", persona="panel", model=model, user=user,
                                      subject=f"truth-{subject}" if n == 0 else f"truth-fallback-{subject}",
                                      system=judge_system(ctx), max_tokens=answer_cap(model))

        return await with_fallback(ctx, call, errors)

    degraded: list[str] = []
    results = await asyncio.gather(*(one(i) for i in range(len(clusters))), return_exceptions=True)
    got = outcomes(results, "the truth judge was", len(clusters), degraded)
    notes = summarise_errors(errors, "truth", len(clusters)) + degraded
    return {i: r for i, r in enumerate(got) if r is not None}, notes


def useful_items(clusters: list[tuple[int, Cluster]], checks: list[list[Check]]) -> list[dict[str, Any]]:
    """What the usefulness judge sees per finding: severity, claim, fix, analyzer rules (never truth)."""
    items = []
    for i, c in clusters:
        rules = [rule_of(ch) for ch in checks[i] if ch.kind.startswith("analyzer") and ch.outcome == "supports"]
        issue = c.lead.issue
        items.append({"label": f"F{i + 1}", "severity": c.lead.severity, "title": c.lead.title, "file": issue.file,
                      "line_start": issue.line_start, "line_end": issue.line_end, "fix": issue.fix,
                      "category": ", ".join(dict.fromkeys(rules))})
    return items


def batch_schema(labels: list[str]) -> type[UsefulnessOut]:
    """UsefulnessOut whose `finding` must be one of this batch's labels: a model whose output follows the schema
    (llama.cpp turns it into a grammar) cannot write "Bug" where "F3" goes, which left every label of a batch to be
    matched by order. The same class name, so the call records and the fake see the usual schema."""
    item = create_model("UsefulOut", __base__=UsefulOut,
                        finding=(Literal[tuple(labels)], Field(description="The finding's label, e.g. 'F3'")))
    return create_model("UsefulnessOut", __base__=UsefulnessOut,
                        items=(list[item], Field(max_length=max(len(labels), 1))))  # type: ignore[valid-type]


async def judge_usefulness(ctx: RunContext, clusters: list[Cluster],
                           checks: list[list[Check]]) -> tuple[dict[int, tuple[float, str]], list[str]]:
    """Usefulness labels in batches of USEFUL_BATCH (batches in parallel); (score, reason) by cluster index."""
    batches = [list(enumerate(clusters))[s:s + USEFUL_BATCH] for s in range(0, len(clusters), USEFUL_BATCH)]
    ctx.progress.expect("compile", len(batches))
    errors: list[str] = []

    async def one(b: int) -> tuple[UsefulnessOut, str] | None:
        batch = batches[b]
        spans = [(c.lead.issue.file, c.lead.issue.line_start, c.lead.issue.line_end) for _, c in batch]
        schema = batch_schema([f"F{i + 1}" for i, _ in batch])

        def call(model: str, n: int) -> Awaitable[UsefulnessOut]:
            return ask(ctx, stage="compile", persona=None, model=model, schema=schema, prompt="usefulness",
                       subject=f"usefulness-{b + 1}" if n == 0 else f"usefulness-fallback-{b + 1}",
                       items=useful_items(batch, checks), target=excerpts(ctx, spans, around=2))

        return await with_fallback(ctx, call, errors)

    degraded: list[str] = []
    results = await asyncio.gather(*(one(b) for b in range(len(batches))), return_exceptions=True)
    out: dict[int, tuple[float, str]] = {}
    positional = 0
    for batch, got in zip(batches, outcomes(results, "the usefulness judge was", len(batches), degraded), strict=True):
        if got is None:
            continue
        labelled, by_place = label_items(got[0].items, [i for i, _ in batch])
        out.update(labelled)
        positional += by_place
    if positional:
        degraded.append(f"{positional} usefulness label(s) matched to their finding by order: the judge did not "
                        "name the finding")
    return out, summarise_errors(errors, "usefulness", len(batches)) + degraded


def label_items(items: list[UsefulOut], indices: list[int]) -> tuple[dict[int, tuple[float, str]], int]:
    """Each answered item's (score, reason) by cluster index. An item names its finding by label ("F3", "[F3]",
    "F3: ..."); a small model often writes something else there (a severity, a title's first letters), so when
    the answer has exactly one item per finding, the items it did not name go, in order, to the findings no
    item named. Returns the labels and how many were matched by order."""
    labels = {f"F{i + 1}": i for i in indices}
    out: dict[int, tuple[float, str]] = {}
    unnamed: list[UsefulOut] = []
    for item in items:
        named = LABEL.search(item.finding.upper())
        key = labels.get(named.group(0)) if named else None
        if key is None or key in out:
            unnamed.append(item)
        else:
            out[key] = (USEFUL_SCORE[item.usefulness], item.reason.strip()[:400])
    free = [i for i in indices if i not in out]
    if len(items) != len(indices) or len(unnamed) != len(free):
        return out, 0
    for i, item in zip(free, unnamed, strict=True):
        out[i] = (USEFUL_SCORE[item.usefulness], item.reason.strip()[:400])
    return out, len(free)
