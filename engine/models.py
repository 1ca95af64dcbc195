"""Domain models: what the stages produce and the run directory stores.

LLM-facing schemas (small, for constrained decoding) live in `engine.schemas`;
these are the richer records built from them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from engine.verify.checks import Check

Severity = Literal["low", "medium", "high", "critical"]
SEVERITY_RANK: dict[str, int] = {"low": 1, "medium": 2, "high": 3, "critical": 4}
ResponseStance = Literal["agree", "disagree", "refine"]
RebuttalStance = Literal["concede", "maintain", "revise"]
Status = Literal["consensus", "contested", "unique", "refuted"]
EvidenceStatus = Literal["verified", "moved", "not_found"]


class Record(BaseModel):
    """Base for state records: strict, immutable in spirit."""

    model_config = ConfigDict(extra="forbid")


class Persona(Record):
    """A reviewer persona; the same shape for library files and generated ones."""

    slug: str
    name: str
    role: str
    perspective: str
    focus: list[str] = Field(default_factory=list)
    applies_to: Literal["code", "document", "any"] = "any"
    model: str | None = None
    brief: str = ""
    source: Literal["library", "generated", "sample", "checker"] = "library"

    @property
    def id(self) -> str:
        return f"P-{self.slug}"


class Issue(Record):
    """One issue in a review, with a location and quoted evidence."""

    id: str
    title: str
    file: str
    line_start: int
    line_end: int
    evidence: str
    severity: Severity
    fix: str
    evidence_status: EvidenceStatus | None = None


class Review(Record):
    """A persona's independent review: an abstract and its issues."""

    id: str
    persona: str
    model: str
    abstract: str
    issues: list[Issue]
    round: int = 1
    derived_from: list[str] = Field(default_factory=list)


class Pick(Record):
    """Which reviews a persona chose to answer, from their anonymised abstracts."""

    persona: str
    review_ids: list[str]
    reasons: dict[str, str] = Field(default_factory=dict)


class AttachedReproducer(Record):
    """A reproducer a responder attached to a point (`--execute`), as the sandbox classified it."""

    classification: Literal["reproduced", "not_reproduced", "broken_check", "timeout"]
    reason: str
    path: str  # verifications/<response id>-<n>-reproducer.py: the code, the command, the output's tail


class ResponsePoint(Record):
    issue_id: str
    stance: ResponseStance
    reason: str
    quote: str = ""  # a counter-quote: the line of the target that shows why (checked like review evidence)
    quote_status: EvidenceStatus | None = None  # None: no quote given
    reproducer: AttachedReproducer | None = None  # None: none attached (always without --execute)


class Response(Record):
    """A persona's point-by-point answer to another persona's review."""

    id: str
    persona: str
    review_id: str
    model: str
    summary: str
    reason_for_pick: str = ""
    points: list[ResponsePoint]


class RebuttalPoint(Record):
    issue_id: str
    stance: RebuttalStance
    reason: str
    revision: str = ""
    quote: str = ""
    quote_status: EvidenceStatus | None = None


class Rebuttal(Record):
    """A review author's answer to one response to its review."""

    id: str
    persona: str
    response_id: str
    review_id: str
    model: str
    points: list[RebuttalPoint]


class FindingItem(Record):
    """One point a persona stands by after the debate (own or adopted)."""

    id: str
    source_issue: str
    adopted: bool
    title: str
    severity: Severity
    note: str


class PersonaFindings(Record):
    """A persona's findings file: what survived, plus what it adopted."""

    id: str
    persona: str
    model: str
    items: list[FindingItem]
    derived_from: list[str] = Field(default_factory=list)


class Critique(Record):
    """Self-review: a reviewer's critique of the producer's latest review."""

    id: str
    persona: str
    review_id: str
    round: int
    model: str
    approve: bool
    points: list[str]


class Scores(Record):
    """Truth (is it correct?) and usefulness (should it be fixed?), kept apart.

    Truth is the calibrated model's probability over `features` (engine/verify/calibration.py), named by
    `calibration`; the judge's yes/no answer is one feature (`judge_p_yes`, read as `judge_mode`).
    """

    truth: float = Field(ge=0, le=1)
    truth_rationale: str
    usefulness: float = Field(ge=0, le=1)
    usefulness_rationale: str
    scored_by: str
    judge_mode: Literal["logprob", "verbal"] | None = None  # None: the judge did not answer
    judge_p_yes: float | None = None
    features: dict[str, float] = Field(default_factory=dict)
    calibration: str = ""


class Stance(Record):
    """A response or rebuttal stance that touched a finding, for the report and trace."""

    artifact: str
    persona: str
    stance: str
    reason: str
    quote: str = ""
    quote_status: EvidenceStatus | None = None
    counted: bool = True  # False: a disagreement without a counter-quote found in the target counts for nothing
    note: str = ""  # e.g. "unsupported disagreement: counter-quote not found in the target"


class FindingMember(Record):
    """One review issue merged into a finding (the lead's claim is the finding's title, evidence and fix)."""

    issue: str
    persona: str
    title: str
    file: str
    line_start: int
    line_end: int
    evidence_status: EvidenceStatus | None = None
    lead: bool = False
    kept: bool = True


class Finding(Record):
    """A compiled finding: a cluster of issues across personas, scored and traced."""

    id: str
    title: str
    severity: Severity
    file: str
    line_start: int
    line_end: int
    evidence: str
    fix: str
    status: Status
    evidence_status: EvidenceStatus
    scores: Scores
    personas: list[str]
    issues: list[str]
    stances: list[Stance] = Field(default_factory=list)
    members: list[FindingMember] = Field(default_factory=list)
    same_place: list[str] = Field(default_factory=list)  # other findings about the same lines, another claim
    derived_from: list[str]
    checks: list[Check] = Field(default_factory=list)  # evidence the verify stage gathered (engine/verify)
    verification: str | None = None  # id of its verifications/<id>-verification.md
    # Why the report does not stand behind it (a model's claim with nothing checkable); None: reported.
    set_aside: str | None = None

    @property
    def rank(self) -> float:
        return self.scores.truth * self.scores.usefulness


class Failure(Record):
    """A call or persona that failed; shown in the report, never silent."""

    stage: str
    persona: str
    error: str


class CostLine(Record):
    key: str
    calls: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    latency_s: float
    prompt_cached: int = 0  # prompt tokens served from the server's prompt cache (where it reports them)
    prompt_eval_s: float = 0.0  # server-side prompt evaluation time, summed over timed_calls
    generation_s: float = 0.0  # server-side generation time, summed over timed_calls
    timed_calls: int = 0  # attempts whose server reported timings


class DebateSummary(Record):
    """The debate's effect on the report, shown in a section of its own (report.json: `debate`)."""

    confirmed: list[str] = Field(default_factory=list)  # another persona agreed or refined, nobody refuted it
    refuted: list[str] = Field(default_factory=list)
    rescued: list[str] = Field(default_factory=list)  # raised by one reviewer, adopted by another
    withdrawn: list[str] = Field(default_factory=list)  # every raiser dropped it after the responses
    minds_changed: int = 0  # rebuttal points that conceded or revised
    dropped_trusted: str = "0/0"  # findings the report trusts (truth >= 0.5) that their raisers dropped
    dropped_untrusted: str = "0/0"  # findings it does not trust that their raisers dropped
    review_calls: int = 0
    review_tokens: int = 0
    debate_calls: int = 0
    debate_tokens: int = 0


NOT_APPLICABLE = "checks not applicable"  # engine/verify/gather.py: a check this target has no use for


def note_label(note: str) -> str:
    """How a report heads one of its run notes: a check that does not apply to the target (analyzers on a
    document) is a note, not a sign the run was degraded."""
    return "Note" if note.startswith(NOT_APPLICABLE) else "Degraded"


class Report(Record):
    """The compiled report; `report.json` is this model dumped."""

    run_id: str
    target: str
    workflow: str
    models: list[str]
    judge: str
    calibration: str = ""  # the truth model in use (engine/verify/calibration.py)
    personas: list[str]
    findings: list[Finding]
    complete: bool
    partial_reason: str | None = None
    degraded: list[str] = Field(default_factory=list)
    failures: list[Failure] = Field(default_factory=list)
    redactions: int = 0
    skipped: int = 0
    cost_by_stage: list[CostLine] = Field(default_factory=list)
    cost_by_model: list[CostLine] = Field(default_factory=list)
    total: CostLine | None = None
    debate: DebateSummary | None = None  # workflows with responses: what the debate changed

    @property
    def reported(self) -> list[Finding]:
        """The findings the report stands behind: all but those set aside (still in `findings`, traceable)."""
        return [f for f in self.findings if not f.set_aside]

    @property
    def aside(self) -> list[Finding]:
        return [f for f in self.findings if f.set_aside]
