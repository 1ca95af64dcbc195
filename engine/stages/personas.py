"""Stage 1: choose the panel — library personas by slug, generated ones, or N samples."""

from __future__ import annotations

import re
from typing import Any

from langgraph.runtime import Runtime

from engine.config import persona_library, resolve_personas
from engine.context import RunContext
from engine.errors import BudgetExceeded, ConfigError, ModelOutputError, ProviderError
from engine.models import Persona
from engine.paths import unique_slug
from engine.rundir import RunDir
from engine.schemas import PersonaOut, PersonasOut
from engine.stages.common import ask, write
from engine.state import RunState

STOP = {"and", "the", "of", "a", "an", "for", "to", "in", "on", "with", "reviewer", "engineer", "review", "risk",
        "risks", "expert", "analyst", "specialist", "code"}
CORRECTNESS = "correctness-reviewer"  # the library persona every generated panel keeps (issue 13)
SURPLUS = 2  # candidates asked for beyond the open seats, so near-duplicates can be dropped without a second call


def words(p: PersonaOut | Persona) -> set[str]:
    """Content words of a persona's name and focus (role sentences share too much boilerplate)."""
    text = " ".join([p.name, *p.focus]).lower()
    return {w for w in re.findall(r"[a-z0-9]+", text) if w not in STOP and len(w) > 2}


def near_duplicate(a: PersonaOut | Persona, b: PersonaOut | Persona, threshold: float = 0.4) -> bool:
    """Two personas overlap too much: same name, or Jaccard of content words above threshold."""
    if a.name.strip().lower() == b.name.strip().lower():
        return True
    wa, wb = words(a), words(b)
    return bool(wa and wb) and len(wa & wb) / len(wa | wb) >= threshold


def accept_distinct(candidates: list[PersonaOut], chosen: list[PersonaOut], n: int) -> list[PersonaOut]:
    """Add candidates that are not near-duplicates of any already chosen, up to n in all."""
    out = list(chosen)
    for c in candidates:
        if len(out) >= n:
            break
        if c.name.strip() and not any(near_duplicate(c, o) for o in out):
            out.append(c)
    return out


def library_for(ctx: RunContext) -> dict[str, Persona]:
    """Library personas suited to the target (document stakeholders vs code reviewers)."""
    kind = "document" if ctx.target.is_document else "code"
    return {s: p for s, p in persona_library().items() if p.applies_to in (kind, "any")}


def correctness_reviewer() -> Persona:
    """The plain correctness reviewer of the library: it goes through the whole target with the checklist."""
    lib = persona_library()
    if CORRECTNESS not in lib:
        raise ConfigError(f"the persona library has no {CORRECTNESS!r}: every generated panel needs it")
    return lib[CORRECTNESS]


def to_persona(c: PersonaOut, slug: str) -> Persona:
    """A generated candidate as a panel persona."""
    return Persona(slug=slug, name=c.name.strip()[:80], role=c.role.strip()[:200],
                   perspective=c.perspective.strip()[:600], focus=[f[:80] for f in c.focus[:6]], source="generated")


def assemble_panel(base: list[Persona], candidates: list[PersonaOut], library: dict[str, Persona],
                   n: int) -> tuple[list[Persona], list[str]]:
    """Base personas, then distinct candidates, then library personas, up to n (pure)."""
    chosen = accept_distinct(candidates, [], n + len(candidates))
    kept = [c for c in chosen if not any(near_duplicate(c, b) for b in base)][: max(n - len(base), 0)]
    notes = []  # surplus candidates are asked for on purpose: only a panel short of them is worth a note
    taken = {p.slug for p in base}
    personas = list(base)
    for c in kept:
        slug = unique_slug(c.name, taken)
        taken.add(slug)
        personas.append(to_persona(c, slug))
    if len(personas) < n:
        fill = [p for s, p in library.items() if s not in taken and not any(near_duplicate(p, q) for q in personas)]
        personas += fill[: n - len(personas)]
        notes.append(f"only {len(kept)} distinct personas among {len(candidates)} generated; filled from the library")
    return personas, notes


async def generate(ctx: RunContext, n: int) -> tuple[list[Persona], list[str]]:
    """The correctness reviewer plus n-1 generated specialists from ONE call (surplus asked, duplicates dropped)."""
    base = [correctness_reviewer()][:n]
    seats = n - len(base)
    if seats <= 0:
        return base, []
    out = await ask(
        ctx, stage="personas", persona=None, subject="panel", model=ctx.settings.judge_model, schema=PersonasOut,
        prompt="personas", n=seats + SURPLUS, document=ctx.target.is_document, taken=[p.name for p in base],
    )
    return assemble_panel(base, out.personas, library_for(ctx), n)


def sample_panel(ctx: RunContext, n: int) -> list[Persona]:
    """The `sample` baseline: one generalist persona, n independent samples."""
    lib = library_for(ctx)
    base = lib.get("generalist") or next(iter(lib.values()))
    return [base.model_copy(update={"slug": f"{base.slug}-{i}", "name": f"{base.name} #{i}", "source": "sample"})
            for i in range(1, n + 1)]


async def choose_personas(state: RunState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Stage: pick the panel and write `personas/<slug>.md` for each member."""
    ctx = runtime.context
    s = ctx.settings
    spec = ctx.workflow.stage("personas")
    notes: list[str] = []
    if s.persona_slugs:
        personas = resolve_personas(s.persona_slugs)
    elif spec is not None and spec.mode == "repeat":
        personas = sample_panel(ctx, s.personas)
    else:
        ctx.progress.expect("personas", 1)
        try:
            personas, notes = await generate(ctx, s.personas)
        except BudgetExceeded as exc:  # the run stops here with a partial report, like any later stage
            personas, notes = [], [f"no panel: persona generation not called ({exc})"]
        except (ProviderError, ModelOutputError) as exc:
            if s.strict:
                raise
            lib = library_for(ctx)
            personas = [lib[CORRECTNESS], *(p for k, p in lib.items() if k != CORRECTNESS)][: s.personas]
            notes = [f"persona generation failed ({exc}); used library personas instead"]
    for i, p in enumerate(personas):
        write(ctx, RunDir.persona_file(p.slug), "persona",
              {"id": p.id, "persona": p.slug, "model": s.model_for(i, p), "derived_from": ["target"],
               "slug": p.slug, "name": p.name, "role": p.role, "perspective": p.perspective, "focus": p.focus,
               "applies_to": p.applies_to, "source": p.source},
              persona=p)
    return {"personas": personas, "notes": notes}
