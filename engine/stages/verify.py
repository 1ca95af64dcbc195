"""Stage: verify — evidence the engine gathers itself, no model call. `analyze` runs the analyzers once after the
reviews join (unraised hits become the `analyzers` review); `verify_findings` writes a Verification per cluster."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

from langgraph.runtime import Runtime

from engine.claims.crosscheck import claim_checks
from engine.config import Workflow
from engine.context import RunContext
from engine.errors import ConfigError
from engine.rundir import RunDir
from engine.stages.claim_pairs import decide_unsure
from engine.stages.common import write
from engine.stages.reviews import save_review
from engine.state import RunState, latest_reviews
from engine.target.evidence import check_evidence, resolve_path
from engine.verify.analyzers import AnalyzerRun, load_or_run
from engine.verify.checks import REPRODUCER_OUTCOMES, Check, Subject
from engine.verify.gather import (
    applicability_notes,
    clustering_members,
    reproducible,
    run_clusters,
    subject_of,
    verify_cluster,
)
from engine.verify.matching import ANALYZERS, ANALYZERS_PERSONA, analyzer_review


def analyzer_tools(workflow: Workflow) -> list[str]:
    """The analyzers a workflow's verify stage runs (none without one)."""
    spec = workflow.stage("verify")
    return list(spec.analyzers) if spec is not None else []


def _tools(ctx: RunContext) -> list[str]:
    return analyzer_tools(ctx.workflow)


async def analyzers(ctx: RunContext) -> AnalyzerRun:
    """The run's analyzer results: `analyzers.json` when present (resume), else the analyzers run now."""
    return await asyncio.to_thread(load_or_run, ctx.run_dir, ctx.target, _tools(ctx))


def hit_lines(ctx: RunContext, run: AnalyzerRun) -> dict[tuple[str, int], str]:
    """The target line at each hit, as the snapshot holds it."""
    out = {}
    for h in run.hits:
        f = ctx.target.file(h.file)
        if f is not None and 0 < h.line <= len(f.lines):
            out[(h.file, h.line)] = f.lines[h.line - 1]
    return out


async def analyze(state: RunState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Stage: run the analyzers once; hits no persona raised join the debate as the `analyzers` review."""
    ctx = runtime.context
    run = await analyzers(ctx)
    notes = [f"analyzers: {e}" for e in run.errors]
    reviews = [r for r in latest_reviews(state.get("reviews", [])).values() if r.persona != ANALYZERS]
    issues = []
    for r in reviews:
        for i in r.issues:
            f = resolve_path(ctx.target, i.file)
            issues.append((i, f.path if f else None))
    review = analyzer_review(run, issues, hit_lines(ctx, run))
    if review is None:
        return {"notes": notes}
    review = review.model_copy(update={"issues": [i.model_copy(update={"evidence_status": check_evidence(
        ctx.target, i.file, i.line_start, i.line_end, i.evidence)}) for i in review.issues]})
    save_review(ctx, ANALYZERS_PERSONA, review, RunDir.review_file(ANALYZERS))
    return {"reviews": [review], "notes": notes}


async def reproduce_checks(ctx: RunContext, subject: Subject) -> list[Check]:
    """`--execute`: the sandbox's reproducer checks for one subject (engine/verify/reproduce.py, issue 12)."""
    try:
        from engine.verify.reproduce import reproduce  # lazy: only runs that opt in need the sandbox
    except ImportError as exc:
        raise ConfigError("--execute needs the reproducer sandbox (engine/verify/reproduce.py), which this install "
                          f"lacks ({exc}); run without --execute") from None
    result = reproduce(ctx, subject)
    if inspect.isawaitable(result):
        result = await result
    return list(result)


def attached_checks(responses: list[Any], issue_ids: set[str]) -> list[Check]:
    """The reproducers responders attached to these issues in the debate (`--execute`), as reproducer checks."""
    out = []
    for r in responses:
        for pt in r.points:
            if (a := pt.reproducer) is not None and pt.issue_id in issue_ids:
                out.append(Check(kind="reproducer", outcome=REPRODUCER_OUTCOMES[a.classification],  # type: ignore[arg-type]
                                 detail=f"attached by {r.persona} in {r.id}: {a.classification.replace('_', ' ')}: "
                                        f"{a.reason}",
                                 data={"classification": a.classification, "reason": a.reason, "path": a.path,
                                       "source": r.id}))
    return out


async def verify_findings(state: RunState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Stage: a Verification per cluster compile will score, written to `verifications/<C-id>-verification.md`."""
    ctx = runtime.context
    run = await analyzers(ctx)
    tools = _tools(ctx)
    out = []
    decided, pair_notes = await decide_unsure(ctx, clustering_members(state, ctx.workflow), stage="verify")
    for n, c in enumerate(run_clusters(state, ctx.workflow, decided), 1):
        subject = subject_of(f"C-{n:03d}", c)
        v = verify_cluster(ctx.target, subject, c, run, tools, ctx.settings.execute)
        if state.get("claims"):  # a document: the cross-checks at the finding's lines are evidence too
            v = v.model_copy(update={"checks": v.checks + claim_checks(state["claims"], subject,
                                                                       state.get("claim_hits"))})
        if attached := attached_checks(state.get("responses", []), set(subject.issues)):
            v = v.model_copy(update={"checks": v.checks + attached})
        if ctx.settings.execute and reproducible(ctx.target, subject):
            v = v.model_copy(update={"checks": v.checks + await reproduce_checks(ctx, subject)})
        derived = sorted({i.split("#")[0] for i in subject.issues}
                         | {fi.split("#")[0] for m in c.members for fi in m.finding_items})
        write(ctx, RunDir.verification_file(subject.id), "verification",
              {"id": subject.id, "persona": None, "model": None, "derived_from": derived, "issues": subject.issues},
              verification=v, analyzers=run)
        out.append(v)
    return {"verifications": out, "same_claim": decided, "notes": applicability_notes(out) + pair_notes}
