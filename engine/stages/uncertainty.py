"""Which review issues the debate should spend its calls on (pure).

Independent reviews first; then responses go to the issues that are uncertain: raised by one reviewer only
(no other review makes the same claim at the same place), or whose quote was not found in the target.
Issues that two reviewers raised independently with a quote the engine found are settled by that vote.
"""

from __future__ import annotations

from engine.models import Review
from engine.stages.cluster import build_members, pair_verdicts

ONE_RAISER = "raised by one reviewer"
NOT_FOUND = "quote not found in the target"
HIGH_ALONE = "high severity on one reviewer's word"


def uncertain_issues(reviews: list[Review]) -> dict[str, list[str]]:
    """Review issue id -> why it is uncertain (issues absent from the result are settled)."""
    members = build_members(reviews, None)
    corroborated = {k for (i, j), v in pair_verdicts(members).items() if v == "same" for k in (i, j)}
    out: dict[str, list[str]] = {}
    for n, m in enumerate(members):
        why = []
        if n not in corroborated:
            why.append(HIGH_ALONE if m.severity in ("high", "critical") else ONE_RAISER)
        if m.issue.evidence_status == "not_found":
            why.append(NOT_FOUND)
        if why:
            out[m.issue.id] = why
    return out
