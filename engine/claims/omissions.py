"""Rules for what a design leaves out: non-functional requirements that name no load, uptime or data safety, and
a choice whose only stated reason is the team's convenience. Pure functions over claims, like the cross-checks."""

from __future__ import annotations

import re

from engine.claims.extract import ALTERNATIVES_SECTION, CONVENIENCE, NFR_SECTION, POINTS_BACK
from engine.claims.model import Claim, Hit

# what a non-functional section must bound: the load and sizes, the uptime, the data's
# safety; one of them named is enough to stay quiet (the rule is for sections about other things entirely)
CAPACITY = re.compile(r"\b(capacity|scal\w+|throughput|load|quotas?|concurren\w+|peak|volume|size limits?|"
                      r"storage limits?|per (?:second|minute|hour|user|account|tenant|organi[sz]ation)|"
                      r"requests? (?:per|a) \w+|rps|qps)\b", re.I)
AVAILABILITY = re.compile(r"\b(availab\w+|uptime|SLA|SLO|nines|downtime|replicas?|fail-?over|redundan\w+|"
                          r"99(?:\.\d+)? ?%)", re.I)
DURABILITY = re.compile(r"\b(durab\w+|backups?|data loss|lose|lost|RPO|RTO|replicat\w+|restores?)\b", re.I)
# a choice weighed: an alternative named, a trade-off stated (not merely a reason: 'because' does not weigh)
WEIGHED = re.compile(r"\b(instead of|rather than|alternatives?|considered|trade-?offs?|compared|versus|vs\.?|"
                     r"rejected|downsides?|at the cost of|cons)\b", re.I)


def nfr_without_limits(claims: list[Claim]) -> list[Hit]:
    """A non-functional requirements section naming no load or size, no availability and no durability target
    (one hit, at the section's first claim)."""
    hits: list[Hit] = []
    for section in dict.fromkeys(c.section for c in claims if NFR_SECTION.search(c.section.split(" > ")[-1])):
        inside = [c for c in claims if c.section == section]
        if any(rx.search(c.text) for c in inside for rx in (CAPACITY, AVAILABILITY, DURABILITY)):
            continue
        first = inside[0]
        hits.append(Hit.of(first, "missing-requirement",
                           title=f"Non-functional requirements set no capacity, availability or durability target "
                                 f"('{section}')",
                           detail="the section bounds other things but not the load and data sizes the system must "
                                  "carry, how available it must be, or how much data it may lose",
                           severity="medium"))
    return hits


def convenience_decision(claims: list[Claim]) -> list[Hit]:
    """A choice whose only stated reason is convenience ('keeps it simple', 'lets us ship in one sprint', 'the
    existing tooling') in a section that weighs no alternative, in a document with no alternatives section."""
    if any(ALTERNATIVES_SECTION.search(c.section.split(" > ")[-1]) for c in claims):
        return []
    hits: list[Hit] = []
    at = {c.id: i for i, c in enumerate(claims)}
    for c in sorted(claims, key=lambda o: o.source == "model"):  # the document's own sentences before paraphrases
        i = at[c.id]
        m = CONVENIENCE.search(c.text)
        if not m or any(h.file == c.file and c.line in h.lines for h in hits) \
                or any(o.section == c.section and WEIGHED.search(o.text) for o in claims):
            continue
        # the statement before it as written (a model's paraphrase of it may sit between them)
        prev = next((o for o in reversed(claims[:i]) if o.source != "model"), None)
        choice = prev if prev is not None and POINTS_BACK.match(c.text) and prev.section == c.section \
            and prev.file == c.file and c.line - prev.line <= 2 else c
        ids = list(dict.fromkeys([choice.id, c.id]))
        hits.append(Hit(rule="decision-without-alternative", claims=ids, file=c.file,
                        lines=list(dict.fromkeys([choice.line, c.line])),
                        title=f"Decision justified only by convenience: '{m.group(0)}' ('{c.section}')",
                        detail=f"the only reason given is the team's convenience ('{m.group(0)}'); no alternative is "
                               "weighed and nothing says what the choice costs the system",
                        evidence=choice.text, severity="medium"))
    return hits
