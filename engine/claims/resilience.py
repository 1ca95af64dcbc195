"""Rules for a design's recovery and time promises: a recovery point of zero over asynchronous replication, a DNS TTL
longer than the recovery time, a failover trigger that runs where the failure happens, and a step that waits for a
dependency slower than the time the step promises. Pure functions over claims,
like the cross-checks (engine/claims/crosscheck.py)."""

from __future__ import annotations

import re

from engine.claims.model import Claim, Hit, Timed, first_beyond, times

# nothing written may be lost: 'RPO: zero', 'no acknowledged write is ever lost', 'zero data loss'
NO_LOSS = re.compile(r"\b(?:rpo|recovery point(?: objective)?)\b[^.;]{0,30}?\b(?:zero|0|none|nothing)\b|"
                     r"\bzero data loss\b|\bno (?:acknowledged |committed |confirmed )?"
                     r"(?:write|data|update|transaction)s? (?:is|are|will be) (?:ever )?lost\b", re.I)
ASYNC_COPY = re.compile(r"\b(?:replicat\w*|copied|copies|shipped|streamed|mirror\w*)\b[^.;]{0,40}?"
                        r"\basynchronous(?:ly)?\b|"
                        r"\basynchronous(?:ly)?\b[^.;]{0,40}?\b(?:replicat\w*|cop(?:y|ies|ied)|stream\w*|mirror\w*)\b|"
                        r"\basync(?:hronous)? replica\w*\b", re.I)
SYNC_COPY = re.compile(r"(?<!a)synchronous(?:ly)? (?:replicat\w*|commit\w*|cop\w*)|\bquorum (?:write|commit)s?\b|"
                       r"\breplicas?\b[^.;]{0,30}?\bbefore (?:it is |they are |the write is )?acknowledg\w*", re.I)
RTO = re.compile(r"\b(?:rto|recovery time(?: objective)?|fail ?over (?:with)?in|back (?:up|online) within)\b", re.I)
DNS_TTL = re.compile(r"\bdns\b(?:[^.;]|\.(?=\w)){0,60}?\b(?:ttl|time[- ]to[- ]live)\b|"
                     r"\b(?:ttl|time[- ]to[- ]live)\b(?:[^.;]|\.(?=\w)){0,40}?\bdns\b", re.I)
# the thing that decides to fail over, running where the failure is
WATCHER = re.compile(r"\b(?:health[- ]?check\w*|monitor\w*|watchdog|failover (?:controller|script|job))\b[^.;]{0,30}?"
                     r"\b(?:runs?|lives?|is deployed|sits?|is hosted|is placed)\b[^.;]{0,15}?\b(?:in|on|inside|within) "
                     r"the (?:primary|same|main|active)\b", re.I)
ELSEWHERE = re.compile(r"\b(?:other|two|three|several|multiple|each|every) regions?\b|\boutside\b|\bquorum\b|"
                       r"\bagree\b|\bvot\w+\b", re.I)
FAILOVER = re.compile(r"\b(fail ?over|promot\w*|standby|secondary region|take[s]? over)\b", re.I)


def after_each(claims: list[Claim], pattern: re.Pattern[str]) -> list[Timed]:
    """For each place `pattern` finds, the first time quantity after it in its sentence ('RTO is 1 hour and the RPO
    is 5 minutes': 1 hour for the RTO)."""
    return [(c, q) for c in claims for m in pattern.finditer(c.text)
            for q in [next((q for q in c.quantities if q.dimension == "time" and q.start >= m.end()), None)] if q]


def recovery_contradictions(claims: list[Claim]) -> list[Hit]:
    """A recovery point of zero promised over replication that is asynchronous (a failover loses what was not yet
    copied), and a DNS TTL longer than the recovery time promised (resolvers keep sending clients to the failed
    side until it expires)."""
    hits: list[Hit] = []
    promise = next((c for c in claims if NO_LOSS.search(c.text)), None)
    copy = next((c for c in claims if ASYNC_COPY.search(c.text)), None)
    if promise and copy and not any(SYNC_COPY.search(c.text) for c in claims):
        hits.append(Hit.of_pair(promise, copy, "limit-contradiction",
                                title=f"No data loss ('{promise.section}') contradicted by asynchronous replication "
                                      f"('{copy.section}')",
                                detail=f"line {promise.line} promises that nothing written is lost; line {copy.line} "
                                       "copies the data asynchronously, so a failover loses every write not yet copied",
                                fix="Replicate synchronously (or with a quorum) the writes that must not be lost, or "
                                    "state the recovery point the replication lag allows."))
    if found := first_beyond(after_each(claims, RTO), times(claims, DNS_TTL)):
        (a, qa), (b, qb) = found
        hits.append(Hit.of_pair(a, b, "limit-contradiction", evidence=b.text,
                                title=f"Recovery in {qa.text} ('{a.section}') contradicted by a DNS TTL of {qb.text} "
                                      f"('{b.section}')",
                                detail=f"resolvers cache the old DNS answer for up to {qb.text}, so clients keep going "
                                       f"to the failed side long after the {qa.text} the recovery promises",
                                fix=f"Set the failover record's TTL well below {qa.text} (say 60 seconds), or fail "
                                    "over behind an address that does not change (an anycast or global load "
                                    "balancer)."))
    return hits


def trigger_in_failing_region(claims: list[Claim]) -> list[Hit]:
    """The check that decides to fail over runs in the place it watches ('a health checker runs in the primary
    region'): the outage that needs the failover takes the checker down with it, and nothing fails over."""
    if not any(FAILOVER.search(c.text) or FAILOVER.search(c.section) for c in claims):
        return []
    for c in claims:
        if (m := WATCHER.search(c.text)) and not ELSEWHERE.search(c.text):
            return [Hit.of(c, "dependency-without-failure",
                           title=f"The failover trigger runs where the failure happens: '{m.group(0)}' goes down "
                                 f"with it ('{c.section}')",
                           detail="an outage of the primary takes the checker down too, so nothing promotes the "
                                  "standby; the trigger is a single point of failure",
                           severity="high",
                           fix="Run the health checks from outside the primary (a third region or several "
                               "regions voting), and document a manual failover runbook.")]
    return []


ANY = re.compile("")  # every claim
NEGATED = re.compile(r"\b(?:no|never|not|without)\b[^.;]{0,12}$", re.I)
# a dependency's own latency ('the vendor's documented p95 response time is 4 seconds') ...
DEP_LATENCY = re.compile(r"\b(?:vendor|provider|third[- ]party|external|partner|upstream)(?:['’]s)?\b[^.;]{0,50}?"
                         r"\b(?:p\d{2}|response time|latency)\b", re.I)
# ... in a step that waits for it
WAITS = re.compile(r"\bwaits? for (?:the |its |their )?(?:answer|response|reply|result)\b|\bsynchronous(?:ly)? "
                   r"(?:call|request)s?\b|\bblocks? (?:until|on)\b", re.I)


def waits_beyond_budget(claims: list[Claim]) -> list[Hit]:
    """A promise of N ('a decision within 2 seconds') while the step waits for a dependency whose own stated
    latency is M > N ('the vendor's p95 response time is 4 seconds'): the promise cannot hold for the slow part."""
    if not any((m := WAITS.search(c.text)) and not NEGATED.search(c.text[:m.start()]) for c in claims):
        return []
    if not (found := first_beyond(times(claims, ANY, "upper"), times(claims, DEP_LATENCY, "value"))):
        return []
    (a, qa), (b, qb) = found
    return [Hit.of_pair(a, b, "limit-contradiction",
                        title=f"Within {qa.text} ('{a.section}') contradicted by a dependency that takes {qb.text} "
                              f"('{b.section}')",
                        detail=f"line {a.line} promises {qa.text}; the step waits for a dependency whose own latency "
                               f"is {qb.text} (line {b.line}), so the promise is broken whenever it is that slow",
                        fix=f"Do not wait for it in the step that promises {qa.text} (hold the item as pending and "
                            "finish asynchronously), or change the promise to what the dependency allows.")]


# a cached copy that lives for a time ('entries expire 10 minutes after they were stored', 'a TTL of 5 minutes')
CACHED_FOR = re.compile(r"\b(?:entries|entry|cached|cache|responses?)\b[^.;]{0,40}?\b(?:expire\w*|ttl|kept for|"
                        r"live for|valid for)\b|\b(?:expire\w*|ttl)\b[^.;]{0,40}?\b(?:entries|entry|cache)\b", re.I)
# ... with nothing that drops it when the data changes
INVALIDATED = re.compile(r"\b(invalidat\w*|purg\w*|evict\w* (?:on|when)|bust\w*|"
                         r"on (?:every )?(?:change|update|write))\b", re.I)
NOT_DATA = re.compile(r"\b(sessions?|tokens?|logins?|auth\w*|cookies?|locks?)\b", re.I)  # caches of something else
FRESH = re.compile(r"\b(?:visible|shown|reflected|seen|available)\b", re.I)


def cache_outlives_freshness(claims: list[Claim]) -> list[Hit]:
    """A change promised visible within N while a cache keeps its copies for M > N and nothing drops a copy when the
    data changes: for up to M, readers get the old value."""
    if any(INVALIDATED.search(c.text) for c in claims):
        return []
    kept = [(c, q) for c, q in times(claims, CACHED_FOR, "value") if not NOT_DATA.search(c.text)]
    if not (found := first_beyond(times(claims, FRESH, "upper"), kept)):
        return []
    (a, qa), (b, qb) = found
    return [Hit.of_pair(a, b, "limit-contradiction",
                        title=f"Visible within {qa.text} ('{a.section}') contradicted by a cache kept {qb.text} "
                              f"('{b.section}')",
                        detail=f"a cached copy lives {qb.text} and nothing drops it when the data changes, so a change "
                               f"can take {qb.text} to be seen, not {qa.text}",
                        fix=f"Invalidate the cached entries when the data changes, or keep them no longer than "
                            f"{qa.text}.")]
