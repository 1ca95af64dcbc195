"""Parse and order semantic versions (SemVer 2.0.0), for picking the newest compatible plugin release."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import total_ordering

_NUM = r"0|[1-9]\d*"
_PRE_ID = rf"(?:{_NUM}|\d*[A-Za-z-][0-9A-Za-z-]*)"
VERSION = re.compile(
    rf"^(?P<major>{_NUM})\.(?P<minor>{_NUM})\.(?P<patch>{_NUM})"
    rf"(?:-(?P<pre>{_PRE_ID}(?:\.{_PRE_ID})*))?"
    r"(?:\+(?P<build>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$",
    re.ASCII,
)


def _pre_key(pre: tuple[str, ...]) -> tuple[tuple[int, int, str], ...]:
    """Numeric identifiers sort numerically and before alphanumeric ones, which sort in ASCII order."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre)


@total_ordering
@dataclass(frozen=True)
class Version:
    major: int
    minor: int
    patch: int
    pre: tuple[str, ...] = ()
    build: str = ""  # ignored for precedence

    @classmethod
    def parse(cls, text: str) -> Version:
        """A Version from text such as "1.4.0-rc.1+build.7"; anything else is a ValueError."""
        m = VERSION.match(text.strip())
        if m is None:
            raise ValueError(f"not a semantic version: {text!r}")
        pre = tuple(m["pre"].split(".")) if m["pre"] else ()
        return cls(int(m["major"]), int(m["minor"]), int(m["patch"]), pre, m["build"] or "")

    def _key(self) -> tuple[object, ...]:
        # A release ranks above every pre-release of the same major.minor.patch.
        return (self.major, self.minor, self.patch, not self.pre, _pre_key(self.pre))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Version) and self._key() == other._key()

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key() < other._key()

    def __hash__(self) -> int:
        return hash(self._key())


def newest_compatible(available: list[str], wanted: str) -> str | None:
    """The highest release with the same major version as `wanted` and not below it.

    Pre-releases are considered only when `wanted` is one itself.
    """
    floor = Version.parse(wanted)
    best: tuple[Version, str] | None = None
    for text in available:
        v = Version.parse(text)
        if v.major != floor.major or v < floor or (v.pre and not floor.pre):
            continue
        if best is None or v > best[0]:
            best = (v, text)
    return best[1] if best else None
