"""Claims of a document target: extract (rules, then one short model call per section), cross-check, and raise
the cross-check hits no persona raised as a `claims-checker` review."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from langgraph.runtime import Runtime

from engine import rundir
from engine.artifacts import render_template, write_json
from engine.claims.crosscheck import cross_check, names, touches
from engine.claims.extract import extract_claims as rule_claims
from engine.claims.extract import section_paths
from engine.claims.model import CLAIMS_CHECKER, Claim, Hit
from engine.claims.quantities import quantities
from engine.context import RunContext
from engine.models import SEVERITY_RANK, Issue, Persona, Review
from engine.rundir import RunDir
from engine.schemas import ClaimsOut, ContradictionOut
from engine.stages.common import MAX_TOKENS, optional_call, system_prompt, wrap, write
from engine.stages.reviews import save_review
from engine.state import RunState, latest_reviews
from engine.target.evidence import check_evidence
from engine.target.snapshot import SourceFile, TargetSnapshot
from engine.verify.features import echoes_checklist, set_aside_reason

MAX_PAIR_CALLS = 4  # "do these two statements contradict?" calls per run, for pairs the rules only shortlist
MAX_SECTION_CALLS = 6  # "which statements did the rules miss?" calls per run, one section each
# the checker's issues: deterministic hits, not a model's output, so more than a reviewer's MAX_ISSUES (a 6th hit
# below five more severe ones was dropped: a held-out document's untestable requirement, 2026-11-27)
MAX_CHECKER_ISSUES = 8
MIN_SECTION_LINES = 3
MAX_QUOTE_LINES = 6
CHECKER = Persona(slug=CLAIMS_CHECKER, name="Claims checker", role="mechanical cross-checks of the document's claims",
                  perspective="Compares the document's numbers, limits, dependencies and guarantees across sections.",
                  applies_to="document", source="checker")
FIXES = {
    "conflicting-values": "State one value for this quantity and make the other section refer to it.",
    "limit-contradiction": "Reconcile the two sections: change the design or the limit so that both hold.",
    "dependency-without-failure": "Say what happens when it is slow, fails or is down: timeout, retries, fallback.",
    "unbounded-growth": "Set a limit or retention period and say what happens when it is reached.",
    "untestable-requirement": "Replace the vague word with a measurable criterion and how it is checked.",
    "decision-without-alternative": "Name the alternatives considered and why this one wins.",
    "missing-requirement": "State the expected load and data sizes, the availability target and how much data may "
                           "be lost (backups, restore time), each with how it is measured.",
    "unsafe-retry": "Give the step an idempotency key so a second attempt cannot repeat it, or undo the first "
                    "(void the authorisation) before trying again.",
    "dual-write": "Write to one store in one transaction and feed the other from it (an outbox or change feed), or "
                  "reconcile the two and say what happens when one write fails.",
    "done-before-work": "Record the work as done only after it has succeeded (the write stored, the upload "
                        "confirmed), and make it idempotent so a redelivery or retry after a crash is harmless.",
    "lost-update": "Order edits by the server (or a logical clock) and keep the losing version as a conflicted "
                   "copy the user can open.",
    "irreversible-delete": "Keep deleted items in a trash for a period (say 30 days) from which users can restore "
                           "them, and keep version history or backups.",
    "serial-calls": "Put the calls on a queue and make them from workers, in parallel and each with a short timeout, "
                    "so that a slow receiver delays only its own calls.",
    "security-exposure": "Check on every request that the caller may read or change this data; deny by default.",
    "sensitive-data": "Redact or leave out credentials and personal data before they are stored, logged or sent on; "
                      "say who may read what is kept, and for how long.",
}
RAISED = ("certain", "confirmed")


def numbered(file: SourceFile, lo: int, hi: int) -> str:
    """Lines lo..hi of a file in the FILE / 'n| text' form the prompts use."""
    body = "\n".join(f"{n}| {file.lines[n - 1]}" for n in range(lo, hi + 1))
    return f"=== FILE: {file.path} (lines {lo}-{hi}) ===\n{body}"


def section_spans(file: SourceFile) -> list[tuple[str, int, int]]:
    """(heading path, first line, last line) of every section of a file."""
    paths = section_paths(file.sections)
    starts = [line for line, _ in paths] + [len(file.lines) + 1]
    return [(path, line, starts[i + 1] - 1) for i, (line, path) in enumerate(paths)] or [("", 1, len(file.lines))]


def section_jobs(target: TargetSnapshot) -> list[tuple[SourceFile, str, int, int]]:
    """(file, heading path, first, last line) of the sections worth a model call, largest first."""
    spans = [(f, *s) for f in target.files for s in section_spans(f) if s[2] - s[1] + 1 >= MIN_SECTION_LINES]
    return sorted(spans, key=lambda s: -(s[3] - s[2]))


def planned_calls(target: TargetSnapshot) -> int:
    """The claims stage's model calls for a target, at most: capped sections plus capped candidate pairs."""
    if not target.is_document:
        return 0
    claims = [c for f in target.files for c in rule_claims(f)]
    pairs = sum(h.strength == "candidate" and len(h.claims) == 2 for h in cross_check(claims))
    return min(len(section_jobs(target)), MAX_SECTION_CALLS) + min(pairs, MAX_PAIR_CALLS)


def planned_checker_issues(target: TargetSnapshot) -> int:
    """The claims checker's issues on a document if no persona raised any of its rules' hits (the usual case on
    the embedded model): what the estimate plans truth-judge calls for (candidate pairs left out)."""
    if not target.is_document:
        return 0
    return len(unraised(cross_check([c for f in target.files for c in rule_claims(f)]), []))


def unclaimed(line: str, claimed: list[str]) -> str:
    """A line without the pieces that belong to sentences a rule already claimed: the end of one wrapped from the
    line before ('... 41 %). We would ...' -> 'We would ...'), the start of one that wraps onto the next line, or a
    whole one; '' when nothing else is left."""
    pieces = [p for p in re.split(r"(?<=[.!?])\s+", line) if p]

    def theirs(piece: str) -> bool:
        return any(whole.endswith(piece) or whole.startswith(piece) for whole in claimed)

    return " ".join(p for p in pieces if not theirs(p))


def model_claims(file: SourceFile, lo: int, hi: int, section: str, out: ClaimsOut, found: list[Claim]) -> list[Claim]:
    """The model's extra claims for one section, kept only at a line of the section the rules did not claim: not
    a line a rule's claim starts on, nor the continuation of one (a sentence wrapped over two lines: its second
    line again would compare the sentence's numbers with themselves)."""
    known = {c.line for c in found}
    claimed = [" ".join(c.text.split()) for c in found]
    added = []
    for c in out.claims:
        if not lo <= c.line <= hi or c.line in known or not file.lines[c.line - 1].strip():
            continue
        known.add(c.line)
        text = unclaimed(" ".join(file.lines[c.line - 1].split()).lstrip("-*+ "), claimed)
        if not text:
            continue
        added.append(Claim(id="", kind=c.kind, text=text[:400], file=file.path, line=c.line, section=section,
                           tags=[c.kind], quantities=quantities(text), source="model"))
    return added


async def call(ctx: RunContext, subject: str, schema: type[Any], prompt: str, **values: Any) -> Any:
    """One short structured claims call through the gateway (judge model, impartial system prompt)."""
    return await ask(ctx, subject, schema, render_template(f"prompts/{prompt}.md.j2", **values).strip())


async def ask(ctx: RunContext, subject: str, schema: type[Any], user: str) -> Any:
    """A claims call with its user message already written."""
    return await ctx.gateway.structured(stage="claims", persona="panel", subject=subject,
                                        model=ctx.settings.judge_model, schema=schema,
                                        system=system_prompt(ctx, None), user=user, max_tokens=MAX_TOKENS["claims"])


async def section_claims(ctx: RunContext, n: int, f: Any, section: str, lo: int, hi: int, claims: list[Claim],
                         notes: list[str]) -> list[Claim]:
    """The model's extra claims for one section ([] when its call failed or the budget stopped it, noted)."""
    found = [c for c in claims if c.file == f.path and lo <= c.line <= hi]
    found_lines = "\n".join(f"- line {c.line} [{c.kind}] {c.text[:100]}" for c in found) or "- (none)"
    res = await optional_call(
        ctx, call(ctx, f"section-{n}", ClaimsOut, "claims", found=wrap(ctx, found_lines),
                  target=wrap(ctx, f"Section: {section or f.path}\n" + numbered(f, lo, hi))),
        notes, lambda exc: f"claims: model extraction of '{section}' failed ({exc}); rules only there",
        stopped=f"claims: model extraction of '{section}' stopped by the budget; rules only there")
    return [] if res is None else model_claims(f, lo, hi, section, res, found)


async def add_model_claims(ctx: RunContext, claims: list[Claim], notes: list[str]) -> list[Claim]:
    """One call per section (largest first, capped), all at once: for the statements the rules missed."""
    spans = section_jobs(ctx.target)
    if len(spans) > MAX_SECTION_CALLS:
        notes.append(f"claims: {len(spans) - MAX_SECTION_CALLS} section(s) extracted by rules only (cap "
                     f"{MAX_SECTION_CALLS} model calls)")
    found = await asyncio.gather(*(section_claims(ctx, n, f, section, lo, hi, claims, notes)
                                   for n, (f, section, lo, hi) in enumerate(spans[:MAX_SECTION_CALLS], 1)))
    return list(claims) + [c for part in found for c in part]


def pair_prompt(ctx: RunContext, h: Hit, by_id: dict[str, Claim]) -> tuple[type[ContradictionOut], str]:
    """(the answer's schema, the user message) of the model's question about one shortlisted pair."""
    pair = render_template("prompts/_claim_pair.md.j2", a=by_id[h.claims[0]], b=by_id[h.claims[1]])
    return ContradictionOut, render_template("prompts/contradiction.md.j2", pair=wrap(ctx, pair.strip()),
                                             detail=h.detail).strip()


def pair_verdict_of(res: ContradictionOut) -> bool:
    """Whether the model's answer confirms the pair."""
    return bool(res.contradict)


async def pair_verdict(ctx: RunContext, h: Hit, by_id: dict[str, Claim], notes: list[str]) -> Hit:
    """One model call on a shortlisted pair: confirmed or rejected (left a candidate when it failed)."""
    schema, user = pair_prompt(ctx, h, by_id)
    res = await optional_call(
        ctx, ask(ctx, f"pair-{'-'.join(h.claims)}", schema, user),
        notes, lambda exc: f"claims: pair check {' / '.join(h.claims)} failed ({exc}); left a candidate")
    if res is None:
        return h
    return h.model_copy(update={"strength": "confirmed" if pair_verdict_of(res) else "rejected",
                                "detail": f"{h.detail}; model: {res.reason.strip()[:200]}"})


async def confirm_pairs(ctx: RunContext, claims: list[Claim], hits: list[Hit], notes: list[str]) -> list[Hit]:
    """Ask the model about the pairs the rules only shortlisted (capped, all at once); unasked ones stay
    candidates."""
    by_id = {c.id: c for c in claims}
    pairs = [i for i, h in enumerate(hits) if h.strength == "candidate" and len(h.claims) == 2]
    if len(pairs) > MAX_PAIR_CALLS:
        notes.append(f"claims: {len(pairs) - MAX_PAIR_CALLS} candidate pair(s) left unchecked (cap {MAX_PAIR_CALLS})")
    out = list(hits)
    asked = pairs[:MAX_PAIR_CALLS]
    for i, h in zip(asked, await asyncio.gather(*(pair_verdict(ctx, hits[i], by_id, notes) for i in asked)),
                    strict=True):
        out[i] = h
    return out


async def extract_claims(state: RunState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Stage: a document's claims (rules + model per section) and their cross-checks; writes claims.md/.json."""
    ctx = runtime.context
    if not ctx.target.is_document:
        return {}
    notes: list[str] = []
    claims: list[Claim] = []
    for f in ctx.target.files:
        claims += rule_claims(f, start=len(claims) + 1)
    ctx.progress.expect("claims", planned_calls(ctx.target))
    claims = await add_model_claims(ctx, claims, notes)
    claims.sort(key=lambda c: (c.file, c.line, c.source != "rule"))
    claims = [c.model_copy(update={"id": f"CL-{n:03d}"}) for n, c in enumerate(claims, 1)]
    hits = await confirm_pairs(ctx, claims, cross_check(claims), notes)
    write(ctx, rundir.CLAIMS_MD, "claims", {"id": "claims", "persona": None, "model": ctx.settings.judge_model,
                                        "derived_from": ["target"]}, claims=claims, hits=hits)
    write_json(ctx.run_dir, rundir.CLAIMS_JSON, {"claims": [c.model_dump() for c in claims],
                                             "hits": [h.model_dump() for h in hits]})
    return {"claims": claims, "claim_hits": hits, "notes": notes}


def raised_by(hit: Hit, issue: Issue) -> bool:
    """A persona's issue raises the same flaw: at the hit's lines and making its claim (crosscheck.names)."""
    return touches(hit, issue.file, issue.line_start, issue.line_end) and names(hit, issue.title, issue.fix)


def unraised(hits: list[Hit], reviews: list[Review], cap: int | None = MAX_CHECKER_ISSUES) -> list[Hit]:
    """Hits strong enough to raise that no persona's issue already raises, most severe first (the first `cap`)."""
    # an issue the report will set aside (no quote found, a checklist heading as title) raises nothing, nor does
    # one whose title only repeats a checklist heading ("Unbounded cost or growth"): it names no flaw, and taking
    # it for the hit would leave the report with the echo instead of the rule's claim
    issues = [i for r in reviews for i in r.issues if not echoes_checklist(i.title, [r.persona]) and (
        i.evidence_status is None or set_aside_reason(i.title, i.file, [r.persona], i.evidence_status) is None)]
    # the two rules that mostly shortlist (a requirement with no criterion nearby, a decision with no alternative)
    # raise only what they are certain of: a vague word, a choice justified by convenience alone
    keep = [h for h in hits if h.strength in RAISED and h.rule not in ("untestable-requirement",
                                                                        "decision-without-alternative")
            or h.rule in ("untestable-requirement", "decision-without-alternative") and h.strength == "certain"]
    keep = [h for h in keep if not any(raised_by(h, i) for i in issues)]
    return sorted(keep, key=lambda h: -SEVERITY_RANK[h.severity])[:cap]


def quote_span(ctx: RunContext, hit: Hit) -> tuple[str, int, int]:
    """(quote, first, last line): the first claim's whole sentence where it verifies, else its first line."""
    line = hit.lines[0]
    for end in range(line, line + MAX_QUOTE_LINES):
        if check_evidence(ctx.target, hit.file, line, end, hit.evidence, near=0) == "verified":
            return hit.evidence, line, end
    f = ctx.target.file(hit.file)
    raw = f.lines[line - 1].strip().lstrip("-*+| ").rstrip("| ") if f is not None and line <= len(f.lines) else ""
    return raw or hit.evidence, line, line


def hit_fix(hit: Hit) -> str:
    """The fix a hit's finding proposes: the hit's own, else its rule's, with what the rule saw."""
    return f"{hit.fix or FIXES[hit.rule]} ({hit.detail})"


def checker_issue(ctx: RunContext, n: int, hit: Hit) -> Issue:
    """A review issue for one hit, quoting the sentence (or table row, or diagram line) of its first claim."""
    quote, start, end = quote_span(ctx, hit)
    fix = hit_fix(hit)
    return Issue(id=f"R-{CHECKER.slug}#{n}", title=hit.title[:200], file=hit.file, line_start=start, line_end=end,
                 evidence=quote[:2000], severity=hit.severity, fix=fix[:1000],
                 evidence_status=check_evidence(ctx.target, hit.file, start, end, quote))


def check_claims(state: RunState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Stage: after the reviews join, a `claims-checker` review of the cross-check hits no persona raised."""
    ctx = runtime.context
    every = unraised(state.get("claim_hits", []), list(latest_reviews(state.get("reviews", [])).values()), cap=None)
    hits = every[:MAX_CHECKER_ISSUES]
    if not ctx.target.is_document or not hits:
        return {}
    notes = [f"claims checker: {len(every) - len(hits)} least severe hit(s) beyond its {MAX_CHECKER_ISSUES} issues "
             "left out of the findings (claims.md lists them)"] if len(every) > len(hits) else []
    issues = [checker_issue(ctx, n, h) for n, h in enumerate(hits, 1)]
    abstract = (f"Mechanical cross-checks of the document's claims found {len(issues)} problem(s) no reviewer raised, "
                f"led by: {issues[0].title}.")
    review = Review(id=f"R-{CHECKER.slug}", persona=CHECKER.slug, model="rules", abstract=abstract, issues=issues,
                    derived_from=["claims", "target"])
    save_review(ctx, CHECKER, review, RunDir.review_file(CHECKER.slug))
    return {"reviews": [review], **({"notes": notes} if notes else {})}

