"""Safe names and paths: everything written stays inside the run directory; target paths compared one way."""

from __future__ import annotations

import functools
import hashlib
import os
import re
import unicodedata
from pathlib import Path

from engine.errors import RebuttalError

_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}
MAX_SLUG = 48


def slugify(text: str, fallback: str = "persona") -> str:
    """A file-name-safe slug: ascii lowercase, digits, single dashes, bounded length."""
    norm = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", norm.lower()).strip("-")
    if len(slug) > MAX_SLUG:
        digest = hashlib.sha1(slug.encode()).hexdigest()[:6]
        slug = slug[: MAX_SLUG - 7].rstrip("-") + "-" + digest
    if not slug:
        slug = fallback
    if slug in _RESERVED:
        slug = f"{slug}-1"
    return slug


def unique_slug(text: str, taken: set[str]) -> str:
    """slugify(text), suffixed -2, -3... until not in `taken`."""
    base = slugify(text)
    slug, n = base, 2
    while slug in taken:
        slug = f"{base}-{n}"
        n += 1
    return slug


def clean_path(path: str) -> str:
    """A target-relative path as written: forward slashes, no leading './' ('.github/x' keeps its dot)."""
    return re.sub(r"^(\./)+", "", path.strip().replace("\\", "/"))


def path_key(path: str) -> str:
    """A path for comparison: clean_path without a leading '/', lower case."""
    return clean_path(path).lstrip("/").lower()


def same_file(a: str, b: str) -> bool:
    """The same file: equal paths, or one ends with the other (a path relative to another root)."""
    pa, pb = path_key(a), path_key(b)
    return pa == pb or pa.endswith("/" + pb) or pb.endswith("/" + pa)


def inside(root: Path, relative: str) -> Path:
    """`relative` under `root`; refuse anything that would land outside it: `..`, an absolute path, or a
    symlinked directory on the way (the file itself is replaced by rename, never followed)."""
    base = _real_root(os.path.abspath(root))
    path = os.path.normpath(os.path.join(base, relative))
    if path != base and not path.startswith(base.rstrip(os.sep) + os.sep):
        raise RebuttalError(f"refusing to write outside the run directory: {relative!r}")
    d = os.path.dirname(path)
    while len(d) > len(base):  # one lstat per directory below the root, instead of resolving the whole path
        if os.path.islink(d):
            raise RebuttalError(f"refusing to write through a symlinked directory: {relative!r}")
        d = os.path.dirname(d)
    return Path(path)


@functools.lru_cache(maxsize=64)
def _real_root(root: str) -> str:
    """The run directory with its symlinks resolved (resolved once: the engine made it)."""
    return os.path.realpath(root)
