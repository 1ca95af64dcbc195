"""Claim records: one checkable statement of a document, with its section, line and parsed quantities."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from engine.claims.quantities import Quantity

CLAIMS_CHECKER = "claims-checker"  # the persona slug of the claims-checker review: answered, never rebutting
ClaimKind = Literal["requirement", "number", "limit", "dependency", "assumption", "decision", "owner", "statement"]
KINDS: tuple[str, ...] = ("requirement", "number", "limit", "dependency", "assumption", "decision", "owner")


class Claim(BaseModel):
    """One statement; `kind` is its main kind, `tags` every kind its cue words showed."""

    model_config = ConfigDict(extra="forbid")
    id: str
    kind: ClaimKind
    text: str
    file: str
    line: int
    section: str = ""  # heading path, "Design > Failure handling"
    tags: list[str] = Field(default_factory=list)
    quantities: list[Quantity] = Field(default_factory=list)
    dependencies: list[str] = Field(default_factory=list)  # named services, APIs, providers
    external: bool = False  # a third-party dependency (provider, gateway, vendor, CDN, external API)
    source: Literal["rule", "table", "diagram", "model"] = "rule"


Rule = Literal["conflicting-values", "limit-contradiction", "dependency-without-failure", "untestable-requirement",
               "unbounded-growth", "security-exposure", "sensitive-data", "decision-without-alternative",
               "missing-requirement", "unsafe-retry", "dual-write", "done-before-work", "lost-update",
               "irreversible-delete", "serial-calls"]


class Hit(BaseModel):
    """One cross-check result: the claims it rests on, a title, and how sure the rule is."""

    model_config = ConfigDict(extra="forbid")
    rule: Rule
    claims: list[str]
    file: str
    lines: list[int]
    title: str
    detail: str
    evidence: str  # the sentence to quote, as written in the document
    severity: Literal["low", "medium", "high", "critical"] = "medium"
    strength: Literal["certain", "candidate", "confirmed", "rejected"] = "certain"
    fix: str = ""  # a fix for this hit when its rule's usual one (engine/stages/claims.py FIXES) does not fit

    @classmethod
    def of(cls, claim: Claim, rule: Rule, **fields: object) -> Hit:
        """A hit that rests on one claim: its id, file and line, and its sentence as the evidence."""
        return cls.model_validate({"rule": rule, "claims": [claim.id], "file": claim.file, "lines": [claim.line],
                                   "evidence": claim.text, **fields})

    @classmethod
    def of_pair(cls, a: Claim, b: Claim, rule: Rule, **fields: object) -> Hit:
        """A hit that sets claim `a` against claim `b`: both ids and lines, `a`'s file and sentence as the evidence
        (unless `fields` says otherwise), high severity unless said."""
        return cls.model_validate({"rule": rule, "claims": [a.id, b.id], "file": a.file, "lines": [a.line, b.line],
                                   "evidence": a.text, "severity": "high", **fields})


def first_unguarded(claims: list[Claim], pattern: re.Pattern[str],
                    guard: re.Pattern[str]) -> tuple[Claim, re.Match[str]] | None:
    """The first claim `pattern` finds, in a document where no claim says what `guard` finds (the thing that would
    make it safe: a transaction, a trash, a server clock); None otherwise. The shape of the one-hit rules."""
    if any(guard.search(c.text) for c in claims):
        return None
    return next(((c, m) for c in claims if (m := pattern.search(c.text))), None)


Timed = tuple[Claim, Quantity]


def times(claims: list[Claim], pattern: re.Pattern[str], bound: str | None = None) -> list[Timed]:
    """(claim, time) for every time quantity of the claims `pattern` finds; only upper bounds with bound="upper",
    only values that are not upper bounds with bound="value", all of them with None."""
    return [(c, q) for c in claims if pattern.search(c.text) for q in c.quantities if q.dimension == "time"
            and (bound is None or (q.bound == "upper") == (bound == "upper"))]


def first_beyond(bounds: list[Timed], values: list[Timed]) -> tuple[Timed, Timed] | None:
    """The first (bound, value) pair of two different claims where the value is longer than the bound: the shape of
    the rules that set one time against another (a promise against a cache, a dependency, a DNS TTL)."""
    return next(((a, b) for a in bounds for b in values if a[0].id != b[0].id and b[1].base > a[1].base), None)
