"""Pure matching of analyzer hits to findings and review issues, and the `analyzers` review of unraised hits."""

from __future__ import annotations

import re

from engine.models import SEVERITY_RANK, Issue, Persona, Review
from engine.verify.analyzers import AnalyzerRun, Hit
from engine.verify.checks import Check

ANALYZERS = "analyzers"  # the persona slug of the analyzers review; it never responds, rebuts or writes findings
ANALYZERS_PERSONA = Persona(
    slug=ANALYZERS, name="Static analyzers", role="maintained analyzers run by the engine (ruff, bandit, oxlint)",
    perspective="Reports analyzer hits no persona raised, so the panel can judge them.",
    focus=["bugs", "security"], applies_to="code", source="generated")
FINDING_SLACK = 1  # a hit within a finding's lines ±1 supports it
RAISED_SLACK = 2  # a review issue within ±2 lines that mentions the same thing already raised the hit
MAX_ISSUES = 10
STEM = 6
# What a persona would call the problem a rule finds: the defect, not its subject ("md5", "weak", "salt" for a weak
# hash; not "hash", which a claim that a hash is missing also says). A rule listed here is matched by these words
# only; another by the specific words of its message.
WEAK_HASH = ("md5", "sha1", "sha-1", "weak", "insecure", "bcrypt", "scrypt", "argon", "pbkdf", "salt", "sha256",
             "sha-256", "broken hash", "fast hash")
UNSAFE_YAML = ("safe_load", "safeload", "safe load", "safeloader", "unsafe", "arbitrary", "yaml.load", "loader=",
               "code execution", "deserializ")
RULE_TOPICS: dict[str, tuple[str, ...]] = {
    "B006": ("mutable", "default", "shared list", "shared dict"), "B008": ("default", "call"),
    "S301": ("pickle", "deserializ", "unpickl"), "B301": ("pickle", "deserializ", "unpickl"),
    "S307": ("eval",), "B307": ("eval",), "S102": ("exec",), "B102": ("exec",),
    "S602": ("shell", "subprocess", "command", "injection"), "B602": ("shell", "subprocess", "command", "injection"),
    "S603": ("subprocess", "command"), "S605": ("shell", "command"), "B605": ("shell", "command"),
    "S105": ("password", "secret", "hardcod", "credential"), "B105": ("password", "secret", "hardcod", "credential"),
    "S106": ("password", "secret", "hardcod", "credential"), "B106": ("password", "secret", "hardcod", "credential"),
    "S608": ("sql", "injection", "query"), "B608": ("sql", "injection", "query"),
    "S113": ("timeout",), "B113": ("timeout",), "S110": ("except", "swallow", "silent"),
    "B110": ("except", "swallow", "silent"), "S112": ("except", "swallow"), "B112": ("except", "swallow"),
    "S324": WEAK_HASH, "B324": WEAK_HASH, "S303": WEAK_HASH, "B303": WEAK_HASH,
    "S506": UNSAFE_YAML, "B506": UNSAFE_YAML, "S311": ("random",), "B311": ("random",),
    "B904": ("raise", "exception", "chain"), "PLW0602": ("global",), "F821": ("undefined", "not defined", "nameerror"),
}
GENERIC = {
    "consider", "possible", "security", "issue", "implications", "associated", "module", "modules", "used", "using",
    "when", "that", "with", "wrap", "data", "call", "calls", "function", "should", "detected", "this", "from",
    "into", "avoid", "instead", "within", "unsafe", "untrusted", "potential", "found", "structures", "argument",
    "arguments", "initialize", "replace",
}


# code a message quotes from the target ('S108 ... temporary file or directory: "/tmp/api-cache.pkl"'): the
# defect's subject, not the defect, so its words name nothing ("cache" is no claim about a temp file)
QUOTED = re.compile(r"\"[^\"]*\"|`[^`]*`|'[^'\s][^']*'")


def keywords(hit: Hit) -> set[str]:
    """Stems that name what the hit is about: its rule's topics, or for a rule without any the specific words of
    its message outside the code it quotes (a plural of a generic word is generic: "functions")."""
    if hit.rule in RULE_TOPICS:
        return set(RULE_TOPICS[hit.rule])
    words = {w.lower() for w in re.findall(r"[A-Za-z_][A-Za-z_]{3,}", QUOTED.sub(" ", hit.message))}
    return {w[:STEM] for w in words if w not in GENERIC and w.removesuffix("s") not in GENERIC}


def mentions_same(hit: Hit, issue: Issue) -> bool:
    """Whether an issue's title or fix names what the hit is about. Its quoted code is not an argument, nor is
    that code copied into the fix: "Lack of error handling", fixed by wrapping `self.entries = pickle.load(fh)` in
    a try, is not a claim about unpickling untrusted data."""
    fix = issue.fix
    for line in issue.evidence.splitlines():
        if len(line.strip()) >= 8:
            fix = fix.replace(line.strip(), " ")
    text = f"{issue.title} {fix}".lower()
    return any(k in text for k in keywords(hit))


def same_file(hit: Hit, issue_file: str | None) -> bool:
    """The hit's snapshot path is the issue's resolved path (None: the issue's file is not in the target)."""
    return issue_file is not None and hit.file == issue_file


def hits_at(hits: list[Hit], file: str | None, lo: int, hi: int, slack: int = FINDING_SLACK) -> list[Hit]:
    """The hits in a file whose lines overlap lo..hi widened by `slack`."""
    return [h for h in hits if same_file(h, file) and h.line <= hi + slack and h.end_line >= lo - slack]


def raised(hit: Hit, issues: list[tuple[Issue, str | None]]) -> bool:
    """Whether a persona raised the hit: an issue (with its resolved file) within ±2 lines mentioning it."""
    return any(same_file(hit, f) and i.line_start - RAISED_SLACK <= hit.end_line and hit.line <= i.line_end
               + RAISED_SLACK and mentions_same(hit, i) for i, f in issues)


def analyzer_checks(hits: list[tuple[Hit, str]], lead: tuple[str | None, int, int],
                    claim: Issue | None = None) -> list[Check]:
    """One `analyzer:<tool>` check per hit at the lines of a finding's issues (hit, issue id). It supports the
    finding when the finding's claim (`claim`: the lead issue) names what the hit is about, or is the analyzers'
    own issue; a hit about something else at the same lines is inconclusive. `data.at_lead` says whether it is at
    the lines of the issue the finding shows (±1) or of another member."""
    out = []
    for h, iid in hits:
        at_lead = bool(hits_at([h], lead[0], lead[1], lead[2]))
        where = f"line {h.line}" + ("" if at_lead else f", at {iid}")
        about = claim is None or claim.id.startswith(f"R-{ANALYZERS}#") or mentions_same(h, claim)
        outcome = "supports" if about else "inconclusive"
        detail = f"{h.rule} {h.message} ({where})" + ("" if about else "; the finding claims something else")
        out.append(Check(kind=f"analyzer:{h.tool}", outcome=outcome, detail=detail,
                         data={"rule": h.rule, "line": h.line, "end_line": h.end_line, "severity": h.severity,
                               "issue": iid, "at_lead": at_lead, "about_claim": about}))
    return out


def analyzer_review(run: AnalyzerRun, issues: list[tuple[Issue, str | None]],
                    line_text: dict[tuple[str, int], str]) -> Review | None:
    """The `analyzers` review: one issue per line with unraised hits of medium severity or more (low ones
    stay checks only), most severe first, at most MAX_ISSUES; None when there is nothing to add."""
    groups: dict[tuple[str, int], list[Hit]] = {}
    for h in run.hits:
        if SEVERITY_RANK[h.severity] >= SEVERITY_RANK["medium"] and not raised(h, issues):
            groups.setdefault((h.file, h.line), []).append(h)
    if not groups:
        return None
    ranked = sorted(groups.items(), key=lambda kv: (-max(SEVERITY_RANK[h.severity] for h in kv[1]), kv[0]))
    chosen = sorted(ranked[:MAX_ISSUES], key=lambda kv: kv[0])
    out = []
    for n, ((file, line), hs) in enumerate(chosen, 1):
        lead = max(hs, key=lambda h: SEVERITY_RANK[h.severity])
        rules = ", ".join(f"{h.tool} {h.rule}" for h in hs)
        out.append(Issue(
            id=f"R-{ANALYZERS}#{n}", title=f"{lead.rule}: {lead.message}"[:200], file=file, line_start=line,
            line_end=max(h.end_line for h in hs), evidence=line_text.get((file, line), "").strip(),
            severity=lead.severity, fix=f"Address {rules}: " + "; ".join(dict.fromkeys(h.message for h in hs))))
    tools = ", ".join(f"{t} {v}" for t, v in sorted(run.tools.items()))
    more = f" (the {len(ranked) - MAX_ISSUES} least severe left out)" if len(ranked) > MAX_ISSUES else ""
    abstract = (f"Static analyzers ({tools}) ran on {len(run.files)} file(s) and report {len(out)} "
                f"hit location(s) no persona raised{more}, led by {out[0].title}")
    return Review(id=f"R-{ANALYZERS}", persona=ANALYZERS, model=ANALYZERS, abstract=abstract[:2000], issues=out,
                  derived_from=["target"])
