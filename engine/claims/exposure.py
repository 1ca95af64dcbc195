"""Rules for holes a design states outright: public access, identifiers taken from the request unchecked,
credentials or personal data kept whole, external calls with no timeout. Pure functions over claims, like the
cross-checks."""

from __future__ import annotations

import re

from engine.claims.extract import BY_ADDRESS, EXTERNAL_NOUNS, FAILURE, SENSITIVE, SIGNED
from engine.claims.model import Claim, Hit

PUBLIC = re.compile(r"\b(public[- ]read\w*|publicly (?:readable|accessible|available|listed)|world[- ]readable|"
                    r"anonymous(?:ly)? (?:access|read)|without (?:any )?(?:auth\w*|login|sign[- ]in)|"
                    r"no (?:auth\w*|access control))\b", re.I)
REQUEST_ID = re.compile(r"\b([\w`]*id`?)\b[^.;]{0,40}\b(?:from|in) the (?:query(?: string)?|url|request|path|"
                        r"body|header|form)\b", re.I)
AUTHZ = re.compile(r"\b(authori[sz]\w*|belongs? to|owns?|ownership|checked against|scoped to|permission\w*|"
                   r"must match|matches the session)\b", re.I)
TIMEOUT = re.compile(r"\btime ?outs?\b|\btimed out\b|\bdeadline\b", re.I)
TRUSTS = re.compile(r"\b(check\w*|verif\w*|authenticat\w*|trust\w*|comes? from|prove\w*|accept\w*|only from)\b", re.I)


def security_exposure(claims: list[Claim], all_text: list[str] | None = None) -> list[Hit]:
    """Data reachable by anyone (public-read, no auth), or a record id read from the request with no ownership check."""
    texts = all_text if all_text is not None else [c.text for c in claims]
    authz = any(AUTHZ.search(t) for t in texts)
    hits = []
    for c in claims:
        if m := PUBLIC.search(c.text):
            hits.append(Hit(rule="security-exposure", claims=[c.id], file=c.file, lines=[c.line],
                            title=f"Access is open to anyone: '{m.group(0)}' ('{c.section}')",
                            detail=f"'{m.group(0)}' makes the data reachable without any access check",
                            evidence=c.text, severity="critical"))
        elif (m := REQUEST_ID.search(c.text)) and not authz:
            hits.append(Hit(rule="security-exposure", claims=[c.id], file=c.file, lines=[c.line],
                            title=f"{m.group(1)} is taken from the request with no ownership check ('{c.section}')",
                            detail=f"nothing checks that the caller may access the {m.group(1)} it sends "
                                   "(insecure direct object reference)",
                            evidence=c.text, severity="critical"))
    return hits


def address_authentication(claims: list[Claim]) -> list[Hit]:
    """Requests told apart by their source IP address alone, in a document that never signs them (no HMAC,
    signature or client certificate anywhere): the first such sentence."""
    if any(SIGNED.search(c.text) for c in claims):
        return []
    for c in claims:
        if (m := BY_ADDRESS.search(c.text)) and TRUSTS.search(c.text):
            return [Hit(rule="security-exposure", claims=[c.id], file=c.file, lines=[c.line],
                        title=f"Requests authenticated only by {m.group(0)} ('{c.section}')",
                        detail="an address says where a request came through, not who sent it: anyone behind the same "
                               "cloud egress, proxy or NAT can forge or replay it, and nothing signs the request",
                        evidence=c.text, severity="high",
                        fix="Sign each request (an HMAC of the body and a timestamp with a per-receiver secret) and "
                            "have the receiver check it and reject old timestamps.")]
    return []


WHOLE = re.compile(r"\b(complete|full|entire|raw|whole|verbatim|unredacted|as received|in (?:plain|clear) ?text|"
                   r"stor\w*|log(?:s|ged|ging)?|record\w*|captur\w*|kept|keeps?|retain\w*|sen[dt]s? (?:\w+ ){0,3}?to|"
                   r"shared? with|forward\w*|export\w*)\b", re.I)
PROTECTED = re.compile(r"\b(redact\w*|mask\w*|scrub\w*|strip\w*|hash\w*|encrypt\w*|anonymi[sz]\w*|"
                       r"pseudonymi[sz]\w*|tokeni[sz]\w*|exclud\w*|omit\w*|never (?:stored|logged|recorded)|"
                       r"filtered out|removed before)\b", re.I)
PERSONAL = re.compile(r"\b(personal (?:data|information)|pii|sensitive|confidential)\b", re.I)
KEPT_SAFE = re.compile(r"\b(secrets? manager|vault|key management|kms|keychain|hsm)\b", re.I)  # where secrets belong


def sensitive_data(claims: list[Claim]) -> list[Hit]:
    """Credentials or personal data stored, logged or passed on whole, in a document where no sentence about such
    data says it is redacted, masked, hashed, encrypted or left out (one hit per sentence; the first three)."""
    if any(PROTECTED.search(c.text) and (SENSITIVE.search(c.text) or PERSONAL.search(c.text)) for c in claims):
        return []  # a sentence protects such data ("IP addresses are hashed"); "strips the country name" does not
    hits = []
    for c in claims:
        found = list(dict.fromkeys(m.group(0).lower() for m in SENSITIVE.finditer(c.text)))
        if not found or not WHOLE.search(c.text) or KEPT_SAFE.search(c.text):
            continue
        what = ", ".join(found[:3])
        hits.append(Hit(rule="sensitive-data", claims=[c.id], file=c.file, lines=[c.line],
                        title=f"Sensitive data kept whole: {what} ('{c.section}')",
                        detail=f"{what} end up stored, logged or passed on as they are; no sentence says they are "
                               "redacted, masked, hashed, encrypted or left out, or who may read them",
                        evidence=c.text, severity="high"))
        if len(hits) >= 3:
            break
    return hits


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
        hits.append(Hit(rule="decision-without-alternative", claims=[c.id], file=c.file, lines=[c.line],
                        title=f"Decision without the alternatives or the reason ('{c.section}')",
                        detail="the section takes this decision without naming what else was considered or why",
                        evidence=c.text, severity="low", strength="candidate"))
    return hits
