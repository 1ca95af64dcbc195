"""The feature vector behind a finding's truth score (pure): what the engine checked and what the debate said.

Every feature is 0 when its signal is absent, so a missing signal adds nothing to the logistic model
(engine/verify/calibration.py): without a judge answer the `judge` feature is 0 and truth rests on the
checks and the debate alone; without a reproducer the three reproducer indicators are 0.

| feature | value |
|---|---|
| judge | logit of the judge's P(yes), clipped to P in [0.02, 0.98]; 0 without a judge answer |
| quote_verified / quote_not_found | 1 when the quote is at the cited lines / nowhere in the target (moved: both 0) |
| location_refutes | 1 when a location check refutes the cited lines (or no quote check's cited place exists) |
| analyzer_support | 1 when an analyzer check (ruff, bandit, oxlint) at the finding's lines supports it (one test |
|   | that ruff and bandit both report counts once: it was a count until 2026-11-28, 2 for such twins) |
| reproduced / not_reproduced / reproducer_broken | the reproducer's outcome (all 0 when none ran) |
| raisers | personas that raised it independently beyond the first, at most 4 (the analyzers and the claims |
|   | checker not counted: copies of one model agreeing are weak evidence, measured apart from a checker's) |
| checker_agrees | 1 when a persona raised it and the analyzers or the claims checker raised the same claim on |
|   | their own (a model and an engine check agreeing independently) |
| agree / disagree / concede / maintain | debate counts, at most 5 each (`disagree`: only those backed by a |
|   | counter-quote found in the target) |
| severity | severity rank centred: low -1.5, medium -0.5, high 0.5, critical 1.5 |
| claims_certain / claims_confirmed | 1 when a document's claims cross-check at the finding's lines supports it: a |
|   | rule hit that needs no model (certain), or a pair the rule shortlisted and a model call confirmed |
|   | (confirmed); at most one of the two, the stronger |
| generic_title | 1 when a model-raised finding's title only repeats a heading of the review prompt's checklist |
|   | ("Unbounded Cost", "Missing Authentication", "Security and privacy holes"): the small model echoing |
|   | the prompt instead of naming a problem; 0 when an analyzer or the claims checker raised it |
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from engine.claims.model import CLAIMS_CHECKER
from engine.claims.wishes import asks_only_for_more, is_wish
from engine.target.classify import is_document_path
from engine.verify.checks import Check
from engine.verify.matching import ANALYZERS

FEATURES: tuple[str, ...] = (
    "judge", "quote_verified", "quote_not_found", "location_refutes", "analyzer_support", "reproduced",
    "not_reproduced", "reproducer_broken", "raisers", "checker_agrees", "agree", "disagree", "concede", "maintain",
    "severity", "generic_title", "claims_certain", "claims_confirmed",
)
# The headings of the review prompt's checklists (templates/prompts/review.md.j2 and _doc_checklist.md.j2;
# tests/test_truth.py checks each still appears there), as the content words a title that echoes one uses.
CHECKLIST_HEADINGS: tuple[str, ...] = (
    "wrong logic", "wrong arithmetic", "wrong boundaries", "unhandled errors", "edge cases", "untrusted input",
    "missing authentication authorisation authorization", "unbounded cost", "claims contradict",
    "contradictions between sections", "external dependency dependencies", "unbounded cost growth",
    "security privacy holes", "requirements cannot tested", "decisions taken alternatives reason",
    "missing non-functional requirements",
)
MECHANICAL_RAISERS = frozenset({ANALYZERS, CLAIMS_CHECKER})
_STOP = frozenset(["a", "an", "the", "of", "or", "and", "in", "on", "to", "for", "with", "without", "by", "at", "from",
                   "is", "are", "be", "not", "no", "that", "this", "its", "it", "as", "each", "which", "what", "who",
                   "when"])
EVIDENCE_RANK = {"verified": 3, "moved": 2, "not_found": 1}
SEVERITY_CENTRED = {"low": -1.5, "medium": -0.5, "high": 0.5, "critical": 1.5}
P_CLIP = 0.02


@dataclass
class Signals:
    """What is known about one finding when it is scored."""

    evidence_status: str = "not_found"  # compile's own quote check of the cluster's best member
    checks: list[Check] = field(default_factory=list)  # the verify stage's checks for this finding
    judge_p_yes: float | None = None
    judge_mode: str | None = None
    raisers: int = 1  # independent raisers (cluster authors), the analyzers and the claims checker among them
    agree: int = 0
    disagree: int = 0  # supported disagreements only
    concede: int = 0
    maintain: int = 0
    severity: str = "medium"
    title: str = ""
    raised_by: tuple[str, ...] = ()  # persona slugs of the raisers


def content_words(text: str) -> list[str]:
    """Lower-case words of 3+ letters, stop words dropped, a plural -s cut."""
    return [w.rstrip("s") for w in re.findall(r"[a-z][a-z\-]+", text.lower()) if w not in _STOP and len(w) > 2]


_HEADING_WORDS = [set(content_words(h)) for h in CHECKLIST_HEADINGS]


def generic_title(title: str) -> bool:
    """A short title (at most 5 content words, nothing quoted, no code or number) whose words are at least
    two thirds those of one checklist heading: "Unbounded Cost", "Lack of Authentication and Authorization"."""
    if re.search(r"[`'\"()\[\]0-9_.=<>]", title):
        return False
    words = content_words(title)
    if not words or len(words) > 5:
        return False
    return any(sum(w in h for w in words) / len(words) >= 0.66 for h in _HEADING_WORDS)


def echoes_checklist(title: str, raised_by: tuple[str, ...] | list[str]) -> bool:
    """generic_title, for a finding no analyzer or claims checker raised."""
    return not (set(raised_by) & MECHANICAL_RAISERS) and generic_title(title)


def set_aside_reason(title: str, file: str, raised_by: list[str] | tuple[str, ...], quote: str,
                     fix: str | None = None) -> str | None:
    """Why a model's claim is not reported as a finding, or None (`quote`: its best quote verdict). Only claims
    no analyzer or claims checker raised: when their quote is not found in the target, in a document every such
    claim ("add more detail" is not a finding), in code one whose title only repeats a checklist heading. A found
    quote keeps a claim whatever its title, since its fix may name the flaw the title does not (RESULTS §7),
    except in a document when the fix names nothing but more to write and the title names no flaw either: it only
    repeats the checklist ("Unbounded cost" / "The document should specify the cost ...") or only wishes for more
    ("Missing payment flow section" / "Add a section on the payment flow"): 2 real of 20 on the tuning documents,
    both with checklist titles (RESULTS §18, §19). `fix` None: not known, not judged."""
    if set(raised_by) & MECHANICAL_RAISERS:
        return None
    if quote in ("verified", "moved"):
        if fix is not None and is_document_path(file) and asks_only_for_more(fix):
            if generic_title(title):
                return "the title only repeats a heading of the document checklist and the fix only asks for more"
            if is_wish(title):
                return "the title and the fix only ask the document to say more: 'add more detail' is not a finding"
        return None
    if is_document_path(file):
        return "no quote from the document: a document finding must quote the sentence it is about"
    if generic_title(title):
        return "the title only repeats a heading of the review checklist and the quoted evidence is not in the target"
    return None


def logit(p: float) -> float:
    """log(p / (1 - p)) with p clipped to [P_CLIP, 1 - P_CLIP]."""
    p = min(1 - P_CLIP, max(P_CLIP, p))
    return math.log(p / (1 - p))


def quote_status(evidence_status: str, checks: list[Check]) -> str:
    """The best quote verdict from compile's matcher and the verify stage's quote checks."""
    verdicts = [evidence_status]
    for c in checks:
        if c.kind != "quote":
            continue
        status = c.data.get("status") or c.data.get("verdict")
        if status == "no_quote":
            status = "not_found"
        elif status not in EVIDENCE_RANK:
            status = {"supports": "verified", "refutes": "not_found"}.get(c.outcome)  # inconclusive: no verdict
        if status:
            verdicts.append(str(status))
    return max(verdicts, key=lambda v: EVIDENCE_RANK.get(v, 0))


def location_refuted(checks: list[Check]) -> bool:
    """A location check refutes the cited lines, or every quote check says its cited file or lines do not exist."""
    if any(c.kind == "location" and c.outcome == "refutes" for c in checks):
        return True
    places = [c.data.get("location") for c in checks if c.kind == "quote" and c.data.get("location")]
    return bool(places) and all(p in ("file_missing", "lines_out_of_range") for p in places)


def reproducer_outcome(checks: list[Check]) -> str | None:
    """reproduced when any reproducer check reproduced it (a responder's or the verifier's), else the last one's
    outcome (not_reproduced / broken), or None when none ran."""
    runs = [c for c in checks if c.kind == "reproducer"]
    if not runs:
        return None
    c = next((r for r in runs if r.outcome == "supports"), runs[-1])
    said = {"broken_check": "broken", "timeout": "broken"}.get(str(c.data.get("classification")),
                                                             c.data.get("classification"))
    if said in ("reproduced", "not_reproduced", "broken"):
        return str(said)
    return {"supports": "reproduced", "refutes": "not_reproduced", "inconclusive": "broken"}[c.outcome]


def claims_strength(checks: list[Check]) -> str | None:
    """`claims_certain` when a supporting claims cross-check needed no model, `claims_confirmed` when the strongest
    is a pair a model call confirmed, else None."""
    found = {c.data.get("strength") for c in checks if c.kind == "claims" and c.outcome == "supports"}
    return "claims_certain" if "certain" in found else "claims_confirmed" if "confirmed" in found else None


def rule_of(c: Check) -> str:
    """An analyzer check's rule id (B006, S301, ...), else its checker name."""
    return str(c.data.get("rule") or c.data.get("code") or c.data.get("test_id") or c.kind.split(":")[-1])


def split_raisers(raisers: int, raised_by: tuple[str, ...] | list[str]) -> tuple[list[str], int]:
    """(the engine's checkers among a finding's independent raisers, how many personas raised it). A checker in
    `raised_by` is always an author: the analyzers and the claims checker write reviews, never agree with one."""
    checkers = sorted(set(raised_by) & MECHANICAL_RAISERS)
    return checkers, max(0, raisers - len(checkers))


def raiser_features(raisers: int, raised_by: tuple[str, ...] | list[str]) -> dict[str, float]:
    """`raisers` (personas beyond the first, at most 4) and `checker_agrees` (a persona and a checker both)."""
    checkers, personas = split_raisers(raisers, raised_by)
    return {"raisers": float(min(personas, 5) - 1) if personas > 1 else 0.0,
            "checker_agrees": float(bool(checkers and personas))}


def extract(s: Signals) -> tuple[dict[str, float], dict[str, str]]:
    """(features, a short human label for each feature that is set), for the model and the rationale."""
    x: dict[str, float] = dict.fromkeys(FEATURES, 0.0)
    label: dict[str, str] = {}
    if s.judge_p_yes is not None:
        x["judge"] = round(logit(s.judge_p_yes), 4)
        how = "" if s.judge_mode != "verbal" else " (verbal)"
        label["judge"] = f"judge P(yes)={s.judge_p_yes:.2f}{how}"
    quote = quote_status(s.evidence_status, s.checks)
    if quote == "verified":
        x["quote_verified"], label["quote_verified"] = 1.0, "quote verified"
    elif quote == "not_found":
        x["quote_not_found"], label["quote_not_found"] = 1.0, "quote not found"
    if location_refuted(s.checks):
        x["location_refutes"], label["location_refutes"] = 1.0, "location refuted"
    hits = [c for c in s.checks if c.kind.startswith("analyzer") and c.outcome == "supports"]
    if hits:
        x["analyzer_support"] = 1.0
        label["analyzer_support"] = "analyzer " + ", ".join(dict.fromkeys(rule_of(c) for c in hits))
    if key := claims_strength(s.checks):
        x[key], label[key] = 1.0, {"claims_certain": "claims cross-check (certain)",
                                   "claims_confirmed": "claims pair confirmed by a model call"}[key]
    outcome = reproducer_outcome(s.checks)
    if outcome is not None:
        key = {"reproduced": "reproduced", "not_reproduced": "not_reproduced", "broken": "reproducer_broken"}[outcome]
        x[key], label[key] = 1.0, {"reproduced": "reproducer reproduced it",
                                   "not_reproduced": "reproducer did not reproduce it",
                                   "broken": "reproducer broken"}[outcome]
    x.update(raiser_features(s.raisers, s.raised_by))
    checkers, personas = split_raisers(s.raisers, s.raised_by)
    if x["raisers"]:
        label["raisers"] = f"{personas} personas raised it independently"
    if x["checker_agrees"]:
        label["checker_agrees"] = f"a persona and the {' and the '.join(checkers)} raised it independently"
    for key, n, text in (("agree", s.agree, "agreed"), ("disagree", s.disagree, "disagreed with a found counter-quote"),
                         ("concede", s.concede, "conceded"), ("maintain", s.maintain, "maintained")):
        if n:
            x[key], label[key] = float(min(n, 5)), f"{n} {text}"
    x["severity"] = SEVERITY_CENTRED.get(s.severity, 0.0)
    label["severity"] = f"severity {s.severity}"
    if echoes_checklist(s.title, s.raised_by):
        x["generic_title"], label["generic_title"] = 1.0, "title only repeats a checklist heading"
    return x, label
