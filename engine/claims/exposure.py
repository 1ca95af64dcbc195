"""Rules for holes a design states outright: public access, identifiers taken from the request unchecked,
credentials or personal data kept whole or shown to other users, credentials in URLs, rewards anyone can farm,
external calls with no timeout. Pure functions over claims, like the cross-checks."""

from __future__ import annotations

import re

from engine.claims.extract import (
    ANY_INSIDER,
    BY_ADDRESS,
    CREDENTIAL,
    EXTERNAL_NOUNS,
    FAIL_OPEN,
    FAILURE,
    KEYED_BY_CALLER,
    NO_CREDENTIAL,
    PER_CALLER,
    QUERY_PARAMS,
    REWARD,
    REWARD_GUARD,
    SENSITIVE,
    SEQUENTIAL,
    SIGNED,
    STORE,
    UNVERIFIED_ACT,
    URL_CREDENTIAL,
    URL_KEY,
)
from engine.claims.model import Claim, Hit

PUBLIC = re.compile(r"\b(public[- ]read\w*|publicly (?:readable|accessible|available|listed)|world[- ]readable|"
                    r"anonymous(?:ly)? (?:access|read)|without (?:any )?(?:auth\w*|login|sign[- ]in|signing in|"
                    r"logging in)|"
                    r"no (?:auth\w*|access control|login|sign[- ]in))\b", re.I)
# a link that is itself the credential ('the link works without signing in for 30 days')
BEARER_LINK = re.compile(r"\b(?:links?|urls?)\b[^.;]{0,40}?\b(?:works?|valid|usable|opens?)\b", re.I)
# a 'public' that still asks for a key ('public read: any partner with an API key can read ...')
KEYED = re.compile(r"\b(?:with|using|presents?|sends?|needs?|requires?|holding) (?:an? |their |its |a valid )?"
                   r"(?:api[- ]?keys?|keys?|tokens?|credentials?|client certificates?)\b|\bauthenticat\w+ with\b", re.I)
REQUEST_ID = re.compile(r"\b([\w`]*id`?)\b[^.;]{0,40}\b(?:from|in) the (?:query(?: string)?|url|request|path|"
                        r"body|header|form)\b", re.I)
AUTHZ = re.compile(r"\b(authori[sz]\w*|belongs? to|owns?|ownership|checked against|scoped to|permission\w*|"
                   r"must match|matches the session)\b", re.I)
# a bound on how long a call may take: "a 5 s timeout", "the call times out", "timed out", "a deadline"
TIMEOUT = re.compile(r"\btime ?outs?\b|\btime[sd] out\b|\btiming out\b|\bdeadlines?\b", re.I)
TRUSTS = re.compile(r"\b(check\w*|verif\w*|authenticat\w*|trust\w*|comes? from|prove\w*|accept\w*|only from)\b", re.I)


def security_exposure(claims: list[Claim], all_text: list[str] | None = None) -> list[Hit]:
    """Data reachable by anyone (public-read, no auth), or a record id read from the request with no ownership check."""
    texts = all_text if all_text is not None else [c.text for c in claims]
    authz = any(AUTHZ.search(t) for t in texts)
    counted = {c.section: m.group(0) for c in reversed(claims) if (m := SEQUENTIAL.search(c.text))}
    hits = []
    for c in claims:
        if (m := PUBLIC.search(c.text)) and not (m.group(0).lower().startswith("public") and KEYED.search(c.text)):
            if BEARER_LINK.search(c.text):
                hits.append(Hit.of(c, "security-exposure",
                                   title=f"A link that opens the data '{m.group(0)}': anyone who gets it (forwarded, "
                                         f"leaked) reads it ('{c.section}')",
                                   detail="the link is the only credential: whoever holds it, from a forwarded e-mail, "
                                          "a shared mailbox or a log, gets the data for as long as it works",
                                   severity="high",
                                   fix="Ask the person to sign in before the download, or make the link single-use and "
                                       "valid for hours, not days."))
                continue
            if c.section in counted:  # the same part of the design: the open page and its counted ids
                hits.append(Hit.of(c, "security-exposure",
                                   title=f"Records anyone can open are found by counting: '{m.group(0)}' and "
                                         f"'{counted[c.section]}' ('{c.section}')",
                                   detail="the page or endpoint needs no credential and its ids are sequential, so "
                                          "anyone can enumerate them one by one and read every record",
                                   severity="critical",
                                   fix="Give each record a random, unguessable id (128 bits) or a signed link, and "
                                       "rate-limit lookups of unknown ids."))
                continue
            hits.append(Hit.of(c, "security-exposure",
                               title=f"Access is open to anyone: '{m.group(0)}' ('{c.section}')",
                               detail=f"'{m.group(0)}' makes the data reachable without any access check",
                               severity="critical"))
        elif (m := REQUEST_ID.search(c.text)) and not authz:
            hits.append(Hit.of(c, "security-exposure",
                               title=f"{m.group(1)} is taken from the request with no ownership check ('{c.section}')",
                               detail=f"nothing checks that the caller may access the {m.group(1)} it sends "
                                      "(insecure direct object reference)",
                               severity="critical"))
    return hits


def address_authentication(claims: list[Claim]) -> list[Hit]:
    """Requests told apart by their source IP address alone, in a document that never signs them (no HMAC,
    signature or client certificate anywhere): the first such sentence."""
    if any(SIGNED.search(c.text) for c in claims):
        return []
    for c in claims:
        if (m := BY_ADDRESS.search(c.text)) and TRUSTS.search(c.text):
            return [Hit.of(c, "security-exposure",
                           title=f"Requests authenticated only by {m.group(0)} ('{c.section}')",
                           detail="an address says where a request came through, not who sent it: anyone behind the "
                                  "same cloud egress, proxy or NAT can forge or replay it, and nothing signs the "
                                  "request",
                           severity="high",
                           fix="Sign each request (an HMAC of the body and a timestamp with a per-receiver secret) and "
                               "have the receiver check it and reject old timestamps.")]
    return []


WHOLE = re.compile(r"\b(complete|full|entire|raw|whole|verbatim|unredacted|as (?:received|sent)|"
                   r"in (?:plain|clear) ?text|"
                   r"stor\w*|log(?:s|ged|ging)?|record\w*|captur\w*|kept|keeps?|retain\w*|sen[dt]s? (?:\w+ ){0,3}?to|"
                   r"shared? with|forward\w*|export\w*)\b", re.I)
PROTECTED = re.compile(r"\b(redact\w*|mask\w*|scrub\w*|strip\w*|hash\w*|encrypt\w*|anonymi[sz]\w*|"
                       r"pseudonymi[sz]\w*|tokeni[sz]\w*|exclud\w*|omit\w*|never (?:stored|logged|recorded)|"
                       r"filtered out|removed before)\b", re.I)
PERSONAL = re.compile(r"\b(personal (?:data|information)|pii|sensitive|confidential)\b", re.I)
KEPT_SAFE = re.compile(r"\b(secrets? manager|vault|key management|kms|keychain|hsm)\b", re.I)  # where secrets belong


# personal data of one person shown to another: 'a referrer sees each friend's e-mail address'
SHOWN = re.compile(r"\b(sees?|shown|shows?|displayed|displays?|visible|lists?)\b", re.I)
# a peer's data (a friend, another user, the other side of a match), not what staff see of a customer
OTHERS = re.compile(r"\b(?:(?:other|another|fellow) (?:users?|members?|customers?|participants?|players?|attendees?|"
                    r"guests?)(?:['’]s|s['’]|['’])|(?:friend|referee|invitee|attendee|participant|buyer|seller|driver|"
                    r"rider|guest|neighbou?r|match)(?:['’]s|s['’]))", re.I)
NEVER_SHOWN = re.compile(r"\b(?:never|not|cannot|can't|no one|nobody|hidden|only (?:their|his|her) own)\b", re.I)


def sensitive_data(claims: list[Claim]) -> list[Hit]:
    """Credentials or personal data stored, logged or passed on whole, or one person's shown to another, in a
    document where no sentence about such data says it is redacted, masked, hashed, encrypted or left out (one hit
    per sentence; the first three)."""
    if any(PROTECTED.search(c.text) and (SENSITIVE.search(c.text) or PERSONAL.search(c.text)) for c in claims):
        return []  # a sentence protects such data ("IP addresses are hashed"); "strips the country name" does not
    hits = []
    for c in claims:
        found = list(dict.fromkeys(m.group(0).lower() for m in SENSITIVE.finditer(c.text)))
        if not found or KEPT_SAFE.search(c.text):
            continue
        what = ", ".join(found[:3])
        if SHOWN.search(c.text) and (whose := OTHERS.search(c.text)) and not NEVER_SHOWN.search(c.text):
            owner = whose.group(0).lower().replace("’", "'")
            owner = owner if owner.startswith(("other", "another", "fellow")) else f"the {owner}"
            if what.startswith(owner.split()[-1]):  # 'the buyer's' + "buyer's id and location"
                owner = "the"
            hits.append(Hit.of(c, "sensitive-data",
                               title=f"Personal data shown to another user: {owner} {what} ('{c.section}')",
                               detail=f"another person sees {owner} {what}, which that person never "
                                      "agreed to share; no sentence limits or masks what is shown",
                               severity="high",
                               fix="Show only what the other person agreed to share (a first name or initials), mask "
                                   "contact details, and say so in the privacy notice."))
        elif WHOLE.search(c.text):
            hits.append(Hit.of(c, "sensitive-data",
                               title=f"Sensitive data kept whole: {what} ('{c.section}')",
                               detail=f"{what} end up stored, logged or passed on as they are; no sentence says they "
                                      "are redacted, masked, hashed, encrypted or left out, or who may read them",
                               severity="high"))
        if len(hits) >= 3:
            break
    return hits


LISTING_TOKEN = re.compile(r"\b(?:page|next|continuation|pagination|cursor|sync|resume)[_ -]?$", re.I)


def credential(text: str) -> re.Match[str] | None:
    """The first credential a text names; a 'page token' or 'next token' is a position in a listing, not one."""
    return next((m for m in CREDENTIAL.finditer(text) if not LISTING_TOKEN.search(text[:m.start()])), None)


NOT_THERE = re.compile(r"\b(never|not|no|instead of|rather than)\b[^.;]{0,40}$", re.I)  # 'never in the query string'
TABLE_REACH = 12  # lines from a 'Query parameters:' sentence to a row of its table
NEAR_WORDS = 6  # a credential and 'query string' this close are one statement about where it goes
SIGNED_URL = re.compile(r"\b(?:pre-?signed|signed (?:url|link)s?|one-time (?:url|link|token)s?|magic links?)\b", re.I)


def credential_in_url(claims: list[Claim]) -> list[Hit]:
    """A credential sent in a URL: '?api_key=' in an example, a sentence putting a token in the query string, or a
    credential row of a parameter table a 'Query parameters' sentence of the same section introduces (the first
    two): URLs are kept in access and proxy logs and browser history, and sent on in Referer headers."""
    def in_query(c: Claim) -> re.Match[str] | None:
        m = QUERY_PARAMS.search(c.text)
        return m if m and not NOT_THERE.search(c.text[:m.start()]) else None

    def near(a: re.Match[str], b: re.Match[str]) -> bool:  # 'the token ... in the query string', a few words apart
        lo, hi = sorted((a, b), key=lambda m: m.start())
        between = hi.string[lo.end():hi.start()]
        return ";" not in between and len(between.split()) <= NEAR_WORDS

    intros = [c for c in claims if in_query(c) and not credential(c.text)]
    hits = []
    for c in claims:
        if SIGNED_URL.search(c.text):  # a signed or one-time link carries its own short-lived token by design
            continue
        cred, query, url = credential(c.text), in_query(c), URL_CREDENTIAL.search(c.text)
        inline = url or (cred and query and near(cred, query))
        row = c.source == "table" and cred and any(
            i.section == c.section and i.file == c.file and 0 < c.line - i.line <= TABLE_REACH for i in intros)
        if not (inline or row):
            continue
        what = cred.group(0) if cred else url.group(0).strip("?&=")  # type: ignore[union-attr]
        hits.append(Hit.of(c, "security-exposure",
                           title=f"Credential sent in the URL: {what} as a query parameter ('{c.section}')",
                           detail=f"the {what} travels in the URL, which access logs, proxy and CDN logs and browser "
                                  "history keep and Referer headers pass on: anyone who can read them can use it",
                           severity="high",
                           fix="Send the credential in a header (Authorization: Bearer ...) and reject it in the URL; "
                               "rotate any key that was sent that way."))
        if len(hits) >= 2:
            break
    return hits


def reward_for_free_action(claims: list[Claim]) -> list[Hit]:
    """A reward (credit, bonus, free month) given when an account is created or someone signs up, in a document
    that nowhere guards it (fraud checks, verification, a first payment, a cap per person): anyone can create
    accounts to collect it. The first such sentence."""
    if any(REWARD_GUARD.search(c.text) for c in claims):
        return []
    for c in claims:
        if (reward := REWARD.search(c.text)) and (act := UNVERIFIED_ACT.search(c.text)):
            return [Hit.of(c, "security-exposure",
                           title=f"Reward farmable with fake accounts: {reward.group(0).lower()} when "
                                 f"'{act.group(0).lower()}' ('{c.section}')",
                           detail=f"the {reward.group(0).lower()} is given as soon as '{act.group(0).lower()}', which "
                                  "costs nothing to repeat: with throwaway e-mail addresses one person can create "
                                  "accounts and collect it again and again, and no sentence checks or caps it",
                           severity="high",
                           fix="Give the reward only after the new customer's first payment, cap it per person and "
                               "per payment method, and flag self-referrals (same card, device or address).")]
    return []


def missing_timeout(claims: list[Claim]) -> list[Hit]:
    """An external dependency whose failures are handled somewhere, yet no sentence gives its calls a timeout."""
    if any(TIMEOUT.search(c.text) for c in claims):
        return []
    failing = [c for c in claims if FAILURE.search(c.text)]

    def handled(dep: str) -> Claim | None:
        return next((f for f in failing if re.search(rf"\b{re.escape(dep.split()[-1])}", f.text, re.I)), None)

    hits, seen = [], set()
    for c in claims:
        deps = [d for d in c.dependencies
                if any(n in d for n in EXTERNAL_NOUNS) and d.split()[-1] not in seen and handled(d)]
        if not deps or not re.search(r"\bcall\w*|request\w*|endpoint", c.text, re.I):
            continue
        seen.update(d.split()[-1] for d in deps)
        names = " or the ".join(deps)
        where = handled(deps[0]) or c  # the failure handling that leaves timeouts out, then the call itself
        hits.append(Hit(rule="dependency-without-failure", claims=[where.id, c.id], file=c.file,
                        lines=[where.line, c.line],
                        title=f"Failure handling ('{where.section}') has no timeout for calls to the {names}",
                        detail=f"no sentence bounds how long a call to the {names} may take, or says what state "
                               "is left when it times out",
                        evidence=where.text, severity="high", strength="certain"))
    return hits


ALTERNATIVES = re.compile(r"\b(instead of|rather than|alternatives?|considered|trade-?offs?|compared|versus|vs\.?|"
                          r"because|since|rejected)\b", re.I)


def decision_without_alternative(claims: list[Claim]) -> list[Hit]:
    """Decisions whose section names no alternative or reason (a candidate: the model or a reviewer decides)."""
    hits = []
    for c in claims:
        if "decision" not in c.tags or any(o.section == c.section and ALTERNATIVES.search(o.text) for o in claims):
            continue
        hits.append(Hit.of(c, "decision-without-alternative",
                           title=f"Decision without the alternatives or the reason ('{c.section}')",
                           detail="the section takes this decision without naming what else was considered or why",
                           severity="low", strength="candidate"))
    return hits


REFUSED = re.compile(r"\b(reject\w*|refus\w*|den(?:y|ies|ied))\b", re.I)  # 'rejects every connection without'
TRUSTED = re.compile(r"\btrusts?\b|\btrusted\b", re.I)


def unauthenticated_store(claims: list[Claim]) -> list[Hit]:
    """A store or network reachable with no password or TLS: any process or host that reaches it reads every
    record and writes any; worse when services trust what they read from it (roles, prices)."""
    trust = next((c for c in claims if TRUSTED.search(c.text)), None)
    for c in claims:
        if (m := NO_CREDENTIAL.search(c.text)) and STORE.search(c.text) and not REFUSED.search(c.text):
            return [Hit.of(c, "security-exposure",
                           title=f"A store with no credential: '{m.group(0)}', so anything on the network reads and "
                                 f"writes it ('{c.section}')",
                           detail="any compromised service or host that can reach it reads every record and can write "
                                  "any" + (f"; line {trust.line} trusts what is read from it, so a forged record "
                                           "grants what it says" if trust and trust.id != c.id else ""),
                           severity="critical",
                           fix="Require a credential per service (ACLs) and TLS on the store, and do not trust "
                               "authorisation data any client can write: keep it server-side or sign it.")]
    return []


GATED = re.compile(r"\b(roles?|rbac|permission\w*|approv\w+|review\w*|audit\w*|two-person|four-eyes|owners? of)\b",
                   re.I)


def gated(text: str) -> bool:
    """A role, approval or audit the sentence names, not one it rules out ('so that no one waits for an approver')."""
    return any(not re.search(r"\b(?:no|without|never|not|nor)\b[^.;]{0,25}$", text[:m.start()], re.I)
               for m in GATED.finditer(text))


def anyone_changes_production(claims: list[Claim]) -> list[Hit]:
    """Anyone who can sign in may change production, in a sentence with no role, approval or audit: one mistake or
    one compromised account changes it for every user."""
    for c in claims:
        if (m := ANY_INSIDER.search(c.text)) and not gated(c.text):
            return [Hit.of(c, "security-exposure",
                           title=f"Anyone can change production: '{' '.join(m.group(0).split()[:4])} ...' with no "
                                 f"role, approval or audit ('{c.section}')",
                           detail="every account that can sign in may change production; nothing limits who, records "
                                  "who did what, or lets anyone undo it",
                           severity="high",
                           fix="Give production changes a role of their own, log every change with who made it "
                               "(an audit trail) and keep an emergency path that is logged and reviewed after.")]
    return []




def fail_open(claims: list[Claim]) -> list[Hit]:
    """A check that passes everything when the checker fails: an outage, or anyone who can make the check fail,
    lets through exactly what the check is for."""
    for c in claims:
        if m := FAIL_OPEN.search(c.text):
            return [Hit.of(c, "security-exposure",
                           title=f"Fails open: '{' '.join(m.group(0).split()[-6:])}' when the check cannot run "
                                 f"('{c.section}')",
                           detail="when the checking service errors or is down, items skip the check and go through, "
                                  "so an outage (or a request crafted to make the check fail) bypasses it entirely",
                           severity="high",
                           fix="Fail closed: hold the item as pending, retry the check, and let a person review what "
                               "is still unchecked after a while.")]
    return []


def cache_key_without_caller(claims: list[Claim]) -> list[Hit]:
    """A shared cache keyed by the URL alone, in front of responses that differ by caller: the first caller's answer
    (their prices, their data) is served to everyone who asks for the same URL."""
    if any(KEYED_BY_CALLER.search(c.text) for c in claims):
        return []
    key = next((c for c in claims if URL_KEY.search(c.text)), None)
    caller = next((c for c in claims if PER_CALLER.search(c.text) and "cache" in c.text.lower()), None)
    if key is None or caller is None:
        return []
    return [Hit(rule="security-exposure", claims=list(dict.fromkeys([key.id, caller.id])), file=key.file,
                lines=list(dict.fromkeys([key.line, caller.line])),
                title=f"Cache key without the caller: one caller's response is served to another ('{key.section}')",
                detail=f"line {key.line} keys the cache by the URL alone; line {caller.line} puts responses that "
                       "differ by caller through it, so whoever asks first decides what everyone else gets (a leak of "
                       "one partner's or user's data to the others)",
                evidence=key.text, severity="critical",
                fix="Put the caller (partner, tenant or user id) in the cache key, or cache only public responses.")]
