"""Stage 6: compile — cluster, attach the debate, score truth (calibrated) and usefulness separately, write
the report."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from langgraph.runtime import Runtime

from engine import rundir
from engine.artifacts import render_artifact, write_atomic, write_json
from engine.claims.extract import heading_of
from engine.context import RunContext
from engine.llm.ledger import summarise, total
from engine.models import SEVERITY_RANK, Finding, FindingMember, Report, Scores
from engine.report.html import write_html
from engine.rundir import RunDir
from engine.stages.claim_pairs import decide_unsure
from engine.stages.cluster import Cluster, mechanical_usefulness
from engine.stages.debate_summary import summarise_debate
from engine.stages.judge import checks_for, judge_truth, judge_usefulness
from engine.state import RunState
from engine.verify import calibration
from engine.verify.calibration import Calibration, judge_counts, predict, rationale
from engine.verify.checks import Verification
from engine.verify.features import Signals, extract, quote_status, reproducer_outcome, set_aside_reason
from engine.verify.gather import clustering_members, find_verification, run_clusters

REPRODUCED_FLOOR = 0.5  # a failure the sandbox reproduced is not refuted by opinion (issue 12)


def floored(truth: float, why: str, checks: list) -> tuple[float, str]:
    """Truth at least REPRODUCED_FLOOR when a reproducer reproduced the finding, saying so."""
    if reproducer_outcome(checks) == "reproduced" and truth < REPRODUCED_FLOOR:
        return REPRODUCED_FLOOR, why + f"; raised to {REPRODUCED_FLOOR}: a reproducer reproduced it"
    return truth, why


def status_with(status: str, checks: list) -> str:
    """The debate's status, except that a reproduced finding is contested at worst, never refuted by opinion."""
    return "contested" if status == "refuted" and reproducer_outcome(checks) == "reproduced" else status


async def no_judge(ctx: RunContext) -> tuple[dict[int, Any], list[str]]:
    """The truth judge's stage when it is not asked: no call, no answer."""
    ctx.progress.expect("judge", 0)
    return {}, []


async def score_all(ctx: RunContext, clusters: list[Cluster], verifications: list[Verification],
                    cal: Calibration) -> tuple[list[Scores], list[str]]:
    """Truth from the calibrated model over each finding's features (the judge's P(yes) is one of them);
    usefulness from its own judge call. Without a judge answer the judge feature is left out (0) and truth
    rests on the checks and the debate; usefulness falls back to severity. Both visibly. The truth judge is not asked
    at all when the calibration gives its answer no weight (calibration.judge_counts)."""
    checks = [checks_for(c, verifications) for c in clusters]
    asked = judge_counts(cal)
    (truths, truth_notes), (useful, useful_notes) = await asyncio.gather(
        judge_truth(ctx, clusters, checks) if asked else no_judge(ctx),
        judge_usefulness(ctx, clusters, checks))
    degraded = truth_notes + useful_notes
    scores = []
    for i, c in enumerate(clusters):
        answer, model = truths.get(i, (None, "mechanical"))
        x, labels = extract(Signals(
            evidence_status=c.evidence_status, checks=checks[i], raisers=len(c.authors), agree=c.agree,
            disagree=c.disagree, concede=c.conceded, maintain=c.maintained, severity=c.lead.severity,
            judge_p_yes=answer.p_yes if answer else None, judge_mode=answer.mode if answer else None,
            title=c.lead.title, raised_by=tuple(c.personas)))
        why = rationale(cal, x, labels) + ("" if answer else "; no judge answer (judge feature left out)" if asked
                                           else f"; truth judge not asked ({cal.name} gives its answer no weight)")
        truth, why = floored(round(predict(cal, x), 2), why, checks[i])
        u, u_why = useful.get(i) or mechanical_usefulness(c)
        scores.append(Scores(
            truth=truth, truth_rationale=why, usefulness=u, usefulness_rationale=u_why,
            scored_by=model, judge_mode=answer.mode if answer else None,
            judge_p_yes=round(answer.p_yes, 4) if answer else None, features=x, calibration=cal.name))
    if clusters and asked and not truths:  # not asked: the calibration decided its answer could not move truth
        degraded.append(f"no truth judge answers: truth is {cal.name} over the checks and the debate alone")
    elif asked and len(truths) < len(clusters):
        degraded.append(f"{len(clusters) - len(truths)} finding(s) without a truth judge answer: their truth rests "
                        "on the checks and the debate alone")
    if clusters and len(useful) < len(clusters):
        degraded.append(f"{len(clusters) - len(useful)} finding(s) without a usefulness label: usefulness from "
                        "severity")
    return scores, degraded


def to_findings(clusters: list[Cluster], scores: list[Scores],
                verifications: list[Verification] | None = None) -> list[Finding]:
    """Findings sorted by truth × usefulness, then severity and location, those set aside last; ids F-001..."""
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
            line_end=lead.issue.line_end, evidence=lead.issue.evidence, fix=lead.issue.fix,
            status=status_with(c.status, v.checks if v else []),
            evidence_status=c.evidence_status, scores=s, personas=c.personas,
            issues=[m.issue.id for m in c.members] + [fi for m in c.members for fi in m.finding_items],
            stances=c.stances, members=members, derived_from=derived, checks=v.checks if v else [],
            verification=v.subject.id if v else None,
            set_aside=set_aside_reason(lead.title, lead.issue.file, c.personas,
                                       quote_status(c.evidence_status, v.checks if v else []), lead.issue.fix)))
    order = sorted(range(len(rows)), key=lambda i: (rows[i].set_aside is not None, -round(rows[i].rank, 6),
                                                    -SEVERITY_RANK[rows[i].severity],
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
    cal = calibration.for_run(ctx.run_dir)
    verifications = list(state.get("verifications", []))
    scores, degraded = await score_all(ctx, clusters, verifications, cal) if clusters else ([], [])
    findings = to_findings(clusters, scores, verifications)
    report = build_report(ctx, state, findings, degraded + pair_notes + list(state.get("notes", [])), cal)
    write_report(ctx, report)
    write_json(ctx.run_dir, rundir.DEBATE, debate_record(state))
    write_html(ctx.run_dir)
    return {"report": report}


def debate_record(state: RunState) -> dict[str, Any]:
    """Every structured record of the debate, for trace and the HTML report."""
    keys = ("personas", "reviews", "picks", "responses", "rebuttals", "findings", "critiques", "failures")
    return {k: [json.loads(x.model_dump_json()) for x in state.get(k, [])] for k in keys}


def build_report(ctx: RunContext, state: RunState, findings: list[Finding], degraded: list[str],
                 cal: Calibration) -> Report:
    """The Report record, with the cost tables read back from the ledger."""
    s = ctx.settings
    personas = state.get("personas", [])
    lines = RunDir(ctx.run_dir).ledger_lines()
    models = sorted({s.model_for(i, p) for i, p in enumerate(personas)} | {s.model})
    return Report(
        run_id=s.run_id, target=ctx.target.name, workflow=ctx.workflow.name, models=models,
        judge=s.judge_model + (f" (fallback {s.judge_fallback})" if s.judge_fallback else ""), calibration=cal.label,
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
    write_atomic(ctx.run_dir, rundir.REPORT_MD, text)
    write_json(ctx.run_dir, rundir.REPORT_JSON, json.loads(report.model_dump_json()))
