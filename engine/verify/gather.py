"""Gather a Verification per cluster (pure given the snapshot and the analyzer run): quotes, analyzers, what did
not apply. Also the clusters themselves, built the one way compile builds them."""

from __future__ import annotations

from engine.config import Workflow
from engine.models import NOT_APPLICABLE, Response
from engine.stages.cluster import Cluster, Member, attach_debate, build_members, cluster
from engine.state import RunState, latest_reviews
from engine.target.evidence import locate_quote, resolve_path
from engine.target.snapshot import TargetSnapshot
from engine.verify.analyzers import COVERAGE, AnalyzerRun, Hit, covered, language_of
from engine.verify.checks import Check, Subject, Verification
from engine.verify.matching import ANALYZERS, FINDING_SLACK, analyzer_checks, hits_at

QUOTE_WEIGHT = {"verified": 1.0, "moved": 0.5, "not_found": 0.0}
REPRODUCIBLE = {"python", "javascript"}


def keep_analyzer_members(members: list[Member], responses: list[Response]) -> None:
    """Analyzer issues are kept (they write no findings) unless the responses to them disagree more than agree;
    one a persona adopted into its findings stays kept."""
    for m in members:
        if m.persona != ANALYZERS or m.kept:
            continue
        stances = [pt.stance for r in responses for pt in r.points if pt.issue_id == m.issue.id]
        m.kept = stances.count("disagree") <= len(stances) - stances.count("disagree")


def clustering_members(state: RunState, workflow: Workflow) -> list[Member]:
    """Members of the latest reviews, kept per the findings (analyzer issues kept unless refuted)."""
    reviews = list(latest_reviews(state.get("reviews", [])).values())
    has_findings = workflow.stage("findings") is not None and bool(state.get("findings"))
    members = build_members(reviews, state.get("findings") if has_findings else None)
    keep_analyzer_members(members, state.get("responses", []))
    return members


def run_clusters(state: RunState, workflow: Workflow, decided: dict[str, bool] | None = None) -> list[Cluster]:
    """The clusters compile scores: the members clustered by claim (`decided` settles unsure pairs), debated."""
    clusters = cluster(clustering_members(state, workflow), decided)
    for c in clusters:
        attach_debate(c, state.get("responses", []), state.get("rebuttals", []))
    return clusters


def subject_of(sid: str, c: Cluster) -> Subject:
    """What the checkers are asked about: the cluster's lead claim, with every member issue id."""
    lead = c.lead
    return Subject(id=sid, title=lead.title, file=lead.issue.file, line_start=lead.issue.line_start,
                   line_end=lead.issue.line_end, evidence=lead.issue.evidence, fix=lead.issue.fix,
                   severity=lead.severity, issues=[m.issue.id for m in c.members])


def location_of(snap: TargetSnapshot, file: str, lo: int, hi: int) -> str:
    """Whether a cited location exists: `ok`, `file_missing` or `lines_out_of_range`."""
    f = resolve_path(snap, file)
    if f is None:
        return "file_missing"
    return "ok" if 1 <= lo <= hi <= max(1, len(f.lines)) else "lines_out_of_range"


def quote_checks(snap: TargetSnapshot, c: Cluster) -> list[Check]:
    """A `quote` check per distinct quote of the cluster: verified supports, moved supports less, absent refutes."""
    out, seen = [], set()
    for m in c.members:
        i = m.issue
        key = (i.file, i.line_start, i.line_end, " ".join(i.evidence.split()))
        if key in seen:
            continue
        seen.add(key)
        cited = f"{i.file}:{i.line_start}-{i.line_end}"
        loc = location_of(snap, i.file, i.line_start, i.line_end)
        cited += "" if loc == "ok" else f", {loc.replace('_', ' ')}"
        if not i.evidence.strip():
            out.append(Check(kind="quote", outcome="inconclusive", detail=f"{i.id}: no quote given at {cited}",
                             data={"issue": i.id, "status": "no_quote", "weight": 0.0, "location": loc}))
            continue
        q = locate_quote(snap, i.file, i.line_start, i.line_end, i.evidence)
        at = f"{q.file}:{q.lines[0]}-{q.lines[1]}" if q.file and q.lines else None
        data = {"issue": i.id, "status": q.status, "weight": QUOTE_WEIGHT[q.status], "found_at": at, "location": loc}
        if q.status == "verified":
            out.append(Check(kind="quote", outcome="supports", detail=f"{i.id}: quote found at {at}", data=data))
        elif q.status == "moved":
            out.append(Check(kind="quote", outcome="supports", detail=f"{i.id}: quote found at {at}, not at the "
                             f"cited {cited}", data=data))
        else:
            out.append(Check(kind="quote", outcome="refutes", detail=f"{i.id}: quote not found anywhere in the "
                             f"target (cited {cited})", data=data))
    return out


def analyzer_findings(snap: TargetSnapshot, c: Cluster, run: AnalyzerRun,
                      tools: list[str] | None = None) -> tuple[list[Check], list[str]]:
    """Supporting checks for hits at the cluster's lines (±1); an inconclusive one per tool that ran there and
    found nothing; and why analyzers did not apply to files they do not cover."""
    na: list[str] = []
    hits: list[tuple[Hit, str]] = []
    looked: list[tuple[str, str]] = []  # (path, "path:lo-hi")
    for m in c.members:
        f = resolve_path(snap, m.issue.file)
        lo, hi = m.issue.line_start, m.issue.line_end
        if f is None:
            na.append("analyzers: the cited file is not in the target")
        elif f.path not in run.files:
            na.append(not_covered_reason(f.path, tools))
        else:
            hits += [(h, m.issue.id) for h in hits_at(run.hits, f.path, lo, hi) if h not in [x for x, _ in hits]]
            looked.append((f.path, f"{f.path}:{lo}-{hi}"))
    lead = resolve_path(snap, c.lead.issue.file)
    checks = analyzer_checks(hits, (lead.path if lead else None, c.lead.issue.line_start, c.lead.issue.line_end),
                             c.lead.issue)
    for tool in run.tools:  # a tool that ran and found nothing where it looked (only files in its languages)
        where = list(dict.fromkeys(at for path, at in looked if covered(path, [tool])))
        if where and not any(h.tool == tool for h, _ in hits):
            checks.append(Check(kind=f"analyzer:{tool}", outcome="inconclusive",
                                detail=f"no {tool} hit at {', '.join(where)} (±{FINDING_SLACK})",
                                data={"where": where}))
    return checks, list(dict.fromkeys(na))


def not_covered_reason(path: str, tools: list[str] | None) -> str:
    """Why the analyzers did not look at a file of the target."""
    lang = language_of(path)
    if lang is None:
        return "analyzers: the cited file is not code (prose, configuration or data)"
    if path.endswith(".min.js"):
        return "analyzers: the cited file is minified (not analyzed)"
    if not covered(path):
        return f"analyzers: no analyzer installed for {lang} ({COVERAGE})"
    if tools is not None and not covered(path, tools):
        return f"analyzers: this workflow runs none for {lang} (verify: analyzers: [{', '.join(tools)}])"
    return (f"analyzers: the run's analyzers.json predates the analyzer for {lang} (delete it and resume to run "
            "them again)")


def verify_cluster(snap: TargetSnapshot, subject: Subject, c: Cluster, run: AnalyzerRun, tools: list[str],
                   execute: bool) -> Verification:
    """Every check the engine can make without a model for one cluster, and what did not apply."""
    checks = quote_checks(snap, c)
    na: list[str] = []
    if snap.is_document:
        na.append("analyzers: the target is a document (analyzers check code)")
    elif not tools:
        na.append("analyzers: turned off in the workflow (verify: analyzers: [])")
    else:
        found, why = analyzer_findings(snap, c, run, tools)
        checks += found
        na += why
        here = [f for f in _files(snap, c) if f in run.files]
        na += [f"analyzer:{t}: did not run (see the report's notes)" for t in tools
               if t not in run.tools and any(covered(f, [t]) for f in here)]
    lang = language_of(resolved.path) if (resolved := resolve_path(snap, subject.file)) else None
    if not execute:
        na.append("reproducer: not requested (run with --execute)")
    elif lang not in REPRODUCIBLE:
        na.append(f"reproducer: no sandbox for {lang or 'non-code'} files")
    return Verification(subject=subject, checks=checks, not_applicable=na)


def _files(snap: TargetSnapshot, c: Cluster) -> list[str]:
    return [f.path for m in c.members if (f := resolve_path(snap, m.issue.file)) is not None]


def module_name(path: str) -> str:
    """The import name of a Python file from the copy's root (`src/` layouts import without `src.`)."""
    parts = path[:-3].split("/")
    if parts[-1] == "__init__":
        parts.pop()
    if len(parts) > 1 and parts[0] == "src":
        parts = parts[1:]
    return ".".join(parts)


def reproducible(snap: TargetSnapshot, subject: Subject) -> bool:
    """Whether `--execute` applies: the subject's file is Python or JavaScript code."""
    f = resolve_path(snap, subject.file)
    return f is not None and not snap.is_document and language_of(f.path) in REPRODUCIBLE


def find_verification(verifications: list[Verification], issue_ids: set[str] | list[str]) -> Verification | None:
    """The Verification of the cluster whose member issue ids are exactly `issue_ids` (None if none)."""
    want = set(issue_ids)
    return next((v for v in verifications if set(v.subject.issues) == want), None)


def applicability_notes(verifications: list[Verification]) -> list[str]:
    """One report note per distinct reason a check did not apply (the reproducer's opt-in is not news)."""
    counts: dict[str, int] = {}
    for v in verifications:
        for reason in v.not_applicable:
            if not reason.startswith("reproducer: not requested"):
                counts[reason] = counts.get(reason, 0) + 1
    return [f"{NOT_APPLICABLE} — {reason} ({n} finding(s))" for reason, n in counts.items()]

