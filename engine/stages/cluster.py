"""Pure compile logic: cluster issues across personas, derive status, mechanical scores."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from engine.claims.model import CLAIMS_CHECKER
from engine.models import SEVERITY_RANK, Issue, PersonaFindings, Rebuttal, Response, Review, Stance

EVIDENCE_RANK = {"verified": 3, "moved": 2, "not_found": 1}
NEAR = 3


@dataclass
class Member:
    issue: Issue
    persona: str
    title: str
    severity: str
    kept: bool
    adopted_by: list[str] = field(default_factory=list)
    finding_items: list[str] = field(default_factory=list)


@dataclass
class Cluster:
    members: list[Member]
    stances: list[Stance] = field(default_factory=list)
    agree: int = 0
    disagree: int = 0
    conceded: int = 0
    status: str = "unique"

    @property
    def lead(self) -> Member:
        kept = [m for m in self.members if m.kept] or self.members
        return max(kept, key=lambda m: (SEVERITY_RANK[m.severity], -self.members.index(m)))

    @property
    def personas(self) -> list[str]:
        names = []
        for m in self.members:
            for p in [m.persona, *m.adopted_by]:
                if p not in names:
                    names.append(p)
        return names

    @property
    def evidence_status(self) -> str:
        return max((m.issue.evidence_status or "not_found" for m in self.members), key=EVIDENCE_RANK.__getitem__)


def norm_path(path: str) -> str:
    return path.strip().lstrip("./").lower()


def same_place(a: Issue, b: Issue) -> bool:
    """Same file (by path or unique basename) and line ranges within NEAR lines of each other."""
    pa, pb = norm_path(a.file), norm_path(b.file)
    if pa != pb and not (pa.endswith("/" + pb) or pb.endswith("/" + pa)):
        return False
    return a.line_start <= b.line_end + NEAR and b.line_start <= a.line_end + NEAR


def same_quote(a: Issue, b: Issue) -> bool:
    qa, qb = (re.sub(r"\s+", " ", x.evidence).strip().lower() for x in (a, b))
    return len(qa) >= 12 and qa == qb


def build_members(reviews: list[Review], findings: list[PersonaFindings] | None) -> list[Member]:
    """One member per review issue; with a findings stage, `kept` says whether anyone stood by it (the
    claims-checker writes no findings and never concedes: its mechanical hits stand by themselves)."""
    by_issue: dict[str, Member] = {}
    for r in reviews:
        for issue in r.issues:
            by_issue[issue.id] = Member(issue=issue, persona=r.persona, title=issue.title, severity=issue.severity,
                                        kept=findings is None or r.persona == CLAIMS_CHECKER)
    for f in findings or []:
        for item in f.items:
            m = by_issue.get(item.source_issue)
            if m is None:
                continue
            m.kept = True
            m.finding_items.append(item.id)
            if item.adopted:
                if f.persona not in m.adopted_by:
                    m.adopted_by.append(f.persona)
            else:
                m.title, m.severity = item.title, item.severity
    return list(by_issue.values())


def cluster(members: list[Member]) -> list[Cluster]:
    """Union members that point at the same place or quote the same text (deterministic order)."""
    parent = list(range(len(members)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(members)):
        for j in range(i + 1, len(members)):
            a, b = members[i].issue, members[j].issue
            if members[i].persona != members[j].persona and (same_place(a, b) or same_quote(a, b)):
                parent[find(j)] = find(i)
    groups: dict[int, list[Member]] = {}
    for i, m in enumerate(members):
        groups.setdefault(find(i), []).append(m)
    return [Cluster(members=g) for g in groups.values()]


def attach_debate(c: Cluster, responses: list[Response], rebuttals: list[Rebuttal]) -> None:
    """Count stances on the cluster's issues and derive its status."""
    ids = {m.issue.id for m in c.members}
    for r in responses:
        for pt in r.points:
            if pt.issue_id in ids:
                c.stances.append(Stance(artifact=r.id, persona=r.persona, stance=pt.stance, reason=pt.reason))
                c.agree += pt.stance in ("agree", "refine")
                c.disagree += pt.stance == "disagree"
    for b in rebuttals:
        for pt in b.points:
            if pt.issue_id in ids:
                c.stances.append(Stance(artifact=b.id, persona=b.persona, stance=pt.stance, reason=pt.reason))
                c.conceded += pt.stance == "concede"
    c.status = status_of(c)


def status_of(c: Cluster) -> str:
    """refuted: conceded or outvoted and nobody kept it; contested: disputed; consensus: 2+ raisers or support."""
    kept = any(m.kept for m in c.members)
    if not kept and (c.conceded or c.disagree > c.agree):
        return "refuted"
    if c.disagree:
        return "contested"
    if len(c.personas) >= 2 or c.agree >= 1:
        return "consensus"
    return "unique"


def mechanical_scores(c: Cluster) -> tuple[float, str, float, str]:
    """Scores without a judge: evidence and debate for truth, severity for usefulness."""
    truth = {"verified": 0.6, "moved": 0.4, "not_found": 0.1}[c.evidence_status]
    truth += {"consensus": 0.2, "contested": -0.1, "refuted": -0.3, "unique": 0.0}[c.status]
    truth = round(min(1.0, max(0.0, truth)), 2)
    useful = {"low": 0.25, "medium": 0.5, "high": 0.75, "critical": 0.9}[c.lead.severity]
    return (truth, f"mechanical: evidence {c.evidence_status}, status {c.status}",
            useful, f"mechanical: severity {c.lead.severity}")
