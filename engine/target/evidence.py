"""Evidence check: does an issue's quoted evidence occur in the target where it says?

Quotes and file text are compared after normalising: whitespace runs become one space and a
space next to punctuation is dropped (`f(a, b)` = `f(a,b)`), blank lines are ignored so a quote
may span lines, single, double and typographic quotes are one quote character
(`params['k']` = `params["k"]`), typographic dashes are `-`. `N| ` prefixes copied from a view,
surrounding backticks and a leading or trailing `...` are removed. The whole quote is tried
first, then its longest piece between `...` and its longest line, if at least 12 characters. Found within
`near` lines of the named range: "verified"; elsewhere in that file or in another file:
"moved"; otherwise "not_found". In a document, a quote stitched from its sentences (or from the claims
list's "Section: sentence" lines) is found when most of it, by length, is the document's own text.
"""

from __future__ import annotations

import bisect
import re
from pathlib import PurePosixPath
from typing import Literal, NamedTuple

from engine.target.classify import is_document_path
from engine.target.snapshot import SourceFile, TargetSnapshot

Verdict = Literal["verified", "moved", "not_found"]
MIN_FRAGMENT = 12
_VIEW_PREFIX = re.compile(r"^\s*[+-]?\s*\d+\s*\|\s?")
_ELLIPSIS = re.compile(r"\.\.\.|…")
_LINE_SUFFIX = re.compile(r"[:#]L?\d+(?:-L?\d+)?$")
_EDGE_ELLIPSIS = re.compile(r"^(?:\.\.\.|…)+|(?:\.\.\.|…)+$")
_TYPOGRAPHY = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'", "–": "-", "—": "-"})
_QUOTE_CHARS = str.maketrans({"'": '"', "‘": '"', "’": '"', "“": '"', "”": '"', "–": "-", "—": "-"})
_LOOSE_SPACE = re.compile(r"(?<=\W) | (?=\W)")  # a space with punctuation on either side
_WORD_CHAR = re.compile(r"\w")
MIN_SEGMENT = 20
SEGMENT_COVER = 0.6
_SEGMENT_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'`])|;\s+")
_LABEL = re.compile(r"^[A-Za-z][\w /&()-]{0,40}:\s+")  # "Goals: ", "requirement: " before the quoted text


class QuoteMatch(NamedTuple):
    """Where a quote was found: its verdict, the file and the (first, last) lines of the occurrence used."""

    status: Verdict
    file: str | None = None
    lines: tuple[int, int] | None = None


def _norm(s: str) -> str:
    """Normalise for matching: one quote character, whitespace runs to one space, none beside punctuation."""
    return _LOOSE_SPACE.sub("", " ".join(s.translate(_QUOTE_CHARS).split()))


def _variants(quote: str) -> list[str]:
    """The strings to look for: whole quote, longest '...' piece, longest line (>= 12 chars)."""
    q = quote.translate(_TYPOGRAPHY).strip()
    for mark in ("```", "`", '"', "'"):
        if len(q) > 2 * len(mark) and q.startswith(mark) and q.endswith(mark):
            q = q[len(mark) : -len(mark)].strip()
            break
    lines = [_VIEW_PREFIX.sub("", x) for x in q.split("\n")]
    lines = [x for x in lines if x.strip() and not x.strip().startswith("```")]
    if lines:
        lines[0], lines[-1] = _EDGE_ELLIPSIS.sub("", lines[0].strip()), _EDGE_ELLIPSIS.sub("", lines[-1].strip())
    whole = _norm(" ".join(lines))
    pieces = [_norm(p) for p in _ELLIPSIS.split(whole)]
    longest_piece = max(pieces, key=len, default="")
    longest_line = max((_norm(x) for x in lines), key=len, default="")
    out = [whole] + [v for v in (longest_piece, longest_line) if len(v) >= MIN_FRAGMENT]
    return [v for v in dict.fromkeys(out) if v]


def _segments(quote: str) -> list[str]:
    """A prose quote's pieces: its sentences and `;`-separated parts, each without a leading "Label: " (the
    engine's own claims list writes "Goals: <sentence>" and table rows as "id: R1; requirement: ..."). Only
    pieces of at least MIN_SEGMENT characters and three words, normalised."""
    text = quote.translate(_TYPOGRAPHY).replace("\n", " ")
    out = []
    for piece in _SEGMENT_SPLIT.split(text):
        piece = _LABEL.sub("", piece.strip().strip("`\"'")).strip()
        norm = _norm(piece)
        if len(norm) >= MIN_SEGMENT and len(piece.split()) >= 3:
            out.append(norm)
    return list(dict.fromkeys(out))


def _segment_hits(snap: TargetSnapshot, f: SourceFile, quote: str) -> list[tuple[int, int]]:
    """Occurrences of a prose quote's segments in a document, when the segments found make up at least SEGMENT_COVER of
    all of them (by length): a quote stitched from the document's own sentences, not one real sentence
    padded with invented ones. A trailing full stop may be missing from the file's text (a table cell)."""
    if not is_document_path(f.path):
        return []  # code: a quote is the code itself, not sentences to take apart
    segments = _segments(quote)
    if len(segments) < 2 and not _LABEL.match(quote.strip().strip("`\"'")):
        return []  # one plain piece: the whole-quote variant already looked for it
    found: list[tuple[int, int]] = []
    covered = 0
    for seg in segments:
        hits = _occurrences(snap, f, seg) or _occurrences(snap, f, seg.rstrip("."))
        if hits:
            covered += len(seg)
            found.extend(hits)
    return found if segments and covered >= SEGMENT_COVER * sum(map(len, segments)) else []


def _index(snap: TargetSnapshot, f: SourceFile) -> tuple[str, list[int], list[int]]:
    """(normalised text of non-blank lines, their offsets, their line numbers).

    Lines are joined the way `_norm` joins a multi-line quote: a space only between two word characters."""
    cache = snap._cache.setdefault("evidence", {})
    hit = cache.get(f.path)
    if hit is not None and hit[0] is f.text:
        cached: tuple[str, list[int], list[int]] = hit[1]
        return cached
    parts: list[str] = []
    starts: list[int] = []
    numbers: list[int] = []
    pos = 0
    for n, line in enumerate(f.lines, 1):
        norm = _norm(line)
        if norm:
            if parts and _WORD_CHAR.match(parts[-1][-1]) and _WORD_CHAR.match(norm[0]):
                parts.append(" ")
                pos += 1
            parts.append(norm)
            starts.append(pos)
            numbers.append(n)
            pos += len(norm)
    index = ("".join(parts), starts, numbers)
    cache[f.path] = (f.text, index)
    return index


def _occurrences(snap: TargetSnapshot, f: SourceFile, needle: str) -> list[tuple[int, int]]:
    """(first line, last line) of each occurrence of a normalised needle in a file."""
    joined, starts, numbers = _index(snap, f)
    found: list[tuple[int, int]] = []
    pos = joined.find(needle)
    while pos >= 0 and len(found) < 1000:
        first = numbers[bisect.bisect_right(starts, pos) - 1]
        last = numbers[bisect.bisect_right(starts, pos + len(needle) - 1) - 1]
        found.append((first, last))
        pos = joined.find(needle, pos + 1)
    return found


def resolve_path(snap: TargetSnapshot, path: str | None) -> SourceFile | None:
    """The file a location names: exact path, unique suffix match, or unique basename."""
    if not path:
        return snap.files[0] if len(snap.files) == 1 else None
    p = _LINE_SUFFIX.sub("", path.strip().strip("`'\"").replace("\\", "/"))
    candidates = [p]
    for prefix in (snap.root.rstrip("/") + "/", "./", "a/", "b/", snap.name + "/", "/"):
        if p.startswith(prefix):
            p = p[len(prefix) :]
            candidates.append(p)
    for c in candidates:
        exact = snap.file(c)
        if exact is not None:
            return exact
    suffix = [f for f in snap.files if f.path.endswith("/" + p) or p.endswith("/" + f.path)]
    if len(suffix) == 1:
        return suffix[0]
    name = PurePosixPath(p).name
    same_name = [f for f in snap.files if PurePosixPath(f.path).name == name]
    return same_name[0] if len(same_name) == 1 else None


def locate_quote(
    snap: TargetSnapshot,
    path: str | None,
    line_start: int | None,
    line_end: int | None,
    quote: str,
    *,
    near: int = 5,
) -> QuoteMatch:
    """Where quoted evidence is: at the named location ("verified"), elsewhere ("moved"), or absent."""
    variants = _variants(quote or "")
    if not variants:
        return QuoteMatch("not_found")
    f = resolve_path(snap, path)
    lo = line_start if line_start is not None else line_end
    hi = line_end if line_end is not None and lo is not None and line_end >= lo else lo
    if f is not None:
        hits = [h for v in variants for h in _occurrences(snap, f, v)] or _segment_hits(snap, f, quote)
        if hits:
            if lo is None or hi is None:
                return QuoteMatch("verified", f.path, hits[0])
            near_hits = [(first, last) for first, last in hits if first <= hi + near and last >= lo - near]
            if near_hits:
                return QuoteMatch("verified", f.path, min(near_hits, key=lambda h: abs(h[0] - lo)))
            return QuoteMatch("moved", f.path, hits[0])
    for g in snap.files:
        if g is f:
            continue
        found = [h for v in variants for h in _occurrences(snap, g, v)] or _segment_hits(snap, g, quote)
        if found:
            return QuoteMatch("moved", g.path, found[0])
    return QuoteMatch("not_found")


def check_evidence(
    snap: TargetSnapshot,
    path: str | None,
    line_start: int | None,
    line_end: int | None,
    quote: str,
    *,
    near: int = 5,
) -> Verdict:
    """Whether quoted evidence is at the named location ("verified"), elsewhere, or absent."""
    return locate_quote(snap, path, line_start, line_end, quote, near=near).status


def locate_section(snap: TargetSnapshot, path: str | None, ref: str) -> int | None:
    """The line where a section ("section 3.2", "§3.2", a title) or a PDF page starts."""
    f = resolve_path(snap, path)
    if f is None:
        return None
    page = re.search(r"\bpage\s+(\d+)", ref, re.I)
    if page:
        marker = f"[page {page.group(1)}]"
        return next((n for n, line in enumerate(f.lines, 1) if line == marker), None)
    number = re.search(r"\d+(?:\.\d+)*", ref)
    if number:
        for s in f.sections:
            if s.number == number.group(0):
                return s.line
    title = re.sub(r"^\s*(?:section|§)\s*", "", ref, flags=re.I).strip().lower()
    for s in f.sections:
        if title and s.title.lower() == title:
            return s.line
    return None
