"""Saved profiles: named review options stored as YAML in `$REBUTTAL_HOME/profiles/<name>.yaml`.

A profile fills the options a command did not give (`rebuttal review --profile NAME`, the server's
`profile/NAME` model, a batch entry's `profile:`). Panel of panels: a panel member `profile:<name>`
expands, in place, into that profile's panel (recursively; its own `model` when it has no panel).
Only the models are borrowed — the member profile's judge, workflow and limits are not. A cycle is
an error naming the chain.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from engine import yamlio
from engine.artifacts import write_atomic
from engine.config import load_workflow
from engine.errors import ConfigError
from engine.llm.providers import parse_model
from engine.paths import slugify

PROFILE_PREFIX = "profile:"


class PanelChoice(BaseModel):
    """Per-review panel options shared by batch entries and LangGraph Server runs (all optional)."""

    model_config = ConfigDict(extra="forbid")
    workflow: str | None = None
    profile: str | None = None
    model: str | None = None
    panel: list[str] | None = None
    judge: str | None = None
    personas: int | None = Field(default=None, ge=1, le=256)
    persona: list[str] | None = None
    k: int | None = Field(default=None, ge=0, le=64)
    execute: bool | None = None  # run reproducers in the sandbox (never unsandboxed from here)


# Options a profile may set; the names are `engine.api.build_settings` keyword arguments.
PROFILE_KEYS = ("workflow", "model", "panel", "judge", "judge_fallback", "personas", "persona", "k",
                "max_calls", "max_tokens", "max_usd", "concurrency", "strict", "seed", "execute", "execute_unsafe")


class Profile(BaseModel):
    """A profile file: every field optional; unknown fields are an error."""

    model_config = ConfigDict(extra="forbid")
    description: str = ""
    workflow: str | None = None
    model: str | None = None
    panel: list[str] = Field(default_factory=list)
    judge: str | None = None
    judge_fallback: str | None = None
    personas: int | None = Field(default=None, ge=1, le=256)
    persona: list[str] = Field(default_factory=list)
    k: int | None = Field(default=None, ge=0, le=64)
    max_calls: int | None = Field(default=None, ge=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_usd: float | None = Field(default=None, ge=0)
    concurrency: int | None = Field(default=None, ge=1, le=1024)
    strict: bool | None = None
    seed: int | None = None
    execute: bool | None = None
    execute_unsafe: bool | None = None  # --execute-unsafe-no-sandbox


def home() -> Path:
    """`$REBUTTAL_HOME`, default `~/.config/rebuttal`."""
    return Path(os.environ.get("REBUTTAL_HOME") or Path.home() / ".config" / "rebuttal")


def profiles_dir() -> Path:
    """The folder holding the profile files."""
    return home() / "profiles"


def check_name(name: str) -> str:
    """A profile name is a slug (lowercase letters, digits, dashes)."""
    if not name or slugify(name, "") != name:
        raise ConfigError(f"profile name must be lowercase letters, digits and dashes (e.g. {slugify(name)!r})")
    return name


def profile_path(name: str) -> Path:
    """Where profile `name` is stored."""
    return profiles_dir() / f"{check_name(name)}.yaml"


def load_profile(name: str) -> Profile:
    """Read and validate one profile; errors name the file and the field."""
    path = profile_path(name)
    if not path.exists():
        known = ", ".join(sorted(list_profiles())) or "none"
        raise ConfigError(f"unknown profile '{name}' (saved: {known}; see `rebuttal profile save`)")
    try:
        data = yamlio.load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError:
        raise ConfigError(f"{path}: invalid YAML") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a profile must be a mapping of options")
    try:
        return Profile.model_validate(data)
    except ValidationError as exc:
        e = exc.errors()[0]
        raise ConfigError(f"{path}: field '{'.'.join(map(str, e['loc']))}': {e['msg']}") from None


def list_profiles() -> dict[str, Path]:
    """Saved profile names and their files."""
    folder = profiles_dir()
    return {p.stem: p for p in sorted(folder.glob("*.yaml"))} if folder.is_dir() else {}


def split_members(panel: list[str] | None) -> list[str]:
    """`["a,b", "c"]` -> `["a", "b", "c"]` (panels may be given repeated or comma-separated)."""
    return [m.strip() for p in panel or [] for m in p.split(",") if m.strip()]


MIXED = "mixed"
MIXED_LOCAL = ["local:1.5b", "local:0.5b"]  # both embedded models share a tokenizer; they differ in what they see


def mixed_panel(chain: tuple[str, ...] = ()) -> list[str]:
    """The models of `--panel mixed`: a profile named `mixed` if saved, else $REBUTTAL_MIXED_PANEL (a,b,...),
    else the two embedded models alternating. Literature finds model diversity matters more than personas."""
    if (profiles_dir() / f"{MIXED}.yaml").exists():
        return expand_panel([PROFILE_PREFIX + MIXED], chain)
    env = split_members([os.environ.get("REBUTTAL_MIXED_PANEL", "")])
    for m in env:
        parse_model(m)
    return env or list(MIXED_LOCAL)


def expand_panel(panel: list[str], chain: tuple[str, ...] = ()) -> list[str]:
    """Replace each `profile:<name>` member by that profile's models, in order (`mixed` by `mixed_panel()`);
    cycles are errors."""
    out: list[str] = []
    for member in split_members(panel):
        if member == MIXED:
            if MIXED in chain:
                raise ConfigError(f"profile cycle: {' -> '.join([*chain, MIXED])}")
            out.extend(mixed_panel(chain))
            continue
        if not member.startswith(PROFILE_PREFIX):
            out.append(member)
            continue
        name = member[len(PROFILE_PREFIX):]
        if name in chain:
            raise ConfigError(f"profile cycle: {' -> '.join([*chain, name])}")
        prof = load_profile(name)
        if prof.panel:
            out.extend(expand_panel(prof.panel, (*chain, name)))
        elif prof.model:
            out.append(prof.model)
        else:
            raise ConfigError(f"profile '{name}' is used as a panel member but names no panel and no model")
    return out


def given(value: Any) -> bool:
    """Whether an option value counts as given (not None, not an empty list)."""
    return value is not None and value != [] and value != ()


def apply_profile(name: str, options: dict[str, Any], explicit: set[str] | None = None) -> dict[str, Any]:
    """Options filled from profile `name` where not given; `explicit` names the options the user gave."""
    prof = load_profile(name)
    out = {k: options.get(k) for k in PROFILE_KEYS}
    for key in PROFILE_KEYS:
        user_gave = key in explicit if explicit is not None else given(out[key])
        value = getattr(prof, key)
        if not user_gave and given(value):
            out[key] = value
    out["panel"] = expand_panel(list(out["panel"] or []), (name,))
    return out


def resolve_options(profile: str | None, options: dict[str, Any], explicit: set[str] | None = None) -> dict[str, Any]:
    """The build_settings options: a profile applied when named; `profile:` panel members expanded."""
    if profile:
        return apply_profile(profile, options, explicit)
    out = {k: options.get(k) for k in PROFILE_KEYS}
    out["panel"] = expand_panel(list(out["panel"] or []))
    return out


def explicit_params(ctx: Any) -> set[str]:
    """Names of a click/typer context's parameters given on the command line (not defaults)."""
    # Compared by name: typer vendors its own copy of click, so the enum classes differ.
    defaults = ("DEFAULT", "DEFAULT_MAP")
    return {n for n in ctx.params if getattr(ctx.get_parameter_source(n), "name", None) not in defaults}


def save_profile(name: str, profile: Profile) -> tuple[Path, bool]:
    """Validate (workflow, models, panel members, cycles) and write; returns (path, replaced)."""
    path = profile_path(name)
    if profile.workflow:
        load_workflow(profile.workflow)
    for m in [profile.model, profile.judge, profile.judge_fallback, *profile.panel]:
        if m and not m.startswith(PROFILE_PREFIX):
            parse_model(m)
    for member in profile.panel:
        if member.startswith(PROFILE_PREFIX):
            expand_panel([member], (name,))
    data = profile.model_dump(exclude_defaults=True)
    replaced = path.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path.parent, path.name, yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    return path, replaced


def delete_profile(name: str) -> Path:
    """Remove a saved profile; an error when it does not exist."""
    path = profile_path(name)
    if not path.exists():
        raise ConfigError(f"unknown profile '{name}'")
    path.unlink()
    return path


def request_options(*, profile: str | None = None, workflow: str | None = None, overrides: dict[str, Any] | None = None,
                    default_model: str = "local") -> dict[str, Any]:
    """build_settings keyword arguments for an API request: overrides, then the profile, then defaults."""
    opts = {k: (overrides or {}).get(k) for k in PROFILE_KEYS}
    if workflow and not given(opts["workflow"]):
        opts["workflow"] = workflow
    opts = resolve_options(profile, opts)
    opts["model"] = opts["model"] or default_model
    return {k: v for k, v in opts.items() if given(v)}
