"""Small LLM-facing output schemas, sent as JSON schema for constrained decoding.

Kept flat and short: small local models follow small schemas. Each maps to a
richer record in `engine.models` in the stage that asked for it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Sev = Literal["low", "medium", "high", "critical"]


class Out(BaseModel):
    model_config = ConfigDict(extra="ignore")


class PersonaOut(Out):
    name: str = Field(description="Short title, e.g. 'Payments Security Auditor'")
    role: str = Field(description="One line: who this reviewer is")
    perspective: str = Field(description="One or two sentences: what they care about and why")
    focus: list[str] = Field(description="Three to five concrete focus areas in this target")


class PersonasOut(Out):
    personas: list[PersonaOut]


class IssueOut(Out):
    title: str
    file: str = Field(description="Path exactly as in the FILE header")
    line_start: int
    line_end: int
    evidence: str = Field(description="Exact text copied from those lines")
    severity: Sev
    fix: str


class ReviewOut(Out):
    abstract: str = Field(description="Two or three sentences summarising the review")
    issues: list[IssueOut]


class PickItem(Out):
    label: str = Field(description="The letter of the abstract, e.g. 'B'")
    reason: str


class PickOut(Out):
    picks: list[PickItem]


class PointOut(Out):
    issue: int = Field(description="The issue number, e.g. 2 for #2")
    stance: Literal["agree", "disagree", "refine"]
    reason: str


class ResponseOut(Out):
    summary: str
    points: list[PointOut]


class RebuttalPointOut(Out):
    issue: int
    stance: Literal["concede", "maintain", "revise"]
    reason: str
    revision: str = ""


class RebuttalOut(Out):
    points: list[RebuttalPointOut]


class KeepOut(Out):
    source: str = Field(description="The label of the point, e.g. 'own-2' or 'adopt-1'")
    title: str
    severity: Sev
    note: str = Field(description="One sentence: why it stands")


class FindingsOut(Out):
    keep: list[KeepOut]


class ScoreOut(Out):
    finding: str = Field(description="The label, e.g. 'F3'")
    truth: int = Field(ge=0, le=10, description="0-10: is the claim correct?")
    truth_reason: str
    usefulness: int = Field(ge=0, le=10, description="0-10: should it be fixed, given impact and effort?")
    usefulness_reason: str


class ScoresOut(Out):
    scores: list[ScoreOut]


class CritiqueOut(Out):
    approve: bool
    points: list[str]
