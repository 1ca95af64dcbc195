"""Graph state and fan-out task payloads. Lists merge with `operator.add` reducers."""

from __future__ import annotations

import operator
from typing import Annotated, NotRequired, TypedDict

from engine.claims.model import Claim, Hit
from engine.models import (
    Critique,
    Failure,
    Persona,
    PersonaFindings,
    Pick,
    Rebuttal,
    Report,
    Response,
    Review,
)
from engine.verify.checks import Verification


class RunState(TypedDict, total=False):
    """What the stages accumulate. Fan-out workers return one-item lists."""

    personas: list[Persona]
    reviews: Annotated[list[Review], operator.add]
    picks: Annotated[list[Pick], operator.add]
    assignments: dict[str, list[str]]
    responses: Annotated[list[Response], operator.add]
    rebuttals: Annotated[list[Rebuttal], operator.add]
    findings: Annotated[list[PersonaFindings], operator.add]
    critiques: Annotated[list[Critique], operator.add]
    verifications: Annotated[list[Verification], operator.add]  # the verify stage's checks (compile reads them)
    same_claim: dict[str, bool]  # unsure issue pairs settled by the judge (pair key -> same claim), from verify
    failures: Annotated[list[Failure], operator.add]
    notes: Annotated[list[str], operator.add]
    claims: list[Claim]  # a document target's claims (set once, by the claims stage)
    claim_hits: list[Hit]  # their mechanical (and model-confirmed) cross-checks
    report: Report | None


class ReviewTask(TypedDict):
    """A review sees the target (from the runtime) and its own persona, nothing else."""

    persona: Persona
    index: int
    claims: NotRequired[str]  # a document's claims, one compact line each inside nonce markers (from the target only)


class PickTask(TypedDict):
    persona: Persona
    index: int
    labels: dict[str, str]  # label -> review id (anonymised, shuffled for this reader)
    abstracts: dict[str, str]  # label -> abstract
    uncertain: dict[str, list[str]]  # label -> titles of that review's uncertain issues (shown first)


class ResponseTask(TypedDict):
    persona: Persona
    index: int
    review: Review
    label: str
    reason: str
    uncertain: dict[str, list[str]]  # issue id -> why the debate should check it


class RebuttalTask(TypedDict):
    persona: Persona
    index: int
    review: Review
    response: Response


class FindingsTask(TypedDict):
    persona: Persona
    index: int
    review: Review
    responses_to_me: list[Response]
    my_rebuttals: list[Rebuttal]
    adopted: list[tuple[str, str]]  # (issue id, title) of others' issues I agreed with or refined
    others: list[Review]


def latest_reviews(reviews: list[Review]) -> dict[str, Review]:
    """The last round of each persona's review, by persona slug."""
    out: dict[str, Review] = {}
    for r in sorted(reviews, key=lambda r: r.round):
        out[r.persona] = r
    return out


def failed_personas(failures: list[Failure]) -> set[str]:
    """Personas dropped from later stages because their calls kept failing."""
    return {f.persona for f in failures}
