"""Validation and display helpers for user profile fields."""

from __future__ import annotations

import re
import unicodedata

HANDLE = re.compile(r"[a-z0-9_]{3,20}")
ELLIPSIS = "…"
MAX_BIO = 160


class ProfileError(ValueError):
    """A profile field failed validation; the message names the field."""


def normalise_handle(raw: str) -> str:
    """Lower-case, trimmed handle; 3 to 20 characters of a-z, 0-9 and underscore."""
    handle = raw.strip().lower()
    if not HANDLE.match(handle):
        raise ProfileError("handle: use 3-20 letters, digits or underscores")
    return handle


def clean_bio(raw: str) -> str:
    """The bio with control characters removed and whitespace collapsed; at most MAX_BIO characters."""
    text = "".join(ch for ch in raw if unicodedata.category(ch)[0] != "C" or ch in "\n\t")
    text = " ".join(text.split())
    if len(text) > MAX_BIO:
        raise ProfileError(f"bio: at most {MAX_BIO} characters")
    return text


def truncate(text: str, width: int) -> str:
    """`text` cut to at most `width` characters, ending in an ellipsis when it was cut."""
    if width < 1:
        raise ValueError("width must be positive")
    if len(text) <= width:
        return text
    cut = text[:width]
    space = cut.rfind(" ")
    if space > width // 2:
        cut = cut[:space]
    return cut.rstrip() + ELLIPSIS


def initials(display_name: str) -> str:
    """Up to two initials for the avatar placeholder ("Ada Lovelace" -> "AL")."""
    parts = [p for p in display_name.split() if p[0].isalpha()]
    if not parts:
        return "?"
    letters = parts[0][0] + (parts[-1][0] if len(parts) > 1 else "")
    return letters.upper()
