"""Helpers shared by the stages: prompts, guarded calls, target views, artifact writes."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel

from engine.artifacts import render_artifact, render_template, write_atomic
from engine.context import RunContext
from engine.errors import BudgetExceeded, ModelOutputError, ProviderError
from engine.llm.providers import context_window
from engine.models import EvidenceStatus, Failure, Issue, Persona
from engine.target.evidence import check_evidence, resolve_path
from engine.target.snapshot import SourceFile

T = TypeVar("T", bound=BaseModel)

MAX_TOKENS = {
    "personas": 1400, "reviews": 1000, "picks": 300, "responses": 850, "rebuttals": 750,
    "findings": 600, "compile": 600, "judge": 5, "critique": 500, "verify": 300, "claims": 300,
}
MAX_ISSUES = 5
PROMPT_OVERHEAD = 900  # tokens for the system prompt and instructions around the target
STAGE_ROOM = 1200  # tokens left after the shared target for a stage's own material (reviews, excerpts)


def wrap(ctx: RunContext, text: str) -> str:
    """Target text between nonce markers the target cannot forge."""
    return f"<<<DATA {ctx.nonce}>>>\n{text}\n<<<END {ctx.nonce}>>>"


def target_block(ctx: RunContext, persona: Persona | None, model: str, stage: str | None = None) -> str:
    """The whole target as this persona may see it: one budget for every stage, so calls share it as a prefix.

    `stage` no longer changes the budget (kept so older callers still work); `ask` puts this block in the
    system prompt of every call, so a stage template must not add it again.
    """
    budget = context_window(model) - max(MAX_TOKENS.values()) - PROMPT_OVERHEAD - STAGE_ROOM
    view = ctx.target.view(budget_tokens=max(budget, 500), focus=persona.focus if persona else [])
    return wrap(ctx, view.text)


def excerpts(ctx: RunContext, spans: list[tuple[str, int, int]], around: int = 6) -> str:
    """Numbered excerpts of the target around cited spans, merged per file, real line numbers."""
    by_file: dict[str, list[tuple[int, int]]] = {}
    files: dict[str, SourceFile] = {}
    for path, a, b in spans:
        f = resolve_path(ctx.target, path)
        if f is None:
            continue
        files[f.path] = f
        lo, hi = min(a, b), max(a, b)
        by_file.setdefault(f.path, []).append((max(1, lo - around), hi + around))
    parts = []
    for path in sorted(by_file):
        lines = files[path].lines
        ranges = sorted(by_file[path])
        merged: list[list[int]] = []
        for a, b in ranges:
            b = min(b, len(lines))
            if merged and a <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], b)
            elif a <= b:
                merged.append([a, b])
        if not merged:
            continue
        width = len(str(merged[-1][1]))
        body = []
        for i, (a, b) in enumerate(merged):
            if i:
                body.append("...")
            body += [f"{n:>{width}}| {lines[n - 1]}" for n in range(a, b + 1)]
        parts.append(f"=== FILE: {path} (lines {merged[0][0]}-{merged[-1][1]}) ===\n" + "\n".join(body))
    return wrap(ctx, "\n\n".join(parts) if parts else "(no excerpt: the cited locations are not in the target)")


def system_prompt(ctx: RunContext, target: str | None, plain: bool = False) -> str:
    """The system prompt: the data rules, then the target; identical for every call of a run that sees this view.

    Without a target (a call that sends only its own excerpt), the impartial organiser's role comes first, as
    before; plain: a one-word answer instead of JSON.
    """
    return render_template("prompts/system.md.j2", nonce=ctx.nonce, target=target, persona=None, plain=plain).strip()


def user_prompt(persona: Persona | None, prompt: str, **values: Any) -> str:
    """The user message: who answers (persona or impartial organiser), then the stage's instructions."""
    role = render_template("prompts/_role.md.j2", persona=persona).strip()
    return role + "\n\n" + render_template(f"prompts/{prompt}.md.j2", **values).strip()


def counter_quote_status(ctx: RunContext, issue: Issue, quote: str) -> EvidenceStatus | None:
    """Check a response's or rebuttal's quote against the target like review evidence; None when none given."""
    if not quote.strip():
        return None
    return check_evidence(ctx.target, issue.file, issue.line_start, issue.line_end, quote)


async def ask(
    ctx: RunContext, *, stage: str, persona: Persona | None, subject: str, model: str,
    schema: type[T], prompt: str, **values: Any,
) -> T:
    """Render the stage prompt and make one structured call through the gateway.

    Every prompt opens with the rules and the target (the persona's view of it), the longest part that is
    the same across the run's calls, so a server with a prompt cache evaluates it once; the persona, the
    stage's instructions and the other reviews follow in the user message.
    """
    return await ctx.gateway.structured(
        stage=stage, persona=persona.slug if persona else "panel", subject=subject, model=model, schema=schema,
        system=system_prompt(ctx, target_block(ctx, persona, model)), user=user_prompt(persona, prompt, **values),
        max_tokens=MAX_TOKENS[stage],
    )


async def optional_call(ctx: RunContext, call: Awaitable[T], notes: list[str], failed: Callable[[Exception], str],
                        stopped: str | None = None) -> T | None:
    """A model call the run can do without: its answer, or None when the budget stopped it (noted as `stopped`
    when given) or the provider or the output failed (noted by `failed`; re-raised under --strict)."""
    try:
        return await call
    except BudgetExceeded:
        if stopped:
            notes.append(stopped)
        return None
    except (ProviderError, ModelOutputError) as exc:
        if ctx.settings.strict:
            raise
        notes.append(failed(exc))
        return None


def failure_update(ctx: RunContext, stage: str, persona: str, exc: Exception) -> dict[str, Any]:
    """Turn a failed call into a visible Failure (or re-raise under --strict / budget stop)."""
    if isinstance(exc, BudgetExceeded):
        return {}
    if ctx.settings.strict or not isinstance(exc, ProviderError | ModelOutputError):
        raise exc
    return {"failures": [Failure(stage=stage, persona=persona, error=str(exc))]}


def write(ctx: RunContext, relative: str, kind: str, meta: dict[str, Any], **values: Any) -> None:
    """Render an artifact from its template and write it atomically (no fsync: see write_atomic)."""
    meta = {**meta, "created": ctx.clock()}
    write_atomic(ctx.run_dir, relative, render_artifact(kind, meta, **values), durable=False)


@dataclass(frozen=True)
class Turn:
    """What a stage worker made of its answer: the record for its state key and, with a path, its artifact."""

    key: str  # the state key that receives the record (a one-item list)
    record: Any
    path: str | None = None  # the artifact's path in the run directory (None: nothing written)
    kind: str = ""  # the artifact kind (its template); the record is rendered under this name
    derived_from: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)  # front matter after id, persona, model, derived_from
    values: dict[str, Any] = field(default_factory=dict)  # template values besides the persona and the record
    notes: list[str] = field(default_factory=list)


def save(ctx: RunContext, persona: Persona, model: str, turn: Turn) -> None:
    """Write a turn's artifact: front matter `id, kind, persona, model, derived_from, ...`, the kind's template."""
    if turn.path is None:
        return
    write(ctx, turn.path, turn.kind, {"id": turn.record.id, "persona": persona.slug, "model": model,
                                      "derived_from": turn.derived_from, **turn.meta},
          persona=persona, **{turn.kind: turn.record}, **turn.values)


async def persona_turn(
    ctx: RunContext, persona: Persona, index: int, *, stage: str, subject: str, schema: type[T], prompt: str,
    build: Callable[[T, str], Turn | Awaitable[Turn]], failed: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    **values: Any,
) -> dict[str, Any]:
    """The stage workers' skeleton: the persona's model, one structured call, then either the failure (a budget
    stop, a visible Failure, or re-raised; `failed` may reshape it) or the record built from the answer, written."""
    model = ctx.settings.model_for(index, persona)
    try:
        out = await ask(ctx, stage=stage, persona=persona, subject=subject, model=model, schema=schema,
                        prompt=prompt, **values)
    except Exception as exc:  # routed: budget stop, visible failure, or re-raised
        update = failure_update(ctx, stage, persona.slug, exc)
        return failed(update) if failed else update
    turn = build(out, model)
    if inspect.isawaitable(turn):  # a builder that still has work to await (a responder's reproducer runs)
        turn = await turn
    save(ctx, persona, model, turn)
    return {turn.key: [turn.record], **({"notes": turn.notes} if turn.notes else {})}
