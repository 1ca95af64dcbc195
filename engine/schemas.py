"""Small LLM-facing output schemas, sent as JSON schema for constrained decoding.

Kept flat, short and bounded (maxLength / maxItems): with constrained decoding the bounds
become part of the grammar, so a small local model cannot ramble past its token limit. Reasons
come before the labels they justify, so the model writes its reason first. Each maps to a richer
record in `engine.models` in the stage that asked for it.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Sev = Literal["low", "medium", "high", "critical"]
Useful = Literal["none", "low", "medium", "high", "critical"]
USEFUL_SCORE: dict[str, float] = {"none": 0.05, "low": 0.25, "medium": 0.5, "high": 0.75, "critical": 0.95}


Str3 = Annotated[str, StringConstraints(max_length=3)]
Str5 = Annotated[str, StringConstraints(max_length=5)]
Str12 = Annotated[str, StringConstraints(max_length=12)]
Str60 = Annotated[str, StringConstraints(max_length=60)]
Str120 = Annotated[str, StringConstraints(max_length=120)]
Str160 = Annotated[str, StringConstraints(max_length=160)]
Str200 = Annotated[str, StringConstraints(max_length=200)]
Str300 = Annotated[str, StringConstraints(max_length=300)]
Str400 = Annotated[str, StringConstraints(max_length=400)]
Str600 = Annotated[str, StringConstraints(max_length=600)]
Str4000 = Annotated[str, StringConstraints(max_length=4000)]


class Out(BaseModel):
    model_config = ConfigDict(extra="ignore")


class PersonaOut(Out):
    name: Str60 = Field(description="Short title, e.g. 'Payments Security Auditor'")
    role: Str160 = Field(description="One line: who this reviewer is")
    perspective: Str300 = Field(description="One or two sentences: what they care about")
    focus: list[Str60] = Field(max_length=5, description="Three to five concrete focus areas")


class PersonasOut(Out):
    personas: list[PersonaOut] = Field(max_length=256)


class IssueOut(Out):
    title: Str120
    file: Str200 = Field(description="Path exactly as in the FILE header")
    line_start: int
    line_end: int
    evidence: Str400 = Field(description="The exact code or text copied from those lines")
    severity: Sev
    fix: Str300


class ReviewOut(Out):
    abstract: Str600 = Field(description="Two or three sentences summarising the review")
    issues: list[IssueOut] = Field(max_length=5)


class PickItem(Out):
    label: Str3 = Field(description="The letter of the abstract, e.g. 'B'")
    reason: Str200


class PickOut(Out):
    picks: list[PickItem] = Field(max_length=64)


class PointOut(Out):
    issue: int = Field(description="The issue number, e.g. 2 for #2")
    reason: Str300
    quote: Str200 = Field("", description="One line copied from the target that shows why (needed to disagree)")
    stance: Literal["agree", "disagree", "refine"]


class ResponseOut(Out):
    points: list[PointOut] = Field(max_length=10)
    summary: Str300


class PointExecOut(PointOut):
    reproducer: Str4000 = Field("", description="Optional: a short test that imports the target and FAILS with an "
                                                "assertion if the issue is real; empty when reading settles it")


class ResponseExecOut(Out):
    """A response under `--execute`: a point may carry a reproducer the engine runs in the sandbox."""

    points: list[PointExecOut] = Field(max_length=10)
    summary: Str300


class RebuttalPointOut(Out):
    issue: int
    reason: Str300
    quote: Str200 = Field("", description="One line copied from the target that shows why")
    stance: Literal["concede", "maintain", "revise"]
    revision: Str300 = ""


class RebuttalOut(Out):
    points: list[RebuttalPointOut] = Field(max_length=10)


class KeepOut(Out):
    source: Str12 = Field(description="The label of the point, e.g. 'own-2' or 'adopt-1'")
    title: Str120
    severity: Sev
    note: Str200 = Field(description="One sentence: why it stands")


class FindingsOut(Out):
    keep: list[KeepOut] = Field(max_length=20)


class UsefulOut(Out):
    finding: Str5 = Field(description="The label, e.g. 'F3'")
    reason: Str200
    usefulness: Useful = Field(description="Should it be fixed, weighing impact against effort?")


class UsefulnessOut(Out):
    """Usefulness only: truth is never asked here (it is the calibrated yes/no judge's and the checks')."""

    items: list[UsefulOut] = Field(max_length=6)


class SameClaimOut(Out):
    reason: Str200
    same: bool = Field(description="Do both issues claim the same defect?")


class CritiqueOut(Out):
    points: list[Str200] = Field(max_length=6)
    approve: bool


class ReproducerOut(Out):
    expectation: Str200 = Field(description="One sentence: what the code should do, which the defect breaks")
    code: Str4000 = Field(description="The whole reproducer: a short test that FAILS with an assertion on the "
                                      "defective code and passes once it is fixed")


class ClaimOut(Out):
    line: int = Field(description="The line number of the statement, as shown")
    kind: Literal["requirement", "dependency", "assumption", "decision", "owner", "limit"]
    text: Str200 = Field(description="The statement, copied from that line")


class ClaimsOut(Out):
    claims: list[ClaimOut] = Field(max_length=8)


class ContradictionOut(Out):
    reason: Str200 = Field(description="One sentence: why they do or do not contradict")
    contradict: bool
