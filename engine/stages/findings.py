"""Stage 5: each persona distils what survived from its own review, plus points it adopted.

Only a persona that answered a challenge has something to decide; for the others nothing was disputed, so
what stands is fixed (every own issue, every point it agreed with or refined) and no call is made.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from langgraph.runtime import Runtime
from langgraph.types import Send

from engine.context import RunContext
from engine.models import FindingItem, Issue, PersonaFindings
from engine.rundir import RunDir
from engine.schemas import FindingsOut, KeepOut
from engine.stages.cluster import supported
from engine.stages.common import Turn, persona_turn, save
from engine.state import FindingsTask, RunState, failed_personas, latest_reviews


def dispatch_findings(state: RunState, runtime: Runtime[RunContext]) -> list[Send] | str:
    """One Send per live persona with everything said about its review and what it endorsed."""
    ctx = runtime.context
    reviews = latest_reviews(state.get("reviews", []))
    dropped = failed_personas(state.get("failures", []))
    responses, rebuttals = state.get("responses", []), state.get("rebuttals", [])
    sends = []
    for i, p in enumerate(state.get("personas", [])):  # personas only: the analyzers review writes no findings
        if p.slug not in reviews or p.slug in dropped:
            continue
        review = reviews[p.slug]
        mine = [r for r in responses if r.persona == p.slug]
        endorsed = {pt.issue_id for r in mine for pt in r.points if pt.stance in ("agree", "refine")}
        adopted = [(iss.id, iss.title) for r in reviews.values() if r.persona != p.slug
                   for iss in r.issues if iss.id in endorsed]
        sends.append(Send("write_findings", FindingsTask(
            persona=p, index=i, review=review,
            responses_to_me=[r for r in responses if r.review_id == review.id],
            my_rebuttals=[b for b in rebuttals if b.review_id == review.id],
            adopted=adopted, others=[r for r in reviews.values() if r.persona != p.slug])))
    ctx.progress.expect("findings", sum(disputed(s.arg) for s in sends))
    return sends or "findings_done"


def own_candidates(task: FindingsTask) -> list[dict[str, Any]]:
    """The persona's own issues with a one-line summary of the debate around each."""
    out = []
    for n, issue in enumerate(task["review"].issues, 1):
        said = Counter(pt.stance if pt.stance != "disagree" or supported(pt.quote, pt.quote_status)
                       else "unsupported disagree" for r in task["responses_to_me"] for pt in r.points
                       if pt.issue_id == issue.id)
        answered = [pt.stance for b in task["my_rebuttals"] for pt in b.points if pt.issue_id == issue.id]
        heard = ", ".join(f"{k} x{v}" for k, v in sorted(said.items())) or "no responses"
        summary = f"responses: {heard}; your answers: {', '.join(answered) or 'none'}"
        out.append({"label": f"own-{n}", "issue": issue, "conceded": "concede" in answered, "summary": summary})
    return out


def adopted_candidates(task: FindingsTask) -> list[dict[str, Any]]:
    issues: dict[str, Issue] = {i.id: i for r in task["others"] for i in r.issues}
    return [{"label": f"adopt-{n}", "issue": issues[iid]} for n, (iid, _) in enumerate(task["adopted"], 1)]


def plain_title(title: str) -> str:
    """A title without a trailing location ("... (paginate.py:35-37)"), lower case, spaces collapsed."""
    return " ".join(re.sub(r"\s*\([^()]*:\s*\d+(?:\s*-\s*\d+)?\)\s*$", "", title).lower().split())


def resolve(source: str, title: str, candidates: list[dict[str, Any]], seen: set[str]) -> dict[str, Any] | None:
    """The candidate a kept point names, marked seen: by its label ("own-2", "[adopt-1]"); failing that (a small
    model often writes the file name there), by its title as the prompt listed it (a trailing location ignored),
    the first not already kept. None when neither names an unkept candidate."""
    labels = {c["label"]: c for c in candidates}
    c = labels.get(source.strip().strip("[]").lower())
    if c is None:
        wanted = plain_title(title)
        c = next((x for x in candidates if x["label"] not in seen and wanted
                  and plain_title(x["issue"].title) == wanted), None)
    if c is None or c["label"] in seen:
        return None
    seen.add(c["label"])
    return c


UNDISPUTED = "Not challenged in the debate."
NO_CALL = "none: nothing was disputed"


def disputed(task: FindingsTask) -> bool:
    """Whether one of the persona's issues was challenged: it answered a rebuttal point (only a challenge gets
    one), so it has something to decide in a findings call."""
    return any(b.points for b in task["my_rebuttals"])


def undisputed(candidates: list[dict[str, Any]]) -> FindingsOut:
    """What stands when nothing was disputed: every own issue and every point the persona agreed with or
    refined, as raised."""
    return FindingsOut(keep=[KeepOut(source=c["label"], title=c["issue"].title[:120], severity=c["issue"].severity,
                                     note=UNDISPUTED) for c in candidates])


async def write_findings(task: FindingsTask, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Stage worker: the persona keeps what it still stands by (decided without a call when nothing was
    disputed)."""
    ctx = runtime.context
    persona = task["persona"]
    own, adopted = own_candidates(task), adopted_candidates(task)

    def build(out: FindingsOut, model: str) -> Turn:
        items, seen = [], set()
        for keep in out.keep:
            c = resolve(keep.source, keep.title, own + adopted, seen)
            if c is None:
                continue
            items.append(FindingItem(
                id=f"FS-{persona.slug}#{len(items) + 1}", source_issue=c["issue"].id,
                adopted=c["label"].startswith("adopt"), title=keep.title.strip()[:200] or c["issue"].title,
                severity=keep.severity, note=keep.note.strip()[:600]))
        derived = [task["review"].id] + [r.id for r in task["responses_to_me"]] + [b.id for b in task["my_rebuttals"]]
        derived += sorted({i.source_issue.split("#")[0] for i in items if i.adopted})
        findings = PersonaFindings(id=f"FS-{persona.slug}", persona=persona.slug, model=model, items=items,
                                   derived_from=derived)
        return Turn("findings", findings, RunDir.findings_file(persona.slug), "findings", derived)

    if not disputed(task):
        turn = build(undisputed(own + adopted), NO_CALL)
        save(ctx, persona, NO_CALL, turn)
        return {turn.key: [turn.record]}
    return await persona_turn(ctx, persona, task["index"], stage="findings", subject="findings", schema=FindingsOut,
                              prompt="findings", build=build, own=own, adopted=adopted)


def findings_done(state: RunState) -> dict[str, Any]:
    """Join point after the findings fan-out."""
    return {}
