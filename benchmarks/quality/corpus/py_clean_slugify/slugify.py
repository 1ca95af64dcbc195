"""Turn titles into URL slugs."""

import re
import unicodedata

_NON_WORD = re.compile(r"[^a-z0-9]+")
MAX_LENGTH = 60


def slugify(title: str, max_length: int = MAX_LENGTH) -> str:
    """Lowercase ASCII words joined by dashes, at most `max_length` characters.

    Accents are folded ("Crème brûlée" -> "creme-brulee"); anything else that is not
    a letter or a digit separates words. An empty result becomes "untitled".
    """
    if max_length < 1:
        raise ValueError("max_length must be positive")
    folded = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode("ascii")
    slug = _NON_WORD.sub("-", folded.lower()).strip("-")
    if len(slug) > max_length:
        slug = slug[:max_length].rstrip("-")
    return slug or "untitled"


def unique_slug(title: str, taken: set[str]) -> str:
    """A slug for `title` not in `taken`, adding -2, -3, ... when needed."""
    base = slugify(title)
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"
