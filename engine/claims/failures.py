"""Rules for what goes wrong between two steps of a design: a retry after a step that must not happen twice, a write
to two stores that nothing keeps in step, data that expires before the window that reads it, work recorded as
done before it is done, and calls to many receivers made one after another in the path of the work. Pure functions
over claims, like the cross-checks (engine/claims/crosscheck.py)."""

from __future__ import annotations

import re

from engine.claims.model import Claim, Hit, first_unguarded
from engine.claims.quantities import Quantity
from engine.claims.words import stems

# a step with an effect outside the system that a second attempt repeats: money moved, a message sent
SIDE_EFFECT = re.compile(r"\b(charg(?:e|es|ed|ing)|authori[sz]ation|authori[sz]e[sd]?|captur(?:e|es|ed)|debit\w*|"
                         r"payments?|paid|transfers?|transferred|payouts?|(?:e-?mails?|messages?|sms|notifications?|"
                         r"invoices?) (?:is |are |was |were )?sent)\b", re.I)
RETRY = re.compile(r"\b(try again|tries again|retr(?:y|ies|ied)|resubmit\w*|re-?send\w*|re-?sent|submits? again|"
                   r"taps? again|clicks? again|"
                   r"(?:sends?|posts?|uploads?|submits?|starts?|repeats?|calls?) (?:[\w`/-]+ ){0,4}?again)\b", re.I)
# a step that makes a new record each time it runs: a repeat leaves two ('every row adds a new contact')
CREATES = re.compile(r"\b(?:creat(?:e|es|ed)|adds?|added|inserts?|inserted|appends?)\b (?:[\w`-]+ ){0,2}?"
                     r"(?:new|another) [\w-]+", re.I)
NEIGHBOURS = 3  # lines: a sentence this close in the same section says what the retried step does
FAILS = re.compile(r"\b(fails?|failed|failure|errors?|times? out|timed out|timeouts?|unavailable|crash\w*)\b", re.I)
# what makes a second attempt safe, or undoes the first
SAFE_REPEAT = re.compile(r"\b(idempoten\w*|dedup\w*|de-duplicat\w*|exactly[- ]once|void\w*|revers\w*|compensat\w*|"
                         r"roll(?:s|ed)? back|rollback|request ids?|unique (?:keys?|ids?))\b", re.I)
# one step writing the same data to two places ('writes every update to both stores', 'dual-write')
DUAL_WRITE = re.compile(r"\b(?:writes?|written|publish\w*|stor(?:e|es|ed)|sav(?:e|es|ed)|send\w*|sent|insert\w*|"
                        r"updat(?:e|es|ed))\b[^.;]{0,60}?\b(?:to|in|into) both\b|\bdual[- ]writ\w+", re.I)
# what keeps two stores in step: one transaction, an outbox or change feed, a reconciliation
IN_STEP = re.compile(r"\b(transactional\w*|(?:in|within) (?:one|a|the same|a single) (?:database )?transaction|"
                     r"atomic\w*|outbox|two[- ]phase|2pc|change data capture|cdc|change feed|"
                     r"reconcil\w*|idempoten\w*|consisten\w*|source of truth)\b", re.I)
# data that goes away after a time ('expire 24 hours after their last write', 'kept for 7 days', 'TTL of 1 hour')
EXPIRES = re.compile(r"\b(expir\w*|TTL|time[- ]to[- ]live|kept for|retained for|retention|deleted after|"
                     r"purged after|evicted after)\b", re.I)
# a span of past data a reader needs: 'the 7-day spend', 'over the last 30 days', 'a 90-day history'
WINDOW_AFTER = re.compile(r"^\s*(?:window|spend|sums?|counts?|totals?|averages?|history|lookback|trend|volume|"
                          r"aggregates?|rolling|moving|activity)\b", re.I)
WINDOW_BEFORE = re.compile(r"\b(?:last|past|previous|trailing|rolling|over|across|of)\s*$", re.I)
READS = re.compile(r"\b(reads?|read from|looks? up|queries|queried|fetch\w*|loads?|uses?|computed? from)\b", re.I)


# work recorded as done ('acknowledges each message', 'marked as synced') ...
DONE_MARK = re.compile(r"\b(?:acknowledg\w*|acks?|acked|commit(?:s|ted)? (?:the |its )?offsets?|"
                       r"delet\w* (?:the |its |each )(?:job|message|task)s?(?: rows?)?|"
                       r"mark(?:s|ed)?\b[^.;]{0,40}?\bas (?:done|synced|sent|complete\w*|processed|delivered|paid|"
                       r"handled|uploaded|indexed|imported))\b", re.I)
# ... at the moment the work is picked up or begins, not when it has succeeded
EARLY = re.compile(r"\b(?:as soon as|when|once|on|upon)\b[^.;]{0,40}?\b(?:reads?|received|receives|arrives?|claim\w*|"
                   r"starts?|started|begins?|picked up|fetched|dequeued|pulled|consumed)\b|"
                   r"\bbefore\b[^.;]{0,30}?\b(?:process\w*|writ\w*|written|index\w*|stor\w*|upload\w*|handl\w*|"
                   r"apply\w*|applied|sen[dt]\w*)\b", re.I)
AFTER_SUCCESS = re.compile(r"\bonly after\b|\b(?:after|once)\b[^.;]{0,50}?\b(?:succe\w*|success|confirm\w*|"
                           r"(?:is|are|has been|have been) (?:written|stored|processed|uploaded|indexed|committed))\b",
                           re.I)


def done_before_work(claims: list[Claim]) -> list[Hit]:
    """Work recorded as done when it is picked up or starts ('acknowledges each message as soon as it has read
    it', 'marked as synced when the upload starts'): a crash or a failed step after the mark loses the work, and
    nothing tries it again (at most once). One hit per sentence, at most two."""
    hits = []
    for c in claims:
        if not (mark := DONE_MARK.search(c.text)) or not EARLY.search(c.text) or AFTER_SUCCESS.search(c.text):
            continue
        what = " ".join(mark.group(0).split()[:6])
        hits.append(Hit.of(c, "done-before-work",
                           title=f"Marked done before the work is done: '{what}' early, so a crash in between loses "
                                 f"it ('{c.section}')",
                           detail="the work is recorded as done when it is picked up or starts; when the process "
                                  "crashes or the step fails after that, the record says done and nothing retries it",
                           severity="high"))
    return hits[:2]


def unsafe_retry(claims: list[Claim]) -> list[Hit]:
    """A failure after a step with an outside effect (a charge, a message, a new record) handled by trying again,
    where nothing in the document makes the repeat safe (an idempotency key, deduplication) or undoes the first (a
    void). The effect is in the retry's sentence or one a few lines away in its section ('In create mode every row
    adds a new contact')."""
    if any(SAFE_REPEAT.search(c.text) for c in claims):
        return []

    def effect_near(c: Claim) -> tuple[Claim, re.Match[str]] | None:
        """The step the retry repeats: in its own sentence, or a neighbour about the same thing (a shared word:
        'sends the same file again' ... 'every row of an import adds a new contact' share 'import')."""
        for n in sorted(claims, key=lambda o: (o.id != c.id, abs(o.line - c.line))):
            if n.file != c.file or n.section != c.section or abs(n.line - c.line) > NEIGHBOURS:
                continue
            if n.id != c.id and not stems(n.text) & stems(c.text):
                continue
            if m := SIDE_EFFECT.search(n.text) or CREATES.search(n.text):
                return n, m
        return None

    hits = []
    for c in claims:
        if not (RETRY.search(c.text) and FAILS.search(c.text)) or not (near := effect_near(c)):
            continue
        where, effect = near
        step = effect.group(0).lower()
        record = effect.re is CREATES
        hits.append(Hit(rule="unsafe-retry", claims=list(dict.fromkeys([c.id, where.id])), file=c.file,
                        lines=list(dict.fromkeys([c.line, where.line])),
                        title=(f"Retry repeats '{step}': duplicates, no idempotency key ('{c.section}')" if record else
                               f"Retry after the {step} repeats it: no idempotency key, no void ('{c.section}')"),
                        detail=f"the failure is handled by trying again, and the step {step} again; nothing in the "
                               "document makes a second attempt idempotent or removes what the first one made, so "
                               "every record is duplicated when the first attempt had succeeded" if record else
                               f"the failure is handled by trying again after the {step}, and "
                               "nothing in the document makes a second attempt idempotent or undoes the first, so "
                               "the customer can be charged (or messaged) twice",
                        evidence=c.text, severity="high"))
    return hits[:3]


def dual_write(claims: list[Claim]) -> list[Hit]:
    """One step writing the same data to two stores, in a document that names nothing that keeps them in step (a
    transaction, an outbox, a reconciliation): a failure between the two writes leaves them apart for good."""
    # the first names it; a later one is mostly the same design again (a rollout's dual-write)
    if not (found := first_unguarded(claims, DUAL_WRITE, IN_STEP)):
        return []
    c, m = found
    return [Hit.of(c, "dual-write",
                   title=f"Dual write with no transaction or reconciliation: '{m.group(0)}' ('{c.section}')",
                   detail="when one of the two writes fails or the writer crashes between them, the stores diverge "
                          "and nothing in the document notices or repairs it",
                   severity="high")]


def windows(claim: Claim) -> list[Quantity]:
    """The time quantities of a sentence used as a span of past data ('the 7-day spend', 'over the last 30 days')."""
    out = []
    for q in claim.quantities:
        after, before = claim.text[q.start + len(q.text):], claim.text[:q.start]
        if q.dimension == "time" and (WINDOW_AFTER.match(after) or WINDOW_BEFORE.search(before)):
            out.append(q)
    return out


def store_words(text: str) -> set[str]:
    """The store a sentence names: the one or two words before 'store', 'cache', 'table', 'bucket', 'index'."""
    return {m.group(1).lower() for m in re.finditer(r"\b([\w-]+) (?:store|cache|table|bucket|index|database)\b",
                                                    text, re.I)} - {"the", "a", "an", "this", "that", "both", "each"}


def expiry_before_window(claims: list[Claim]) -> list[Hit]:
    """Data that expires after D (a TTL, a retention) in a store another sentence reads an N-day window from, with
    N longer than D: the window is never there in full."""
    hits = []
    readers = [(b, store_words(b.text)) for b in claims if READS.search(b.text)]  # once, not per expiring claim
    for a in claims:
        if not EXPIRES.search(a.text):
            continue
        kept = [q for q in a.quantities if q.dimension == "time" and q.bound != "lower"]
        where = store_words(a.text)
        if not kept or not where:
            continue
        for b, stores in readers:
            if b.id == a.id or not where & stores:
                continue
            longer = [w for w in windows(b) if w.base > max(q.base for q in kept)]
            if not longer:
                continue
            ttl, span = kept[0], longer[0]
            hits.append(Hit(rule="limit-contradiction", claims=[a.id, b.id], file=a.file, lines=[a.line, b.line],
                            title=f"Data kept {ttl.text} but read as a {span.text} window ('{a.section}')",
                            detail=f"line {a.line} lets the data expire after {ttl.text}; line {b.line} reads a "
                                   f"{span.text} span from the same store, so anything idle longer than {ttl.text} "
                                   "is missing from it (a contradiction between the two)",
                            evidence=a.text, severity="high"))
    return hits[:3]


# calls to many receivers made one at a time in the path of the work ('calls every callback ..., one after another')
SERIAL = re.compile(r"\b(?:calls?|sends?|posts?|notif(?:y|ies)|invokes?|requests?)\b[^.;]{0,80}?\b(?:every|each|all)\b"
                    r"[^.;]{0,80}?\b(?:one after (?:another|the other)|one by one|sequentially|in turn|in sequence)\b",
                    re.I)
# what takes the calls out of that path or bounds them
DETACHED = re.compile(r"\b(queue[ds]?|queuing|asynchronous\w*|in the background|in parallel|concurrent\w*|"
                      r"worker pool|fire[- ]and[- ]forget|time ?outs? of|timeout)\b", re.I)


# a staged rollout goes one region after another on purpose
STAGED = re.compile(r"\b(deploy\w*|roll(?:s|ed)? out|rollouts?|releases?)\b", re.I)


def serial_calls(claims: list[Claim]) -> list[Hit]:
    """Calls to every receiver (callbacks, webhooks, subscribers) made one after another, waiting for each, in the
    step that does the main work, with no queue or timeout in that sentence: one slow or failing receiver stalls
    the work for everyone behind it."""
    for c in claims:
        if (m := SERIAL.search(c.text)) and not DETACHED.search(c.text) and not STAGED.search(c.text):
            return [Hit.of(c, "serial-calls",
                           title=f"Calls made one after another in the work's path: one slow or failing receiver "
                                 f"stalls everything behind it ('{c.section}')",
                           detail=f"'{' '.join(m.group(0).split()[-8:])}': each call waits for the one before it, "
                                  "so a receiver that is slow, down or retried holds up every other receiver and the "
                                  "work itself",
                           severity="high")]
    return []


# every request for an expired or missing entry going to the source at once ('when a popular entry expires, every
# request for it is forwarded until the first answer has been stored')
STAMPEDE = re.compile(r"\b(?:expires?|expired|miss(?:es)?|evicted)\b[^.;]{0,40}?\b(?:every|all|each) requests?\b"
                      r"[^.;]{0,40}?\b(?:forwarded|goes|go|sent|passed|reach\w*)\b", re.I)
COALESCED = re.compile(r"\b(coalesc\w*|single[- ]flight|collaps\w*|lock\w*|stale[- ]while[- ]revalidate|"
                       r"one request (?:at a time|per key)|refresh\w* (?:ahead|early|in the background))\b", re.I)


CACHED = re.compile(r"\b(cache\w*|entry|entries|keys?)\b", re.I)


def cache_stampede(claims: list[Claim]) -> list[Hit]:
    """Every request for an entry that has just expired goes to the source until one answer is stored, in a document
    where nothing coalesces them: a popular entry's expiry sends a burst to the service the cache protects."""
    if not (found := first_unguarded([c for c in claims if CACHED.search(c.text)], STAMPEDE, COALESCED)) \
            or any(COALESCED.search(c.text) for c in claims):
        return []
    c, _ = found
    return [Hit.of(c, "unbounded-growth",
                   title=f"Cache stampede: when a popular entry expires every request for it reaches the source "
                         f"('{c.section}')",
                   detail="between the expiry and the first stored answer, every request is forwarded, so a hot "
                          "entry's expiry sends a burst (a thundering herd) to the service the cache protects",
                   severity="medium",
                   fix="Let one request per key refresh the entry while the others wait or get the stale copy "
                       "(request coalescing, stale-while-revalidate).")]
