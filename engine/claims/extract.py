"""Extract a document's claims mechanically: sentences, table rows and Mermaid edges, with cue-word kinds."""

from __future__ import annotations

import re

from engine.claims import failures, lifecycle, resilience, sizing
from engine.claims.model import Claim
from engine.claims.quantities import WORD_CADENCE, Quantity, quantities
from engine.target.snapshot import Section, SourceFile

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})\s*(\w*)")
_HEADING = re.compile(r"^ {0,3}#{1,6}\s|^([=\-~^\"'`#*+:.])\1{2,}\s*$")
_TABLE_SEP = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
_ITEM = re.compile(r"^\s*(?:[-*+]|\d{1,3}[.)])\s+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z`\"(*])")
_PAGE = re.compile(r"^\[page \d+\]$")
# a choice's reason that is only the team's convenience: simple for us, quick to ship, the tooling we already have
CONVENIENCE = re.compile(r"\b(?:keeps? (?:[\w-]+ ){0,3}?(?:simple|easy)|(?:simplest|easiest|quickest) (?:option|choice|"
                         r"way|path|to (?:build|ship|run|operate))|lets? us ship|ship (?:it |this )?in (?:one|a|two|a "
                         r"single) (?:sprint|week)|(?:with|reuses?|on) (?:the|our) existing (?:[\w-]+ ){0,3}?"
                         r"(?:tooling|tools|infrastructure|stack|setup)|(?:we|the team) already (?:ha(?:ve|s)|runs?|"
                         r"uses?|knows?))\b", re.I)
# sections whose every statement is a claim: the omission rules (engine/claims/omissions.py) read them whole
NFR_SECTION = re.compile(r"non-?functional|quality attributes|\bNFRs?\b|service levels?|operational requirements",
                         re.I)
ALTERNATIVES_SECTION = re.compile(r"\balternatives?\b|\boptions\b|\bconsidered\b|\brejected\b", re.I)
POINTS_BACK = re.compile(r"^(?:this|that|it|doing so|which)\b", re.I)  # a sentence about the one before it
CUES: dict[str, re.Pattern[str]] = {
    "requirement": re.compile(r"\b(must|shall|will|should|is required to|are required to|needs? to|guarantee[sd]?|"
                             r"exactly once)\b",
                              re.I),
    "decision": re.compile(r"\b(we (?:will )?(?:use|choose|chose|pick|picked|decided?|adopt|go with)|decided|"
                           r"decision|instead of|rather than|alternatives?|considered|rejected|trade-?offs?|"
                           r"to keep (?:the )?[\w-]+ (?:\w+ )?(?:simple|cheap|predictable))\b|"
                           + CONVENIENCE.pattern, re.I),
    "owner": re.compile(r"\b(owner|owned by|owns|responsible for|on-call|DRI|accountable)\b", re.I),
    "assumption": re.compile(r"\b(assum\w+|we expect|expected to|should be enough|never|always|at least once)\b",
                             re.I),
}
FAILURE = re.compile(r"\b(time ?outs?|timed out|retr(?:y|ies|ied)|fall ?back|degrad\w*|outage|down|unavailable|"
                     r"fails?|failure|failed|errors?|circuit[- ]breaker|backoff|dead[- ]letter|redeliver\w*)\b", re.I)
# statements with no cue word that the rules still need: growth, open access, ids from the request (the failure
# rules' own patterns are added to these in `notable`)
NOTABLE = re.compile(r"\b(all|every|forever|no limit|no maximum|unlimited|no upper bound|any|public\w*|anyone|"
                     r"anonymous\w*|"
                     r"(?:zero|no) downtime|(?:at most|up to|no more than|maximum of|limited to|capped at) \d+|"
                     r"(?:batch(?:es)?|pages?|chunks?) of \d+|"
                     r"query string|from the (?:url|request|path|body)|without (?:auth\w*|login)|"
                     r"no (?:login|sign[- ]in))\b", re.I)
# record ids anyone can count through: 'ids are assigned from one sequence', 'auto-increment ids'
SEQUENTIAL = re.compile(r"\b(?:ids?|identifiers?|numbers?)\b[^.;]{0,40}?\b(?:sequen\w*|auto[- ]?increment\w*|"
                        r"consecutive\w*|incrementing|in order of creation|increas\w* by one)\b|"
                        r"\b(?:sequential|auto[- ]?increment\w*|incrementing|consecutive) "
                        r"(?:ids?|identifiers?|numbers?)\b", re.I)
# a change to what users get that anyone inside may make ('any employee who signs in with the company SSO can call
# it, for every environment including production')
ANY_INSIDER = re.compile(r"\bany (?:employee|engineer|developer|staff(?: member)?|one|user|member of staff|team member)"
                         r"\b[^.;]{0,80}?\b(?:can|may|is able to) (?:\w+ )?(?:change|edit|modify|deploy|toggle|write|"
                         r"update|delete|turn|set|call|push|flip|release)\b[^.;]{0,60}?\bproduction\b", re.I)
# a shared cache keyed by the URL alone ('the cache key is the request path and query string') ...
URL_KEY = re.compile(r"\bcache key is (?:the |only the |just the )?(?:request )?(?:path|url|uri)\b", re.I)
# ... in front of answers that differ by caller ('authenticated partner calls go through the same cache')
PER_CALLER = re.compile(r"\b(authenticated|per[- ](?:user|partner|tenant|customer|account)|negotiated|"
                        r"personali[sz]ed|logged[- ]in|signed[- ]in)\b", re.I)
KEYED_BY_CALLER = re.compile(r"\b(?:vary|authori[sz]ation header|user id|tenant id|partner id|account id|api key)\b"
                             r"[^.;]{0,30}?\b(?:in|part of|added to) the (?:cache )?key\b|\bkey (?:also )?includes\b|"
                             r"\bonly (?:public|anonymous|unauthenticated) (?:responses|requests|calls)\b|"
                             r"\bbypass\w* the cache\b|\b(?:never|not) cached\b", re.I)
# a store or network with no credential or encryption ('it needs no password and no TLS')
NO_CREDENTIAL = re.compile(r"\b(?:needs?|requires?|has|uses?|with|and) no (?:password|credentials?|tls|encryption)\b|"
                           r"\bwithout (?:a |any )?(?:password|credentials?|tls|encryption)\b", re.I)
STORE = re.compile(r"\b(cache|redis|memcached|database|db|queue|broker|bucket|store|network|listens?)\b", re.I)
# a check that lets everything through when it cannot run ('when the vendor's API returns an error, the image is
# published')
FAIL_OPEN = re.compile(r"\b(?:when|if|whenever)\b[^.;]{0,50}?\b(?:returns? an error|errors?|fails?|is down|is "
                       r"unavailable|times? out|cannot be reached)\b[^.;]{0,40}?\b(?:is |are |gets? )?"
                       r"(?<!not )(?<!never )(?:published|allowed|accepted|approved|let through|skipped|"
                       r"treated as (?:safe|valid|clean))\b", re.I)
# telling who sent a request by where it came from (engine/claims/exposure.py: forged by anyone behind a shared
# egress, proxy or NAT): a sentence naming it is a claim
BY_ADDRESS = re.compile(r"\b(source (?:ip|address)(?:es)?|(?:egress |client |caller'?s? )?ip (?:address(?:es)?|ranges?|"
                        r"allow-?lists?|white-?lists?)|allow-?listed ips?)\b", re.I)
SIGNED = re.compile(r"\b(signatures?|signed|signing|hmac|mutual tls|mtls|client certificates?|shared secret)\b", re.I)
# credentials and personal data: a sentence naming them is a claim (engine/claims/exposure.py checks them)
SENSITIVE = re.compile(r"\b(request headers|(?:request|response) bod(?:y|ies)|authori[sz]ation headers?|cookies?|"
                       r"session (?:ids?|tokens?)|passwords?|api[- ]keys?|access tokens?|secrets?|credentials?|"
                       r"card numbers?|e-?mail address(?:es)?|ip address(?:es)?|phone numbers?|home address(?:es)?|"
                       r"dates? of birth|social security numbers?|full names?|query text|search terms|"
                       r"(?:user|buyer|customer|member|rider|driver|phone|device)['’]s (?:[\w-]+ and )?locations?|"
                       r"geolocation|gps (?:coordinates|positions?)|precise locations?|"
                       r"(?:user|customer|visitor|end-user) context)\b"
                       r"(?![- ](?:creation|revocation|rotation|management|settings|resets?|changes?|polic(?:y|ies)|"
                       r"strength|length|rules?|requirements?))", re.I)
# a credential carried in a URL ('?api_key=...', 'the token as a query parameter'): URLs end up in access logs,
# proxy logs, browser history and Referer headers (engine/claims/exposure.py)
QUERY_PARAMS = re.compile(r"\b(query[- ](?:string|param\w*)|url param\w*|in the (?:url|query)|path param\w*)\b", re.I)
CREDENTIAL = re.compile(r"\b(api[_ -]?keys?|apikey|access[_ -]?tokens?|auth[_ -]?tokens?|bearer tokens?|tokens?|"
                        r"passwords?|secrets?|session[_ -]?ids?|credentials?)\b", re.I)
URL_CREDENTIAL = re.compile(r"[?&](?:api[_-]?key|apikey|token|access[_-]?token|auth|password|secret)=", re.I)
# a reward given for an action anyone can repeat for free (a sign-up, an account created, an install)
REWARD = re.compile(r"\b(credits?(?! cards?| checks?| limits?| scores?)|bonus(?:es)?|rewards?|cash ?back|vouchers?|"
                    r"coupons?|referral fees?|(?:loyalty|bonus|reward) points)\b", re.I)
UNVERIFIED_ACT = re.compile(r"\b(accounts? (?:is |are |gets? )?(?:created|opened|registered)|signs? up|signed up|"
                            r"sign-?ups?|registers|registration|installs? the app|creates? an account|"
                            r"joins (?:through|via|with|using))\b", re.I)
# what keeps such a reward from being farmed: fraud checks, verification, a first payment, a cap per person
REWARD_GUARD = re.compile(r"\b(fraud\w*|abus\w*|self-referr\w*|"
                          r"(?:verif\w*|confirm\w*) (?:\w+ ){0,2}?(?:accounts?|e-?mail|phone|identity|referrals?|"
                          r"friends?|sign-?ups?)|(?:accounts?|e-?mail|phone|identity) "
                          r"(?:is |are )?verif\w*|kyc|first (?:paid |successful )?(?:payment|purchase|order|"
                          r"invoice)|(?:has|have|after \w+) paid|paying (?:customer|subscriber)s?|"
                          r"(?:one|a single) (?:\w+ )?per (?:person|customer|household|card|device|payment method)|"
                          r"(?:limited|capped) (?:to|at) \d|"
                          r"at most \d+ (?:\w+ )?(?:referrals?|invites?|rewards?|credits?)|"
                          r"duplicate accounts?|fake accounts?)", re.I)
FRAUD = re.compile(r"\b(fraud\w*|abus(?:e|es|ed|ive)|self-referr\w*|fake accounts?|duplicate accounts?)\b", re.I)
DEP_NOUNS = ("provider", "gateway", "api", "service", "queue", "bucket", "cdn", "database", "db", "cache",
             "broker", "bus", "storage", "endpoint", "webhook", "sdk", "vendor", "manager", "library", "system")
EXTERNAL_NOUNS = ("provider", "gateway", "vendor", "cdn", "third-party", "third party", "external", "sdk")
_DEP = re.compile(r"\b((?:the |a |an |our |its )?(?:[\w-]+ ){0,2}?(?:" + "|".join(DEP_NOUNS) + r"))\b(?!-)", re.I)
_DEP_VERB = re.compile(r"\b(call|calls|called|calling|uses?|depends on|relies on|via|through|asks?|sends? \w+ to|"
                       r"consumes?|publishes to|reads from|writes to|stored in|integrat\w+ with|from)\b", re.I)
_DROP = {"the", "a", "an", "our", "its", "new", "each", "every", "one", "this", "that", "and", "or", "of", "to", "use",
         "uses", "used", "keep", "call", "calls", "ask", "asks", "from", "with", "in", "on", "by", "via", "through",
         "for", "into", "is", "are", "be"}
_MERMAID_NODE = r"([A-Za-z_][\w-]*)(?:\[\(?\"?([^\]\"]*)\"?\)?\]|\(\(?\"?([^)\"]*)\"?\)?\)|\{\"?([^}\"]*)\"?\})?"
_MERMAID_EDGE = re.compile(_MERMAID_NODE + r"\s*(?:-->|---|-\.->|==>|--[^->|]+-->|-\.-|===)\s*(?:\|([^|]*)\|\s*)?"
                           + _MERMAID_NODE)


_MERMAID_MESSAGE = re.compile(r"^\s*(\w+)\s*--?>>?[+-]?\s*(\w+)\s*:\s*(.*)$")


def section_paths(sections: list[Section]) -> list[tuple[int, str]]:
    """(first line, 'Parent > Child' heading path) for every section, in order."""
    out: list[tuple[int, str]] = []
    stack: list[Section] = []
    for s in sorted(sections, key=lambda s: s.line):
        while stack and stack[-1].level >= s.level:
            stack.pop()
        stack.append(s)
        out.append((s.line, " > ".join(x.title for x in stack if x.number or len(stack) == 1)))
    return out


def section_at(paths: list[tuple[int, str]], line: int) -> str:
    """The heading path that a line falls under ('' before the first heading)."""
    found = ""
    for start, path in paths:
        if start > line:
            break
        found = path
    return found


def heading_of(file: SourceFile | None, line: int) -> str:
    """The heading path a line of a document file falls under ('' for code or before the first heading)."""
    return section_at(section_paths(file.sections), line) if file is not None else ""


def dependency_names(text: str) -> list[str]:
    """Named services, APIs and providers a sentence relies on, or says how they fail ('push provider')."""
    if not _DEP_VERB.search(text) and not FAILURE.search(text) and not re.search(r"third[- ]party|external", text,
                                                                                 re.I):
        return []
    names = []
    for m in _DEP.finditer(text):
        words = m.group(1).lower().split()
        cut = max((i + 1 for i, w in enumerate(words) if w in _DROP), default=0)  # 'proposes one gateway': 'gateway'
        name = " ".join(words[cut:])
        if name and name not in names and not re.fullmatch(r"(?:api|service|system|library)", name):
            names.append(name)
    return names


# A third party the document names ('LedgerPro, our subscription billing vendor since 2019', 'the payment provider
# Stripe'): later sentences say only its name, so the name is what a dependency on it looks like.
_NAMED_VENDOR = re.compile(r"\b([A-Z][A-Za-z0-9]+(?:[ -][A-Z][A-Za-z0-9]+)?),\s+(?:our|the|a|an|its)\s+"
                           r"(?:[\w-]+\s+){0,3}?(vendor|provider|gateway|supplier|partner)\b|"
                           r"\b(?:vendor|provider|gateway|supplier)\s+(?:called\s+|named\s+)?([A-Z][A-Za-z0-9]+)\b")
# what a named vendor does for the system when a sentence names it without a dependency verb
_SUPPLIES = re.compile(r"\b(produces?|exports?|supplies|provides?|delivers?|hands? over|downloads?|imports?|loads?|"
                       r"sends?|sync\w*|hosts?|processes)\b", re.I)


def named_vendors(text: str) -> list[str]:
    """Third parties a document introduces by name (an appositive 'X, our ... vendor' or 'the provider X')."""
    names = [m.group(1) or m.group(3) for m in _NAMED_VENDOR.finditer(text)]
    return list(dict.fromkeys(n for n in names if n and n.lower() not in _DROP))


def classify(text: str, vendors: tuple[str, ...] = ()) -> tuple[str, list[str], list[str], bool, list[Quantity]]:
    """(main kind, tags, dependency names, external, quantities) of one statement, from cue words and numbers;
    `vendors` are the third parties the document introduced by name (named_vendors)."""
    tags = [kind for kind, rx in CUES.items() if rx.search(text)]
    qs = quantities(text)
    if qs:
        tags.insert(0, "limit" if any(q.bound for q in qs) else "number")
    deps = dependency_names(text)
    if vendors and (_SUPPLIES.search(text) or _DEP_VERB.search(text)):
        deps += [f"vendor {v}" for v in vendors if re.search(rf"\b{re.escape(v)}\b", text)]
    if deps:
        tags.append("dependency")
    external = any(n in d for d in deps for n in EXTERNAL_NOUNS) or bool(re.search(r"third[- ]party", text, re.I))
    order = ("limit", "number", "requirement", "dependency", "decision", "owner", "assumption")
    kind = next((k for k in order if k in tags), "statement")
    return kind, tags, deps, external, qs


def _clean(text: str) -> str:
    return " ".join(text.replace("**", "").split())


def table_rows(lines: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Markdown table rows as 'Header: cell; Header: cell' statements (the header row itself is skipped)."""
    cells = [[c.strip() for c in text.strip().strip("|").split("|")] for _, text in lines]
    if len(lines) < 2 or not _TABLE_SEP.match(lines[1][1]):
        return [(n, _clean(" ".join(c))) for (n, _), c in zip(lines, cells, strict=True)]
    header = cells[0]
    out = []
    for (n, _), row in zip(lines[2:], cells[2:], strict=True):
        pairs = [f"{h}: {v}" if h else v for h, v in zip(header, row, strict=False) if v]
        out.append((n, _clean("; ".join(pairs))))
    return out


def mermaid_statements(lines: list[tuple[int, str]]) -> list[tuple[int, str, list[str]]]:
    """(line, statement, dependency names) for each node and edge of a Mermaid diagram (flowchart or sequence)."""
    out: list[tuple[int, str, list[str]]] = []
    labels: dict[str, str] = {}
    for n, text in lines:
        if m := _MERMAID_MESSAGE.match(text):
            a, b, what = m.group(1), m.group(2), m.group(3).strip()
            out.append((n, f"{a} calls {b}" + (f" ({what})" if what else ""), [b.lower()]))
            continue
        for m in _MERMAID_EDGE.finditer(text):
            a, b = m.group(1), m.group(6)
            la = next((g for g in m.group(2, 3, 4) if g), None)
            lb = next((g for g in m.group(7, 8, 9) if g), None)
            for node, label in ((a, la), (b, lb)):
                if label:
                    labels[node] = label.strip().strip('()"').strip()
                if node not in labels:
                    labels[node] = node
                    out.append((n, f"Diagram node: {labels[node]}", [labels[node].lower()]))
                elif label:
                    out.append((n, f"Diagram node: {labels[node]}", [labels[node].lower()]))
            edge = f" ({m.group(5).strip()})" if m.group(5) else ""
            out.append((n, f"{labels[a]} depends on {labels[b]}{edge}", [labels[b].lower()]))
    return out


def statements(file: SourceFile) -> list[tuple[int, str, str]]:
    """(line, text, source) of every statement: sentences of paragraphs and items, table rows, diagram edges."""
    out: list[tuple[int, str, str]] = []
    para: list[tuple[int, str]] = []
    block: list[tuple[int, str]] = []
    fence: tuple[str, str] | None = None

    def flush() -> None:
        if para:
            out.extend(sentences(para))
            para.clear()

    for n, raw in enumerate(file.lines, 1):
        m = _FENCE.match(raw)
        if fence is not None:
            if m and m.group(1)[0] == fence[0][0]:
                if fence[1] == "mermaid":
                    out.extend((ln, text, "diagram") for ln, text, _ in mermaid_statements(block))
                fence, block = None, []
            else:
                block.append((n, raw))
            continue
        if m:
            flush()
            fence = (m.group(1), m.group(2).lower())
            continue
        stripped = raw.strip()
        if stripped.startswith("|") and file.language == "markdown":
            flush()
            block.append((n, raw))
            continue
        if block:
            out.extend((ln, text, "table") for ln, text in table_rows(block))
            block = []
        heading = any(s.line == n for s in file.sections) or _HEADING.match(raw)
        if not stripped or heading or _PAGE.match(stripped) or stripped.startswith(("+--", "+==")):
            flush()
            continue
        if _ITEM.match(raw):
            flush()
            stripped = _ITEM.sub("", raw).strip()
        para.append((n, stripped))
    flush()
    if block:
        out.extend((ln, text, "table") for ln, text in table_rows(block))
    return [(n, t, s) for n, t, s in out if len(t) >= 8]


def sentences(para: list[tuple[int, str]]) -> list[tuple[int, str, str]]:
    """Split a paragraph (lines joined) into sentences, each with the line it starts on."""
    text, starts = "", []
    for n, line in para:
        starts.append((len(text), n))
        text += line + " "
    out = []
    pos = 0
    for piece in _SENTENCE_END.split(text.strip()):
        at = text.find(piece, pos)
        pos = at + len(piece)
        line = max(n for off, n in starts if off <= max(at, 0))
        out.append((line, _clean(piece), "rule"))
    return out


KEEP = (NOTABLE, SEQUENTIAL, WORD_CADENCE, NO_CREDENTIAL, FAIL_OPEN, lifecycle.WAY_BACK, resilience.SYNC_COPY,
        resilience.CACHED_FOR, resilience.INVALIDATED, failures.STAMPEDE, failures.COALESCED, URL_KEY,
        KEYED_BY_CALLER, resilience.WATCHER, resilience.NO_LOSS, resilience.ASYNC_COPY, sizing.COUNT_BEYOND,
        sizing.POLLERS, resilience.WAITS, resilience.DEP_LATENCY, lifecycle.SIDE_WINS, lifecycle.LIFETIME,
        ANY_INSIDER, SENSITIVE, BY_ADDRESS, SIGNED, QUERY_PARAMS, URL_CREDENTIAL, CREDENTIAL, FRAUD, failures.RETRY,
        failures.CREATES, failures.SAFE_REPEAT, failures.DUAL_WRITE, failures.IN_STEP, failures.EXPIRES,
        failures.DONE_MARK, failures.SERIAL, lifecycle.DROP_OLD, lifecycle.NEWER_WINS, lifecycle.DEVICE_CLOCK,
        lifecycle.DELETE_ALL, lifecycle.SIZE_FLUSH, lifecycle.REWARD_NOW, lifecycle.TAKEN_BACK, lifecycle.RECOVERY,
        lifecycle.ORDERED, lifecycle.TIME_FLUSH)


def notable(text: str) -> bool:
    """Whether a statement with no cue word is still a claim: a rule reads it (growth, open access, credentials,
    personal data, a retry and what makes it safe, a dual write, an expiry, work marked done, a reward for a free
    action)."""
    return any(rx.search(text) for rx in KEEP) or bool(REWARD.search(text) and (UNVERIFIED_ACT.search(text) or
                                                                             REWARD_GUARD.search(text)))


def extract_claims(file: SourceFile, start: int = 1) -> list[Claim]:
    """Every checkable statement of one document file, numbered CL-<start>...; plain statements are left out, except
    the choice a convenience reason points back to ('Events go to the main database. This keeps it simple.')."""
    paths = section_paths(file.sections)
    vendors = tuple(named_vendors(file.text))
    claims: list[Claim] = []

    def add(line: int, text: str, source: str, section: str, kind: str, tags: list[str], deps: list[str],
            external: bool, qs: list[Quantity]) -> None:
        claims.append(Claim(id=f"CL-{start + len(claims):03d}", kind=kind, text=text[:400], file=file.path, line=line,
                            section=section, tags=tags, quantities=qs,
                            dependencies=deps, external=external, source=source))  # type: ignore[arg-type]

    skipped: tuple[int, str, str, str] | None = None  # the last statement left out, with its section
    for line, text, source in statements(file):
        kind, tags, deps, external, qs = classify(text, vendors)
        if source == "diagram":
            kind, tags, deps = "dependency", ["dependency"], dependency_names(text) or deps
            deps = deps or [text.split(": ", 1)[-1].lower()]
        section = section_at(paths, line)
        heading = section.split(" > ")[-1]
        if kind == "statement" and not notable(text) \
                and not NFR_SECTION.search(heading) and not ALTERNATIVES_SECTION.search(heading):
            skipped = (line, text, source, section)
            continue
        if skipped is not None and POINTS_BACK.match(text) and CONVENIENCE.search(text) and line - skipped[0] <= 2 \
                and skipped[3] == section:
            add(*skipped, "decision", ["decision"], [], False, [])
        skipped = None
        add(line, text, source, section, kind, tags, deps, external, qs)
    return claims
