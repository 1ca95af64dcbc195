"""Mechanical cross-checks over a document's claims (pure): each rule returns Hits; `claim_checks` makes Checks."""

from __future__ import annotations

import re

from engine.claims.exposure import (
    TIMEOUT,
    address_authentication,
    anyone_changes_production,
    cache_key_without_caller,
    credential_in_url,
    decision_without_alternative,
    fail_open,
    missing_timeout,
    reward_for_free_action,
    security_exposure,
    sensitive_data,
    unauthenticated_store,
)
from engine.claims.extract import EXTERNAL_NOUNS, FAILURE
from engine.claims.failures import (
    cache_stampede,
    done_before_work,
    dual_write,
    expiry_before_window,
    serial_calls,
    unsafe_retry,
)
from engine.claims.lifecycle import (
    irreversible_delete,
    lost_update,
    no_way_back,
    offline_outlives_credential,
    one_side_wins,
    reward_before_final,
    size_only_flush,
)
from engine.claims.model import Claim, Hit
from engine.claims.omissions import convenience_decision, nfr_without_limits
from engine.claims.quantities import Quantity, same_amount, violates, word_cadences
from engine.claims.resilience import (
    cache_outlives_freshness,
    recovery_contradictions,
    trigger_in_failing_region,
    waits_beyond_budget,
)
from engine.claims.sizing import capacity_shortfall, count_beyond_limit, polling_load
from engine.claims.words import stem, stems
from engine.paths import same_file
from engine.verify.checks import Check, Subject

# ('alerts' is not here: a monitoring alert that measures something has its threshold, a number; 'alerts must feel
# timely' is a product's alerts)
REFERENCED = re.compile(r"\b(?:listed|defined|specified|described) (?:in|below|above)\b|\bsee (?:section|table|"
                        r"appendix)\b|\bappendix\b", re.I)  # 'the relevant events listed in Appendix B' says which
MEASURABLE = re.compile(r"\b(tests?|tested|measured?|metrics?|acceptance|verified|SLO|SLA|p\d{2})\b",
                        re.I)
VAGUE = re.compile(r"\b(fast|quickly|correctly|properly|smoothly|user[- ]friendly|intuitive|seamless(?:ly)?|scalable|"
                   r"robust|real[- ]time|"
                   r"as soon as possible|highly available|easy|easily|efficient(?:ly)?|secure(?:ly)?|reliable|"
                   r"responsive|instant(?:ly)?|timely|relevant|"
                   r"feels? (?:\w+ )?(?:timely|natural|smooth|seamless|effortless|snappy|fast|instant|easy|intuitive|"
                   r"responsive|normal|right)|delightful|engaging|high[- ]quality|"
                   r"good enough|appropriate(?:ly)?|meaningful)\b", re.I)
GROWTH = re.compile(r"\b(stores?|stored|keeps?|kept|logs?|logged|retains?|retained|archiv\w+|saves?|saved|"
                    r"accumulat\w+|autoscal\w+|grows?)[^\w,;:`-]+(?:[\w`-]+[^\w,;:`-]+){0,4}?(all|every(?!\s+(?:\d|"
                    r"one|two|few|day|week|hour|minute|second|month|tick|time))|everything)\b|"
                    r"\bno (?:upper )?(?:bound|limit)\b|\bunlimited\b|\bforever\b|\bindefinitely\b|"
                    r"\bany (?:range|size|number|amount|length)\b|\bin one (?:call|request)\b|"
                    r"\bnever (?:\w+ or )?(?:deleted|removed|purged|expired|archived)\b|"
                    r"\bno maximum\b|\breads?\s+all\b[^.;]{0,60}?\b(?:in|into) memory\b|"
                    r"^all\b[^.;]{0,40}?\b(?:are|is) (?:kept|stored|retained|archived)\b|"
                    r"\b(?:loads?|fetch(?:es)?|returns?|downloads?|lists?|shows?)\s+all\b", re.I)
# what bounds how much is held at once (a retention bounds how long, not how much)
CAP = re.compile(r"\b(quota|capped|at most|up to|maximum|limit(?:ed)? (?:of|to)|(?:batch(?:es)?|pages?|chunks?) of)\b",
                 re.I)
# the whole of something held at once ('reads all products ... into memory', 'joins them in memory')
IN_MEMORY = re.compile(r"\b(?:in|into) (?:the )?(?:worker'?s? |process'? |its )?memory\b|\bin[- ]memory\b", re.I)
RETENTION = re.compile(r"\b(retention|retain(?:ed)? for|deleted? after|expir\w+|TTL|purg\w+|rotat\w+|quota|capped|"
                       r"at most|up to|maximum|limit(?:ed)? (?:of|to))\b", re.I)
NO_DOWNTIME = re.compile(r"\b(?:zero|no|without(?: any)?) (?:downtime|down-time|outage|interruption)s?\b", re.I)
OUTAGE = re.compile(r"\bread[- ]only (?:mode|for)\b|\bmaintenance (?:window|mode|page)\b|"
                    r"\b(?:offline|unavailable|switched off|taken down) (?:for|during|while)\b|"
                    r"\b(?:are|is) (?:rejected|refused|blocked) during\b|\bdowntime of\b", re.I)
LATENCY = re.compile(r"\b(p\d{2}|latency|respond\w*|answer\w*|response time)\b", re.I)
# a promise about how soon something happens (delivered, visible, shown within N) ...
PROMPT = re.compile(r"\b(deliver\w*|visible|appears?|shown|propagat\w*|notif\w*|synced|available|sen[dt]s?)\b", re.I)
# ... and a cadence that only lets it happen every M ('sends them in one batch every 5 minutes')
CADENCE = re.compile(r"\b(?:every|each)\s*$", re.I)
# Numbers that are not the design's own: the situation today in a problem or background section ("58 % of users
# who left said ..."), and a project plan's calendar time ("behind a flag for three weeks", "two dry runs in the
# two weeks before cutover"). A design limit that differs from them is no contradiction.
NARRATIVE = re.compile(r"\b(problem|background|context|motivation|history|today|current state|status quo)\b|"
                       r"(?:^|> )why(?: now| this| we| it| change)?\s*\??$", re.I)  # 'Why', not 'Why Postgres'

PLAN = re.compile(r"\b(roll-?out|timeline|schedule|milestones?|dry[- ]runs?|launch|phases?|plan)\b", re.I)
NEAR_LINES = 2
MAX_HITS_PER_RULE = 40
MAX_QUANTITIES = 400  # the pair rules compare at most this many quantities (a document has a few dozen)


def window(claim: Claim, q: Quantity, words: int = 3) -> set[str]:
    """Stems of the content words around one quantity in its sentence (`words` each side, stop words and numbers
    not counted): what the number is about."""
    def content(text: str) -> list[str]:
        return [w for w in text.split() if stems(w)]
    before = content(claim.text[:q.start])[-words:]
    after = content(claim.text[q.start + len(q.text):])[:words]
    thing = q.unit if q.dimension.startswith("count of ") else ""  # a count's noun is what it is about
    return stems(" ".join([*before, thing, *after]))


def design_quantity(claim: Claim, q: Quantity) -> bool:
    """Whether a number is one of the design's own: not the situation today in a problem or background section,
    nor a time in a rollout plan or schedule."""
    return not (NARRATIVE.search(claim.section) or (q.dimension == "time" and PLAN.search(claim.section)))


def quantity_entries(claims: list[Claim]) -> list[tuple[Claim, Quantity, set[str]]]:
    """(claim, quantity, stems of the words around it) for the first MAX_QUANTITIES of the design's own quantities
    (design_quantity): the pair rules compare these."""
    return [(c, q, window(c, q)) for c in claims for q in c.quantities if design_quantity(c, q)][:MAX_QUANTITIES]


def restated(a: Claim, b: Claim, qa: Quantity, qb: Quantity) -> bool:
    """Both statements give both values ('8 ms inside the 50 ms budget' twice): one statement said again, not two
    values for one quantity."""
    return any(same_amount(qb, q) for q in a.quantities) and any(same_amount(qa, q) for q in b.quantities)


def row_key(claim: Claim) -> str:
    """What a table row is about: its first cell ('Plan: Team; Price: 7 EUR' -> 'team'); '' for a sentence."""
    if claim.source != "table":
        return ""
    return claim.text.split("; ", 1)[0].split(": ", 1)[-1].strip().lower()


def other_rows(a: Claim, b: Claim) -> bool:
    """Two table rows keyed by different first cells: the values of two plans, tiers or regions side by side
    ('Free | 0 EUR | 2 GB' and 'Team | 7 EUR | 100 GB'), never one quantity stated twice."""
    return bool(row_key(a)) and bool(row_key(b)) and row_key(a) != row_key(b)


def conflicting_values(claims: list[Claim]) -> list[Hit]:
    """The same quantity (same dimension, shared subject words) given two different values in two places."""
    hits: list[Hit] = []
    entries = quantity_entries(claims)
    for i, (a, qa, wa) in enumerate(entries):
        for b, qb, wb in entries[i + 1:]:
            if qa.dimension != qb.dimension or qa.bound != qb.bound or (a.line == b.line and a.file == b.file) \
                    or other_rows(a, b):
                continue
            shared = wa & wb
            # two counts of one thing share its noun by construction: the words around them must say more
            # ('Free: 1,000 contacts' and 'Pro: 50,000 contacts' are two plans, not a conflict); two bounds on the
            # same thing with one more word in common are two maxima for it ('up to 400,000 contacts in one file'
            # against 'files up to ... 100,000 contacts')
            counted = qa.dimension.startswith("count of ")
            about = shared - {stem(qa.unit.lower())} if counted else shared
            if not about or same_amount(qa, qb) or restated(a, b, qa, qb):
                continue
            sure = len(about) >= 2 or (counted and bool(qa.bound))
            hits.append(Hit(rule="conflicting-values", claims=[a.id, b.id], file=a.file, lines=[a.line, b.line],
                            title=f"Conflicting values: {qa.text} in '{a.section}' but {qb.text} in '{b.section}'",
                            detail=f"the same {qa.dimension} ({', '.join(sorted(shared))}) is {qa.text} at line "
                                   f"{a.line} and {qb.text} at line {b.line}",
                            evidence=a.text, severity="high", strength="certain" if sure else "candidate"))
            if len(hits) >= MAX_HITS_PER_RULE:
                return hits
    return hits


def limit_contradictions(claims: list[Claim]) -> list[Hit]:
    """A limit in one place ('at most 5 retries', 'within 1 second') broken by a number elsewhere."""
    hits: list[Hit] = []
    entries = quantity_entries(claims)
    words = {c.id: stems(c.text) for c, _, _ in entries}
    for a, qa, _ in entries:
        if not qa.bound:
            continue
        latency = LATENCY.search(a.text)
        for b, qb, wb in entries:
            # skipped too when the limit's own sentence gives the other amount its role ('within 2 ..., then within 10')
            if b.id == a.id or not violates(qa, qb) or any(same_amount(qb, o) for o in a.quantities if o is not qa):
                continue
            shared = words[a.id] & words[b.id]
            if not shared and not (latency and TIMEOUT.search(b.text)):  # p99 < 200 ms vs a 2 s timeout
                continue
            # Certain when two subject words around the other number are shared, or when the other sentence plans
            # for values beyond the limit ('at most 64 KB' ... 'events larger than 256 KB are truncated'): the
            # document itself says such values occur, with a subject word in common.
            beyond = qa.bound == "upper" and qb.bound == "lower" and bool(shared & wb)
            hits.append(Hit(rule="limit-contradiction", claims=[a.id, b.id], file=a.file, lines=[a.line, b.line],
                            title=f"Limit {qa.text} ('{a.section}') contradicted by {qb.text} ('{b.section}')",
                            detail=f"line {a.line} bounds it to {qa.text}; line {b.line} "
                                   f"{'plans for more than' if beyond else 'says'} {qb.text} "
                                   f"(shared: {', '.join(sorted(shared)) or 'a latency bound and a timeout'})",
                            evidence=a.text, severity="high",
                            strength="certain" if len(shared & wb) >= 2 or beyond else "candidate"))
            if len(hits) >= MAX_HITS_PER_RULE:
                return hits
    return hits


def cadence_contradictions(claims: list[Claim]) -> list[Hit]:
    """A promise that something happens within N ('visible on other devices within 5 seconds') while another
    sentence does it only every M > N ('sync in the background every 15 minutes'): no shared words needed."""
    hits: list[Hit] = []
    entries = quantity_entries(claims)
    promises = [(c, q) for c, q, _ in entries if q.dimension == "time" and q.bound == "upper"
                and (PROMPT.search(c.text) or LATENCY.search(c.text))]
    cadences = [(c, q) for c, q, _ in entries if q.dimension == "time" and not q.bound
                and CADENCE.search(c.text[:q.start])]
    # a cadence in words ('once an hour') only limits a promise of freshness ('visible within 1 minute') about the
    # same thing; a diagram's 'Nightly rebuild' is a component's name, and a response time is not a freshness
    worded = [(c, q) for c in claims if c.source != "diagram" for q in word_cadences(c.text) if design_quantity(c, q)]
    for a, qa in promises:
        fresh = bool(PROMPT.search(a.text))
        for b, qb in cadences + (worded if fresh else []):
            if b.id == a.id or not violates(qa, qb) or (not qb.unit and not stems(a.text) & stems(b.text)):
                continue
            hits.append(Hit(rule="limit-contradiction", claims=[a.id, b.id], file=a.file, lines=[a.line, b.line],
                            title=f"Within {qa.text} ('{a.section}') contradicted by a cadence of every {qb.text} "
                                  f"('{b.section}')",
                            detail=f"line {a.line} promises it within {qa.text}; line {b.line} does it only every "
                                   f"{qb.text}, so most of the time it takes longer",
                            evidence=a.text, severity="high"))
            if len(hits) >= MAX_HITS_PER_RULE:
                return hits
    return hits


def head(name: str) -> str:
    """The last word of a dependency name ('push provider' -> 'provider')."""
    return name.split()[-1] if name.split() else name


def is_external(name: str) -> bool:
    """A third-party dependency by its name: a provider, gateway, vendor, CDN or external API."""
    return any(n in name for n in EXTERNAL_NOUNS)


def dependency_without_failure(claims: list[Claim]) -> list[Hit]:
    """External dependencies no sentence gives a timeout, retry, fallback or outage behaviour (a hit per claim)."""
    hits, seen = [], set()
    failing = [o.text for o in claims if FAILURE.search(o.text)]
    # a sentence that says how the dependency is used is the better place for the finding than a table cell
    for c in sorted(claims, key=lambda o: o.source != "rule"):
        bare = []
        for dep in c.dependencies:
            if head(dep) in seen or not is_external(dep):
                continue
            seen.add(head(dep))
            pattern = re.compile(rf"\b{re.escape(head(dep))}", re.I)
            if not any(pattern.search(text) for text in failing):
                bare.append(dep)
        if bare:
            names = " or the ".join(bare)
            hits.append(Hit.of(c, "dependency-without-failure",
                               title=f"No failure behaviour for the {names} ('{c.section}')",
                               detail=f"no sentence says what happens when the {names} times out, errors or is down",
                               severity="high"))
    return hits


def delivery_guarantee(claims: list[Claim]) -> list[Hit]:
    """'Exactly once' promised over an 'at least once' channel with no idempotency or deduplication anywhere."""
    once = [c for c in claims if re.search(r"\bexactly[- ]once\b", c.text, re.I)]
    least = [c for c in claims if re.search(r"\bat[- ]least[- ]once\b", c.text, re.I)]
    if not once or not least or any(re.search(r"idempot|de-?dup|unique (?:key|constraint)", c.text, re.I)
                                    for c in claims):
        return []
    a, b = once[-1], least[0]
    return [Hit(rule="limit-contradiction", claims=[a.id, b.id], file=a.file, lines=[a.line, b.line],
                title=f"'Exactly once' ('{a.section}') over at-least-once delivery ('{b.section}') with no idempotency",
                detail=f"line {b.line} delivers at least once, line {a.line} promises exactly once; no idempotency key "
                       "or deduplication is described, so redeliveries repeat the effect",
                evidence=a.text, severity="critical")]


def untestable_requirements(claims: list[Claim]) -> list[Hit]:
    """Requirements with no number and no test or metric near them; vague ones ('fast', 'seamless') are certain."""
    hits = []
    for i, c in enumerate(claims):
        if "requirement" not in c.tags or c.quantities:
            continue
        vague = None if REFERENCED.search(c.text) else VAGUE.search(c.text)
        near = [c] if vague else [o for o in claims[max(0, i - 1):i + 2] if o.section == c.section]
        if any(o.quantities or MEASURABLE.search(o.text) for o in near):
            continue
        hits.append(Hit.of(c, "untestable-requirement",
                           title=f"Requirement cannot be tested: '{vague.group(0)}'" if vague else
                           "Requirement has no acceptance criterion",
                           detail="no number, test or metric states when this requirement is met",
                           severity="medium", strength="certain" if vague else "candidate"))
    return hits


def unbounded_growth(claims: list[Claim]) -> list[Hit]:
    """Store / keep / log 'all' or 'forever', or 'no limit', with no retention or cap for the same thing."""
    hits: list[Hit] = []
    limits = [(o.id, stems(o.text)) for o in claims if RETENTION.search(o.text)]
    caps = [(o.id, stems(o.text)) for o in claims if CAP.search(o.text)]
    for c in claims:
        m = GROWTH.search(c.text)
        if len(hits) >= MAX_HITS_PER_RULE or not m or NARRATIVE.search(c.section):
            continue  # the situation today ('Motivation') is not the design
        subject = stems(c.text)
        memory = IN_MEMORY.search(c.text)
        if any(oid != c.id and len(subject & words) >= 2 for oid, words in (caps if memory else limits)):
            continue
        hits.append(Hit.of(c, "unbounded-growth",
                           title=f"Unbounded growth or cost: '{' '.join(m.group(0).split()[-6:])}' "
                                 f"{'held in memory at once ' if memory else ''}('{c.section}')",
                           detail="it grows without a stated retention, cap or limit anywhere in the document"
                                  + ("; all of it is held in memory at once, so memory grows with the data until "
                                     "it no longer fits" if memory else ""),
                           severity="high",
                           fix="Read and write it in pages (a cursor or fixed-size batches) so that memory stays "
                               "bounded whatever the data's size." if memory else ""))
    return hits


def downtime_contradiction(claims: list[Claim]) -> list[Hit]:
    """'Zero downtime' promised while another sentence takes the service read-only, offline or into a maintenance
    window, or rejects requests for a while."""
    promise, said = next(((c, m.group(0)) for c in claims if (m := NO_DOWNTIME.search(c.text))), (None, ""))
    if promise is None:
        return []
    for c in claims:
        if c.id != promise.id and (m := OUTAGE.search(c.text)):
            return [Hit(rule="limit-contradiction", claims=[promise.id, c.id], file=c.file,
                        lines=[promise.line, c.line],
                        title=f"'{said}' ('{promise.section}') contradicted by "
                              f"'{m.group(0)}' ('{c.section}')",
                        detail=f"line {promise.line} promises no downtime; line {c.line} takes the service out of "
                               f"normal use ('{m.group(0)}')",
                        evidence=promise.text, severity="high")]
    return []


RULES = (conflicting_values, cadence_contradictions, limit_contradictions, capacity_shortfall, count_beyond_limit,
         polling_load, recovery_contradictions, waits_beyond_budget, cache_outlives_freshness, delivery_guarantee,
         downtime_contradiction, trigger_in_failing_region, security_exposure, fail_open, address_authentication,
         unauthenticated_store, anyone_changes_production, cache_key_without_caller, credential_in_url,
         reward_for_free_action, sensitive_data, dependency_without_failure, missing_timeout, unsafe_retry,
         dual_write, expiry_before_window, done_before_work, serial_calls, cache_stampede, lost_update, one_side_wins,
         offline_outlives_credential, irreversible_delete, no_way_back, size_only_flush, reward_before_final,
         unbounded_growth, untestable_requirements, nfr_without_limits, convenience_decision,
         decision_without_alternative)


def cross_check(claims: list[Claim]) -> list[Hit]:
    """Every rule over the claims, one hit per (rule, claims) pair, in rule order; a pair only shortlisted
    (a candidate) is left out when another rule is already certain about the same claims: it would ask the
    model about, and raise, the same two sentences twice; so is a candidate whose claims a certain hit of its own
    rule already covers."""
    out: list[Hit] = []
    seen: set[tuple[str, frozenset[str], str]] = set()
    for rule in RULES:
        for hit in rule(claims):
            key = (hit.rule, frozenset(hit.claims), hit.title)
            if key not in seen:
                seen.add(key)
                out.append(hit)
    certain = {frozenset(h.claims) for h in out if h.strength == "certain" and len(h.claims) > 1}
    # a choice that another rule already faults (a public bucket 'to keep the CDN simple') needs no second finding
    # saying its alternatives were not weighed: the other one names what the choice costs
    faulted = {c for h in out if h.rule != "decision-without-alternative" and h.strength == "certain" for c in h.claims}
    covered = {(h.rule, c) for h in out if h.strength == "certain" for c in h.claims}
    return [h for h in out if not (h.strength == "candidate" and frozenset(h.claims) in certain)
            and not (h.rule == "decision-without-alternative" and faulted & set(h.claims))
            and not (h.strength == "candidate" and all((h.rule, c) in covered for c in h.claims))]


def touches(hit: Hit, file: str, start: int, end: int) -> bool:
    """Whether a hit lies at (or within NEAR_LINES of) a span of a file."""
    return same_file(file, hit.file) and any(start - NEAR_LINES <= n <= end + NEAR_LINES for n in hit.lines)


# where a hit's title names a section ("… ('Payment flow')", "2 hours in 'Cutover'"): the section's words say where
# the claim is, not what it is ("Missing payment flow section" does not make a retry's claim)
SECTION_NAMED = re.compile(r"(?:\bin |\()'[^']*'\)?")


def names(hit: Hit, title: str, fix: str) -> bool:
    """Whether a finding (or review issue) makes the hit's claim: the checker's own (its title), or one that
    shares two topic words with the hit's title (the sections it names left out) and detail."""
    return title == hit.title or len(stems(f"{SECTION_NAMED.sub(' ', hit.title)} {hit.detail}")
                                     & stems(f"{title} {fix}")) >= 2


def claim_checks(claims: list[Claim], subject: Subject, hits: list[Hit] | None = None) -> list[Check]:
    """`claims` checks for a finding: the cross-check hits at its lines, supporting it only when it makes the
    hit's claim (`names`; a checker's finding: its own hit) -- support goes by claim, not by nearness of lines:
    a neighbouring hit about something else is listed, inconclusive. Else the claims the finding rests on."""
    found = [h for h in (cross_check(claims) if hits is None else hits)
             if h.strength != "rejected" and touches(h, subject.file, subject.line_start, subject.line_end)]
    own = [h for h in found if h.title == subject.title]  # a claims checker's finding and its hit
    out = []
    for hit in found:
        named = hit in own if own else names(hit, subject.title, subject.fix)
        outcome = "supports" if named and hit.strength in ("certain", "confirmed") else "inconclusive"
        detail = f"{hit.rule}: {hit.detail}" + ("" if named else " (at these lines, but another claim than this "
                                                                  "finding's)")
        out.append(Check(kind="claims", outcome=outcome, detail=detail,
                         data={"rule": hit.rule, "claims": hit.claims, "lines": hit.lines, "strength": hit.strength,
                               "names": named}))
    if not out:
        at = [c.id for c in claims if c.file == subject.file and
              subject.line_start - NEAR_LINES <= c.line <= subject.line_end + NEAR_LINES]
        if at:
            out.append(Check(kind="claims", outcome="inconclusive",
                             detail=f"rests on {', '.join(at)}; no cross-check flagged them", data={"claims": at}))
    return out
