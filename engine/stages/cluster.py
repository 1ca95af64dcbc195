"""Pure compile logic: cluster issues across personas, attach the debate, derive status."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from engine.claims.model import CLAIMS_CHECKER
from engine.models import (
    SEVERITY_RANK,
    Issue,
    PersonaFindings,
    Rebuttal,
    RebuttalPoint,
    Response,
    ResponsePoint,
    Review,
    Stance,
)
from engine.paths import same_file
from engine.stages.claims_match import Verdict, claim_similarity, verdict
from engine.verify.features import MECHANICAL_RAISERS, generic_title

EVIDENCE_RANK = {"verified": 3, "moved": 2, "not_found": 1}
ADJACENT = 1  # lines between two ranges that still count as the same place


@dataclass
class Member:
    issue: Issue
    persona: str
    title: str
    severity: str
    kept: bool
    adopted_by: list[str] = field(default_factory=list)
    finding_items: list[str] = field(default_factory=list)
    support: int = 0  # responses that agreed with or refined this issue (set by attach_debate)

    @property
    def claim(self) -> str:
        """What the reviewer says: the title and the fix (not the quote copied from the target)."""
        return f"{self.title}\n{self.issue.fix}"


@dataclass
class Cluster:
    members: list[Member]
    stances: list[Stance] = field(default_factory=list)
    agree: int = 0
    disagree: int = 0  # disagreements backed by a counter-quote found in the target (the others count for nothing)
    unsupported: int = 0  # disagreements without one
    conceded: int = 0
    maintained: int = 0
    status: str = "unique"
    same_place: list[int] = field(default_factory=list)  # indexes of other clusters about the same lines

    @property
    def lead(self) -> Member:
        """The best-supported claim: kept, evidence found, a title that says what is wrong over one that only repeats
        a checklist heading ("Contradictions between sections" beside the claims checker's own hit), the engine's
        own check (an analyzer's or the claims checker's) over a model's wording of it ("Authentication section
        is unclear" beside "Credential sent in the URL"), most raisers and agreement, then severity."""
        def rank(m: Member) -> tuple[int, ...]:
            return (m.kept, EVIDENCE_RANK[m.issue.evidence_status or "not_found"], not generic_title(m.title),
                    m.persona in MECHANICAL_RAISERS, len(m.adopted_by) + m.support, SEVERITY_RANK[m.severity],
                    -self.members.index(m))
        return max(self.members, key=rank)

    @property
    def personas(self) -> list[str]:
        names = []
        for m in self.members:
            for p in [m.persona, *m.adopted_by]:
                if p not in names:
                    names.append(p)
        return names

    @property
    def authors(self) -> list[str]:
        """The personas that raised the claim in their own review: its independent raisers. A persona that adopted
        it after reading another's review is not one (its agreement is counted as `agree`)."""
        return list(dict.fromkeys(m.persona for m in self.members))

    @property
    def evidence_status(self) -> str:
        return max((m.issue.evidence_status or "not_found" for m in self.members), key=EVIDENCE_RANK.__getitem__)


def same_place(a: Issue, b: Issue) -> bool:
    """Same file and overlapping or adjacent line ranges (within ADJACENT lines), or the same quote."""
    if same_quote(a, b):
        return True
    if not same_file(a.file, b.file):
        return False
    return a.line_start <= b.line_end + ADJACENT and b.line_start <= a.line_end + ADJACENT


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


def pair_key(a: Member, b: Member) -> str:
    """A stable key for a pair of members (order-free), for decisions taken outside this module."""
    x, y = sorted((a.issue.id, b.issue.id))
    return f"{x}|{y}"


def pair_verdicts(members: list[Member], decided: dict[str, bool] | None = None) -> dict[tuple[int, int], Verdict]:
    """For every pair at the same place: same / different / unsure claim (`decided` settles unsure pairs)."""
    out: dict[tuple[int, int], Verdict] = {}
    for i in range(len(members)):
        for j in range(i + 1, len(members)):
            a, b = members[i], members[j]
            if not same_place(a.issue, b.issue):
                continue
            if a.persona == b.persona:  # one reviewer's issues are distinct claims by construction
                out[(i, j)] = "different"
                continue
            v = verdict(claim_similarity(a.claim, b.claim))
            if v == "unsure" and decided and pair_key(a, b) in decided:
                v = "same" if decided[pair_key(a, b)] else "different"
            out[(i, j)] = v
    return out


def unsure_pairs(members: list[Member]) -> list[tuple[Member, Member]]:
    """Pairs at the same place whose claims the similarity cannot tell apart (candidates for a model call)."""
    return [(members[i], members[j]) for (i, j), v in pair_verdicts(members).items() if v == "unsure"]


def cluster(members: list[Member], decided: dict[str, bool] | None = None) -> list[Cluster]:
    """Group issues that make the same claim about the same place; never transitively through a third.

    Complete linkage: two groups merge only when *every* pair across them is at the same place and makes
    the same claim, so issues at 13-15, 14-15 and 18-19 with different claims stay three findings. Groups
    that share lines but not a claim are cross-linked in `same_place`. Deterministic for a given input.
    """
    verdicts = pair_verdicts(members, decided)
    sims = {ij: claim_similarity(members[ij[0]].claim, members[ij[1]].claim) for ij in verdicts}
    group_of = list(range(len(members)))
    groups: dict[int, list[int]] = {i: [i] for i in range(len(members))}
    for i, j in sorted((ij for ij, v in verdicts.items() if v == "same"), key=lambda ij: (-sims[ij], ij)):
        gi, gj = group_of[i], group_of[j]
        if gi == gj:
            continue
        if all(verdicts.get((min(x, y), max(x, y))) == "same" for x in groups[gi] for y in groups[gj]):
            for y in groups.pop(gj):
                group_of[y] = gi
                groups[gi].append(y)
    order = sorted(groups, key=lambda g: min(groups[g]))
    out = [Cluster(members=[members[i] for i in sorted(groups[g])]) for g in order]
    index = {g: n for n, g in enumerate(order)}
    for (i, j) in verdicts:
        a, b = index[group_of[i]], index[group_of[j]]
        if a != b:
            if b not in out[a].same_place:
                out[a].same_place.append(b)
            if a not in out[b].same_place:
                out[b].same_place.append(a)
    for c in out:
        c.same_place.sort()
    return out


COUNTER_QUOTE_NOTE = {
    None: "unsupported disagreement: no counter-quote", "not_found": "unsupported disagreement: counter-quote not "
    "found in the target", "verified": "counter-quote found at the cited lines",
    "moved": "counter-quote found in the target",
}


def supported(quote: str, quote_status: str | None) -> bool:
    """A counter-quote supports a stance when it was given and found in the target (here or elsewhere)."""
    return bool(quote.strip()) and quote_status in ("verified", "moved")


def challenges(pt: ResponsePoint) -> bool:
    """Whether a response point asks the review's author for an answer: a refinement, a reproducer the engine
    ran, or a disagreement backed by a counter-quote found in the target. A bare agreement asks nothing (there is
    nothing to concede to), and an unsupported "I disagree" does not move the score, so neither is put to the
    author: the debate spends its rebuttal calls on disputed claims only."""
    if pt.stance == "refine" or pt.reproducer is not None:
        return True
    return pt.stance == "disagree" and supported(pt.quote, pt.quote_status)


def stance_of(artifact: str, persona: str, pt: ResponsePoint | RebuttalPoint) -> Stance:
    """The stance as the report shows it; an unsupported disagreement is marked and not counted."""
    status = pt.quote_status if pt.quote.strip() else None
    note, counted = "", True
    if pt.stance == "disagree":
        counted = supported(pt.quote, status)
        note = COUNTER_QUOTE_NOTE[status]
    elif pt.quote.strip():
        note = COUNTER_QUOTE_NOTE.get(status, "") if status != "not_found" else "quote not found in the target"
    return Stance(artifact=artifact, persona=persona, stance=pt.stance, reason=pt.reason, quote=pt.quote,
                  quote_status=status, counted=counted, note=note)


def attach_debate(c: Cluster, responses: list[Response], rebuttals: list[Rebuttal]) -> None:
    """Count stances on the cluster's issues and derive its status; a disagreement counts only when backed by
    a counter-quote found in the target."""
    ids = {m.issue.id: m for m in c.members}
    for r in responses:
        for pt in r.points:
            if pt.issue_id in ids:
                st = stance_of(r.id, r.persona, pt)
                c.stances.append(st)
                c.agree += pt.stance in ("agree", "refine")
                ids[pt.issue_id].support += pt.stance in ("agree", "refine")
                c.disagree += pt.stance == "disagree" and st.counted
                c.unsupported += pt.stance == "disagree" and not st.counted
    for b in rebuttals:
        for bp in b.points:
            if bp.issue_id in ids:
                c.stances.append(stance_of(b.id, b.persona, bp))
                c.conceded += bp.stance == "concede"
                c.maintained += bp.stance == "maintain"
    c.status = status_of(c)


def status_of(c: Cluster) -> str:
    """refuted: conceded or outvoted and nobody kept it; contested: disputed; consensus: 2+ raisers or support.

    Only disagreements backed by a counter-quote found in the target (`c.disagree`) dispute or outvote.
    """
    kept = any(m.kept for m in c.members)
    if not kept and (c.conceded or c.disagree > c.agree):
        return "refuted"
    if c.disagree:
        return "contested"
    if len(c.personas) >= 2 or c.agree >= 1:
        return "consensus"
    return "unique"


USEFULNESS_BY_SEVERITY = {"low": 0.25, "medium": 0.5, "high": 0.75, "critical": 0.9}


def mechanical_usefulness(c: Cluster) -> tuple[float, str]:
    """Usefulness without a judge: from severity alone."""
    return USEFULNESS_BY_SEVERITY[c.lead.severity], f"mechanical: severity {c.lead.severity}"
