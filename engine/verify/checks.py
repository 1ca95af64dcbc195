"""The record every check produces, whatever its kind: one outcome and the detail that decided it."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Outcome = Literal["supports", "refutes", "inconclusive"]


class Check(BaseModel):
    """One piece of evidence about a claim, gathered by the engine (never a model's opinion alone).

    `kind` names the checker: `quote`, `location`, `analyzer:ruff`, `analyzer:bandit`, `analyzer:oxlint`, `reproducer`,
    `claims`, `judge`, ... `data` keeps the checker's structured result (rule id, exit code, paths).
    """

    model_config = ConfigDict(extra="forbid")
    kind: str
    outcome: Outcome
    detail: str
    data: dict[str, Any] = Field(default_factory=dict)


# a reproducer's classification -> the check's outcome (a passing test refutes only what it tested: weakly)
REPRODUCER_OUTCOMES = {"reproduced": "supports", "not_reproduced": "refutes", "broken_check": "inconclusive",
                       "timeout": "inconclusive"}


class Subject(BaseModel):
    """What a checker is asked about: one claim at one place in the target."""

    model_config = ConfigDict(extra="forbid")
    id: str  # finding or cluster id (F-001 / C-003)
    title: str
    file: str
    line_start: int
    line_end: int
    evidence: str = ""
    fix: str = ""
    severity: str = "medium"
    issues: list[str] = Field(default_factory=list)  # review issue ids the finding merges (as compile clusters)


class Verification(BaseModel):
    """All checks gathered for one finding; written as `verifications/<id>-verification.md`."""

    model_config = ConfigDict(extra="forbid")
    subject: Subject
    checks: list[Check] = Field(default_factory=list)
    not_applicable: list[str] = Field(default_factory=list)  # checks that did not apply, and why
