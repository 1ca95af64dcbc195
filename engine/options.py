"""The run options, declared once: `RunOptions` gives each its type, bound, help text and command-line spelling.

Every way of giving options is derived from it: the CLI commands and the MCP tools (their signatures, built by
`with_options`), a profile file, a batch entry, the server's `rebuttal` request body and the LangGraph Server
context (pydantic models built by `options_model`). `SURFACES` names the options each one takes. None means
"not given"; which value wins is decided once, by `engine.api.resolve`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Sequence
from copy import copy
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from engine.errors import ConfigError


@dataclass(frozen=True)
class Cli:
    """How an option is spelled on the command line, where not `--<name-with-dashes>`."""

    decls: tuple[str, ...]


class RunOptions(BaseModel):
    """Every option of a run; None: not given (`engine.api.resolve` fills the rest)."""

    model_config = ConfigDict(extra="forbid")
    profile: str | None = Field(None, description="Saved profile filling the options not given.")
    workflow: str | None = Field(None, description="Workflow name (see `rebuttal workflows`) or YAML path "
                                                   "(default: debate).")
    model: str | None = Field(None, description="provider:model for the panel (default: the embedded local model).")
    panel: list[str] | None = Field(None, description="Models assigned round-robin to personas (repeatable or a,b; "
                                                      "profile:NAME borrows a profile's panel).")
    judge: str | None = Field(None, description="provider:model of the judge (default: the panel's model).")
    judge_fallback: str | None = Field(None, description="Second judge if the first fails.")
    personas: int | None = Field(None, ge=1, le=256, description="Number of generated personas (default: the "
                                                                 "workflow's, else 5; 3 on the local model).")
    persona: list[str] | None = Field(None, description="Library persona slug or persona file path (repeatable) "
                                                        "instead of generating.")
    k: Annotated[int | None, Cli(("-k",))] = Field(None, ge=0, le=64, description="Reviews each persona answers "
                                                   "(default: the workflow's, else 3; 1 on the local model).")
    max_calls: int | None = Field(None, ge=1, description="Stop after this many calls.")
    max_tokens: int | None = Field(None, ge=1, description="Stop before exceeding this many tokens.")
    max_usd: float | None = Field(None, ge=0, description="Stop before exceeding this cost in USD.")
    concurrency: int | None = Field(None, ge=1, le=1024, description="Calls in flight at once (default 16; 4 on "
                                                                      "the local model).")
    strict: Annotated[bool | None, Cli(("--strict/--no-strict",))] = Field(
        None, description="Fail the run when a persona fails instead of dropping it.")
    seed: int | None = Field(None, description="Seed for shuffles (default 0).")
    execute: Annotated[bool | None, Cli(("--execute/--no-execute",))] = Field(
        None, description="Run a model-written reproducer per Python/JS finding in a sandboxed copy of the target.")
    execute_unsafe: Annotated[bool | None, Cli(("--execute-unsafe-no-sandbox",))] = Field(
        None, description="--execute even where no sandbox works: target and model code run unisolated (limits "
                          "only).")


ALL = tuple(RunOptions.model_fields)
BUDGET = ("max_calls", "max_tokens", "max_usd")
SANDBOXED = tuple(n for n in ALL if n != "execute_unsafe")  # only a person at the command line may opt out
SURFACES: dict[str, tuple[str, ...]] = {
    "cli": ALL,  # rebuttal review, rebuttal estimate
    "profile": tuple(n for n in ALL if n != "profile"),  # a profile file (it names no other profile)
    "profile-save": tuple(n for n in SANDBOXED if n != "profile"),  # rebuttal profile save
    "batch": SANDBOXED,  # rebuttal batch and each entry of a batch file
    "mcp": SANDBOXED,  # the MCP tools review and estimate
    "langgraph": SANDBOXED,  # a LangGraph Server run's context
    # The OpenAI-compatible server's `rebuttal` body: the request's model name picks the workflow or profile.
    "request": ("personas", "persona", "k", "panel", "judge", *BUDGET, "strict", "execute"),
    "budget": BUDGET,  # rebuttal resume, the MCP tool resume, RunSettings.budget
}
REMOTE = ("request", "langgraph")  # options models a client program fills in: library slugs only (MCP: parameter)
SLUG = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$")]
SLUG_HELP = "Library persona slug (repeatable) instead of generating."
RESUME_HELP = {"max_calls": "A larger call budget (the whole run's, spent calls included).",
               "max_tokens": "A larger token budget.", "max_usd": "A larger cost budget."}


def options_model(name: str, surface: str, doc: str, **extra: Any) -> type[BaseModel]:
    """A pydantic model (extra="forbid") of the `extra` fields, then the options of `surface` exactly as
    `RunOptions` declares them (type, bound, default, description)."""
    fields = {n: (RunOptions.model_fields[n].annotation, copy(RunOptions.model_fields[n])) for n in SURFACES[surface]}
    if surface in REMOTE and "persona" in fields:  # a client names library personas, never a file on the server
        fields["persona"] = (list[SLUG] | None, Field(None, description=SLUG_HELP))
    model: type[BaseModel] = create_model(name, __config__=ConfigDict(extra="forbid"), __doc__=doc,
                                          __module__=__name__, **extra, **fields)
    return model


def bounded(name: str) -> Any:
    """Run option `name`'s type without None, with its bounds (`Annotated[int, Ge(0), Le(64)]`): for a model whose
    field always holds a value (RunSettings, a workflow file's defaults)."""
    field = RunOptions.model_fields[name]
    inner = next(a for a in get_args(field.annotation) if a is not type(None))
    return Annotated[(inner, *(m for m in field.metadata if not isinstance(m, Cli)))]


def one_line(exc: ValidationError) -> ConfigError:
    """A pydantic error as the one-line `option k: Input should be ...`."""
    e = exc.errors()[0]
    return ConfigError(f"option {'.'.join(map(str, e['loc']))}: {e['msg']}")


def run_options(data: BaseModel | dict[str, Any]) -> RunOptions:
    """RunOptions from a surface's model (its run options) or a dict of options; None is "not given"."""
    values = data.model_dump(include=set(ALL)) if isinstance(data, BaseModel) else data
    try:
        return RunOptions.model_validate({k: v for k, v in values.items() if v is not None})
    except ValidationError as exc:
        raise one_line(exc) from None


def given(value: Any) -> bool:
    """Whether an option value counts as given (not None, not an empty list)."""
    return value is not None and value != [] and value != ()


def first_given(layers: Sequence[BaseModel]) -> dict[str, Any]:
    """Per option, the value of the first layer that gives it (the layers go from most to least explicit)."""
    out: dict[str, Any] = {}
    for layer in layers:
        for name in type(layer).model_fields:
            value = getattr(layer, name)
            if name not in out and given(value):
                out[name] = value
    return out


def bounds(field: Any) -> str:
    """A field's bounds in words for --help: `(0 to 64)`, `(at least 1)`, '' when unbounded."""
    ge = next((m.ge for m in field.metadata if getattr(m, "ge", None) is not None), None)
    le = next((m.le for m in field.metadata if getattr(m, "le", None) is not None), None)
    if le is None:
        return "" if ge is None else f"(at least {ge})"
    return f"(at most {le})" if ge is None else f"({ge} to {le})"


def parameter(name: str, style: str, help: str | None = None) -> inspect.Parameter:
    """One option as a keyword parameter: a typer Option (`style="cli"`: its bounds in the help, checked later by
    `RunOptions`, so a bad value is a one-line error) or a pydantic-checked MCP tool argument (`style="mcp"`)."""
    field = RunOptions.model_fields[name]
    decls = next((m.decls for m in field.metadata if isinstance(m, Cli)), ())
    checks = [m for m in field.metadata if not isinstance(m, Cli)]
    text = help or field.description or ""
    if style == "cli":
        import typer

        note = bounds(field)
        annotation: Any = Annotated[field.annotation, typer.Option(*decls, help=f"{text} {note}".strip())]
    elif name == "persona":  # an MCP client names library personas, never a file on this machine
        annotation = Annotated[list[SLUG] | None, Field(description=help or SLUG_HELP)]
    else:
        annotation = Annotated[(field.annotation, *checks, Field(description=text))]
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=annotation)


F = TypeVar("F", bound=Callable[..., Any])


def with_options(surface: str, style: str = "cli", *, help: dict[str, str] | None = None) -> Callable[[F], F]:
    """Decorator: the function's `**options` become one keyword parameter per option of `surface` (typer and the
    MCP SDK read `inspect.signature`); `help` overrides an option's help text for this command."""
    def wrap(fn: F) -> F:
        sig = inspect.signature(fn, eval_str=True)
        own = [p for p in sig.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
        extra = [parameter(n, style, (help or {}).get(n)) for n in SURFACES[surface]]
        fn.__signature__ = sig.replace(parameters=[*own, *extra])  # type: ignore[attr-defined]
        return fn
    return wrap


def command_line(ctx: Any, values: dict[str, Any], names: Iterable[str] = ALL) -> RunOptions:
    """The RunOptions given on a command line: only options whose value did not come from a default."""
    # Compared by name: typer vendors its own copy of click, so the enum classes differ.
    defaults = ("DEFAULT", "DEFAULT_MAP")
    chosen = {n: values[n] for n in names
              if n in values and getattr(ctx.get_parameter_source(n), "name", None) not in defaults}
    return run_options(chosen)
