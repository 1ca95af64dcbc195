"""Saved profiles: named review options stored as YAML in `$REBUTTAL_HOME/profiles/<name>.yaml`.

A profile fills the options a command did not give (`rebuttal review --profile NAME`, the server's
`profile/NAME` model, a batch entry's `profile:`; the precedence: `engine.api.resolve`). Panel of
panels: a panel member `profile:<name>` expands, in place, into that profile's panel (recursively;
its own `model` when it has no panel).
Only the models are borrowed — the member profile's judge, workflow and limits are not. A cycle is
an error naming the chain.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from pydantic import Field, ValidationError

from engine import yamlio
from engine.artifacts import write_atomic
from engine.config import load_workflow
from engine.errors import ConfigError
from engine.llm.providers import parse_model
from engine.options import given, options_model
from engine.paths import slugify

PROFILE_PREFIX = "profile:"


# A profile file: every run option but `profile` (all optional; unknown fields are an error), and a description.
Profile = options_model("Profile", "profile", "A profile file: every field optional; unknown fields are an error.",
                        description=(str, Field("", description="One line shown by `profile list`.")))


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


def save_profile(name: str, profile: Profile) -> tuple[Path, bool]:
    """Validate (workflow, models, panel members, cycles) and write; returns (path, replaced)."""
    path = profile_path(name)
    if profile.workflow:
        load_workflow(profile.workflow)
    panel = split_members(profile.panel)  # `--panel a,b` is saved as [a, b]
    profile = profile.model_copy(update={"panel": panel or None})
    for m in [profile.model, profile.judge, profile.judge_fallback, *panel]:
        if m and not m.startswith(PROFILE_PREFIX):
            parse_model(m)
    for member in panel:
        if member.startswith(PROFILE_PREFIX):
            expand_panel([member], (name,))
    data = {k: v for k, v in profile.model_dump(exclude_defaults=True).items() if given(v)}
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
