"""Stage 6: compile — cluster, check evidence, score truth and usefulness separately, write the report."""

from __future__ import annotations

import json
from typing import Any

from langgraph.runtime import Runtime

from engine.artifacts import render_artifact, write_atomic, write_json
from engine.claims.extract import heading_of
from engine.context import RunContext
from engine.errors import BudgetExceeded, ModelOutputError, ProviderError
from engine.llm.ledger import read_ledger, summarise, total
from engine.models import SEVERITY_RANK, Finding, FindingMember, Report, Scores
from engine.report.html import write_html
from engine.schemas import TRUTH_SCORE, USEFUL_SCORE, ScoreOut, ScoresOut
from engine.stages.claim_pairs import decide_unsure
from engine.stages.cluster import Cluster, mechanical_scores
from engine.stages.common import ask, excerpts
from engine.stages.debate_summary import summarise_debate
from engine.state import RunState
from engine.verify.checks import Verification
from engine.verify.gather import clustering_members, find_verification, run_clusters

BATCH = 6
NOT_FOUND_TRUTH_CAP = 0.3


async def judge(ctx: RunContext, clusters: list[Cluster], model: str, tag: str) -> dict[int, ScoreOut]:
    """Ask the judge to score clusters in small batches; returns scores by cluster index."""
    out: dict[int, ScoreOut] = {}
    for start in range(0, len(clusters), BATCH):
        batch = list(enumerate(clusters[start:start + BATCH], start))
        items = [{
            "label": f"F{i + 1}", "severity": c.lead.severity, "title": c.lead.title, "file": c.lead.issue.file,
            "line_start": c.lead.issue.line_start, "line_end": c.lead.issue.line_end,
            "evidence_status": c.evidence_status, "status": c.status, "evidence": c.lead.issue.evidence,
            "fix": c.lead.issue.fix, "raisers": len(c.personas), "agree": c.agree, "disagree": c.disagree,
        } for i, c in batch]
        spans = [(c.lead.issue.file, c.lead.issue.line_start, c.lead.issue.line_end) for _, c in batch]
        res = await ask(ctx, stage="compile", persona=None, subject=f"{tag}-scores-{start // BATCH + 1}",
                        model=model, schema=ScoresOut, prompt="scores", items=items,
                        target=excerpts(ctx, spans, around=4))
        labels = {f"F{i + 1}": i for i, _ in batch}
        for s in res.scores:
            key = s.finding.strip().strip("[]").upper()
            if key in labels and labels[key] not in out:
                out[labels[key]] = s
    return out


async def score_all(ctx: RunContext, clusters: list[Cluster]) -> tuple[list[Scores], list[str]]:
    """Judge scores (falling back to the second judge, then to mechanical scores, visibly)."""
    degraded: list[str] = []
    judged: dict[int, ScoreOut] = {}
    used = ctx.settings.judge_model
    judges = [ctx.settings.judge_model] + ([ctx.settings.judge_fallback] if ctx.settings.judge_fallback else [])
    ctx.progress.expect("compile", -(-len(clusters) // BATCH))
    for n, model in enumerate(judges):
        try:
            judged = await judge(ctx, clusters, model, "judge" if n == 0 else "fallback")
            used = model
            break
        except BudgetExceeded as exc:
            degraded.append(f"judge not called ({exc}); scores are mechanical")
            break
        except (ProviderError, ModelOutputError) as exc:
            if ctx.settings.strict:
                raise
            degraded.append(f"judge {model} failed ({exc})")
    scores = []
    missing = 0
    for i, c in enumerate(clusters):
        s = judged.get(i)
        if s is None:
            missing += 1
            t, tr, u, ur = mechanical_scores(c)
            scores.append(Scores(truth=t, truth_rationale=tr, usefulness=u, usefulness_rationale=ur,
                                 scored_by="mechanical"))
            continue
        truth = TRUTH_SCORE[s.truth]
        rationale = s.truth_reason.strip()[:400]
        if c.evidence_status == "not_found" and truth > NOT_FOUND_TRUTH_CAP:
            truth = NOT_FOUND_TRUTH_CAP
            rationale += f" (capped at {NOT_FOUND_TRUTH_CAP}: the quoted evidence was not found in the target)"
        scores.append(Scores(truth=truth, truth_rationale=rationale, usefulness=USEFUL_SCORE[s.usefulness],
                             usefulness_rationale=s.usefulness_reason.strip()[:400], scored_by=used))
    if missing and judged:
        degraded.append(f"the judge left {missing} finding(s) unscored; they carry mechanical scores")
    elif missing and clusters and not any("mechanical" in d for d in degraded):
        degraded.append("no judge scores; all scores are mechanical")
    return scores, degraded


def to_findings(clusters: list[Cluster], scores: list[Scores],
                verifications: list[Verification] | None = None) -> list[Finding]:
    """Findings sorted by truth × usefulness, then severity and location; ids F-001..."""
    rows = []
    for c, s in zip(clusters, scores, strict=True):
        lead = c.lead
        v = find_verification(verifications or [], {m.issue.id for m in c.members})
        derived = sorted({m.issue.id.split("#")[0] for m in c.members}
                         | {fi.split("#")[0] for m in c.members for fi in m.finding_items}
                         | {st.artifact for st in c.stances})
        members = [FindingMember(issue=m.issue.id, persona=m.persona, title=m.title, file=m.issue.file,
                                 line_start=m.issue.line_start, line_end=m.issue.line_end,
                                 evidence_status=m.issue.evidence_status, lead=m is lead, kept=m.kept)
                   for m in c.members]
        rows.append(Finding(
            id="", title=lead.title, severity=lead.severity, file=lead.issue.file, line_start=lead.issue.line_start,
            line_end=lead.issue.line_end, evidence=lead.issue.evidence, fix=lead.issue.fix, status=c.status,
            evidence_status=c.evidence_status, scores=s, personas=c.personas,
            issues=[m.issue.id for m in c.members] + [fi for m in c.members for fi in m.finding_items],
            stances=c.stances, members=members, derived_from=derived, checks=v.checks if v else [],
            verification=v.subject.id if v else None))
    order = sorted(range(len(rows)), key=lambda i: (-round(rows[i].rank, 6), -SEVERITY_RANK[rows[i].severity],
                                                    rows[i].file, rows[i].line_start, rows[i].title))
    ids = {i: f"F-{n:03d}" for n, i in enumerate(order, 1)}
    return [rows[i].model_copy(update={"id": ids[i], "same_place": [ids[j] for j in clusters[i].same_place]})
            for i in order]


async def compile_report(state: RunState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Stage: build, score and write `review-findings.md` and `report.json`."""
    ctx = runtime.context
    decided, pair_notes = state.get("same_claim"), []
    if decided is None:  # no verify stage before compile: settle the unsure pairs here
        decided, pair_notes = await decide_unsure(ctx, clustering_members(state, ctx.workflow))
    clusters = run_clusters(state, ctx.workflow, decided)
    scores, degraded = await score_all(ctx, clusters) if clusters else ([], [])
    findings = to_findings(clusters, scores, state.get("verifications", []))
    report = build_report(ctx, state, findings, degraded + pair_notes + list(state.get("notes", [])))
    write_report(ctx, report)
    write_json(ctx.run_dir, "debate.json", debate_record(state))
    write_html(ctx.run_dir)
    return {"report": report}


def debate_record(state: RunState) -> dict[str, Any]:
    """Every structured record of the debate, for trace and the HTML report."""
    keys = ("personas", "reviews", "picks", "responses", "rebuttals", "findings", "critiques", "failures")
    return {k: [json.loads(x.model_dump_json()) for x in state.get(k, [])] for k in keys}


def build_report(ctx: RunContext, state: RunState, findings: list[Finding], degraded: list[str]) -> Report:
    """The Report record, with the cost tables read back from the ledger."""
    s = ctx.settings
    personas = state.get("personas", [])
    lines = read_ledger(ctx.run_dir / "ledger.jsonl")
    models = sorted({s.model_for(i, p) for i, p in enumerate(personas)} | {s.model})
    return Report(
        run_id=s.run_id, target=ctx.target.name, workflow=ctx.workflow.name, models=models,
        judge=s.judge_model + (f" (fallback {s.judge_fallback})" if s.judge_fallback else ""),
        personas=[p.slug for p in personas], findings=findings, complete=ctx.gateway.stopped is None,
        partial_reason=ctx.gateway.stopped, degraded=degraded, failures=state.get("failures", []),
        redactions=ctx.target.redactions, skipped=len(ctx.target.skipped),
        cost_by_stage=summarise(lines, "stage"), cost_by_model=summarise(lines, "model"), total=total(lines),
        debate=summarise_debate(findings, summarise(lines, "stage")) if ctx.workflow.stage("responses") else None,
    )


def write_report(ctx: RunContext, report: Report) -> None:
    """Write the markdown report and its JSON twin."""
    meta = {"id": "report", "persona": None, "model": ctx.settings.judge_model,
            "derived_from": [f.id for f in report.findings]}
    sections = {f.id: heading_of(ctx.target.file(f.file), f.line_start) for f in report.findings
                if ctx.target.is_document}
    text = render_artifact("report", meta, report=report, run_dir=str(ctx.run_dir), sections=sections)
    write_atomic(ctx.run_dir, "review-findings.md", text)
    write_json(ctx.run_dir, "report.json", json.loads(report.model_dump_json()))
