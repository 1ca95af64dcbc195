"""The one reader of YAML front matter (`---\\nyaml\\n---\\nbody`): artifacts, persona files, the report."""

from __future__ import annotations

import re
from typing import Any

from engine import yamlio

FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n?(.*)\Z", re.S)


def split(text: str) -> tuple[Any, str] | None:
    """(the parsed YAML block, the body after it), or None when the text opens with no block.

    A block that is not valid YAML raises yaml.YAMLError; the caller decides what that means.
    """
    m = FRONT_MATTER.match(text)
    if not m:
        return None
    return yamlio.load(m.group(1)), m.group(2)


def meta(text: str) -> dict[str, Any]:
    """The front matter as a mapping (empty when absent or not a mapping)."""
    found = split(text)
    return found[0] if found and isinstance(found[0], dict) else {}


def body(text: str) -> str:
    """The text after the front matter (the whole text when there is none)."""
    m = FRONT_MATTER.match(text)
    return m.group(2).lstrip("\n") if m else text
