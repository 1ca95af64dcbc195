"""Render a snapshot as numbered text within a token budget (pure: no I/O).

The format is a contract with the prompt templates and the fake model:
each file block opens with `=== FILE: <path> (lines <a>-<b>) ===`, then `<n>| <text>` lines
(n right-aligned to the width of the block's largest line number, real line numbers), and a
line `...` between shown ranges. Other blocks (`=== MAP ===`, `=== CHANGES ===`,
`=== OUTLINE: <path> ===`) never contain `<n>| ` lines.

Tokens are estimated as characters / 3.5 (`engine.tokens`: a conservative average for code and
English with BPE tokenizers). When everything fits, every file is shown whole in path order. Otherwise a
repo map comes first (at most a quarter of the budget: per-file lines with symbols, then
without, then folded into folders) and whole files follow in relevance order. Per focus
keyword (3+ letters): 20 points if it is in the path, else 6 if its first 4 letters are
("auth" for "authentication"), plus 1 per occurrence in the text up to 20; ties by path.
A file is never cut, except the top-ranked one when no whole file fits.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from engine.target.snapshot import FileEntry, SourceFile, TargetSnapshot, TargetView
from engine.tokens import chars_for, estimate_tokens

MAP_SHARE = 0.25
DIFF_CONTEXT = 10
_STOP = {"the", "and", "for", "with", "that", "this", "are", "from", "into", "its", "not"}


def _merge(ranges: Iterable[tuple[int, int]], last: int) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for a, b in sorted((max(a, 1), min(b, last)) for a, b in ranges):
        if a > b:
            continue
        if out and a <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def render_lines(path: str, lines: list[str], ranges: list[tuple[int, int]], note: str = "") -> str:
    """A file block showing the given (merged, 1-based) line ranges with real numbers."""
    shown = _merge(ranges, len(lines))
    if not shown:
        return f"=== FILE: {path} (lines 0-0) ==="
    width = len(str(shown[-1][1]))
    out = [f"=== FILE: {path} (lines {shown[0][0]}-{shown[-1][1]}) ==="]
    for i, (a, b) in enumerate(shown):
        if i:
            out.append("...")
        out.extend(f"{n:>{width}}| {lines[n - 1]}" for n in range(a, b + 1))
    if note:
        out.append(note)
    return "\n".join(out)


def render_file(f: SourceFile) -> str:
    """A file as a header line and `N| text` lines with real line numbers."""
    lines = f.lines
    return render_lines(f.path, lines, [(1, len(lines))])


def _truncated(f: SourceFile, max_chars: int, ranges: list[tuple[int, int]] | None = None) -> str:
    """The first shown lines of a file (or of its diff ranges) that fit, with a marker."""
    lines = f.lines
    shown = _merge(ranges or [(1, len(lines))], len(lines))
    width = len(str(shown[-1][1])) if shown else 1
    used = len(f.path) + 120
    kept: list[tuple[int, int]] = []
    for a, b in shown:
        n = a
        while n <= b and used + width + 3 + len(lines[n - 1]) <= max_chars:
            used += width + 3 + len(lines[n - 1])
            n += 1
        if n > a:
            kept.append((a, n - 1))
        if n <= b:
            break
    if not kept and shown:  # always show at least one line
        kept = [(shown[0][0], shown[0][0])]
    last = kept[-1][1] if kept else 0
    if ranges is None:
        note = f"... [truncated: lines {last + 1}-{len(lines)} not shown, over the context budget]"
    else:
        note = f"... [truncated: changes after line {last} not shown, over the context budget]"
    return render_lines(f.path, lines, kept, note)


def _keywords(focus: list[str]) -> list[str]:
    words = re.findall(r"[a-z0-9]+", " ".join(focus).lower())
    return list(dict.fromkeys(w for w in words if len(w) >= 3 and w not in _STOP))


def relevance(f: SourceFile, words: list[str]) -> int:
    """Relevance of a file to focus keywords (path stems weigh more than text hits)."""
    path = f.path.lower()
    text = f.text.lower()
    score = 0
    for w in words:
        score += 20 if w in path else 6 if w[:4] in path else 0
        score += min(text.count(w), 20)
    return score


def _rank(files: list[SourceFile], focus: list[str]) -> list[SourceFile]:
    words = _keywords(focus)
    return sorted(files, key=lambda f: (-relevance(f, words), f.path))


def _map_lines(entries: list[FileEntry], with_symbols: bool) -> list[str]:
    out = []
    for e in entries:
        size = f"{e.lines} lines" if e.lines else f"{e.size} bytes"
        syms = f": {', '.join(e.symbols)}" if with_symbols and e.symbols else ""
        out.append(f"{e.path} ({size}){syms}")
    return out


def _folded(entries: list[FileEntry], depth: int) -> list[str]:
    groups: dict[str, list[int]] = {}
    for e in entries:
        parts = e.path.split("/")
        key = "/".join(parts[:depth]) + "/" if len(parts) > depth else e.path
        g = groups.setdefault(key, [0, 0])
        g[0] += 1
        g[1] += e.lines
    return [
        f"{k} ({n} files, {lines} lines)" if k.endswith("/") else f"{k} ({lines} lines)"
        for k, (n, lines) in groups.items()
    ]


def render_map(entries: list[FileEntry], max_chars: int) -> str:
    """The repo map block: one line per file, folded into folders if it would not fit."""
    lines_total = sum(e.lines for e in entries)
    head = f"=== MAP ===\n# {len(entries)} files, {lines_total} lines; FILE blocks below show some"
    candidates = [_map_lines(entries, True), _map_lines(entries, False)]
    max_depth = max((e.path.count("/") for e in entries), default=0)
    candidates += [_folded(entries, d) for d in range(max_depth, 0, -1)]
    for body in candidates:
        text = head + "\n" + "\n".join(body)
        if len(text) <= max_chars:
            return text
    body, used = [], len(head)
    for line in candidates[-1]:
        if used + len(line) + 40 > max_chars:
            body.append(f"... ({len(candidates[-1]) - len(body)} more entries)")
            break
        body.append(line)
        used += len(line) + 1
    return head + "\n" + "\n".join(body)


def _outline(f: SourceFile) -> str:
    rows = []
    for s in f.sections:
        label = f"{s.number} {s.title}" if s.number else s.title
        rows.append(f"{'  ' * (s.level - 1)}{label} (line {s.line})")
    return f"=== OUTLINE: {f.path} ===\n" + "\n".join(rows)


def _fill(
    blocks: dict[str, str], ranked: list[SourceFile], budget: float, diff: bool = False
) -> tuple[list[str], list[str], list[str]]:
    """Choose whole blocks in rank order within budget; returns (parts, included, truncated)."""
    parts, included = [], []
    for f in ranked:
        cost = len(blocks[f.path]) + 2
        if cost <= budget:
            parts.append(blocks[f.path])
            included.append(f.path)
            budget -= cost
    if not included and ranked:
        top = ranked[0]
        parts.append(_truncated(top, int(budget), _diff_ranges(top) if diff else None))
        return parts, [ranked[0].path], [ranked[0].path]
    return parts, included, []


def _view(
    parts: list[str],
    included: list[str],
    all_paths: list[str],
    truncated: list[str] | None = None,
    has_map: bool = False,
) -> TargetView:
    text = "\n\n".join(p for p in parts if p)
    chosen = set(included)
    return TargetView(
        text=text,
        included=included,
        omitted=[p for p in all_paths if p not in chosen],
        truncated=truncated or [],
        has_map=has_map,
        tokens=estimate_tokens(text),
    )


def _changes_block(snap: TargetSnapshot, max_chars: int) -> str:
    rng = snap.git.diff_range if snap.git else ""
    rows = [
        f"renamed {c.old_path} -> {c.path}" if c.old_path and c.status == "renamed"
        else f"{c.status} {c.path}"
        for c in snap.changes
    ]  # fmt: skip
    text = f"=== CHANGES: {rng} ===\n" + "\n".join(rows)
    if len(text) > max_chars:
        keep = max(1, int(max_chars / max(len(text) / max(len(rows), 1), 1)))
        text = f"=== CHANGES: {rng} ===\n" + "\n".join(rows[:keep])
        text += f"\n... ({len(rows) - keep} more changes)"
    return text


def _diff_ranges(f: SourceFile) -> list[tuple[int, int]]:
    """The changed ranges of a file widened by DIFF_CONTEXT lines on each side."""
    return [(a - DIFF_CONTEXT, b + DIFF_CONTEXT) for a, b in f.changed]


def _render_diff(snap: TargetSnapshot, budget: float, focus: list[str]) -> TargetView:
    shown = [f for f in snap.files if f.changed]
    changes = _changes_block(snap, int(budget * 0.1))
    file_map = render_map(snap.file_map, int(budget * MAP_SHARE))
    blocks = {f.path: render_lines(f.path, f.lines, _diff_ranges(f)) for f in shown}
    left = budget - len(changes) - len(file_map) - 4
    parts, included, cut = _fill(blocks, _rank(shown, focus), left, diff=True)
    paths = [f.path for f in shown]
    return _view([changes, file_map, *parts], included, paths, truncated=cut, has_map=True)


def render_view(snap: TargetSnapshot, budget_tokens: int, focus: list[str]) -> TargetView:
    """What one persona sees: everything if it fits, else a map plus the most relevant files."""
    budget = chars_for(budget_tokens)
    if snap.kind == "diff":
        return _render_diff(snap, budget, focus)
    outlines = [_outline(f) for f in snap.files if snap.is_document and f.sections]
    blocks = {f.path: render_file(f) for f in snap.files}
    paths = [f.path for f in snap.files]
    whole = [*outlines, *blocks.values()]
    if sum(len(b) + 2 for b in whole) <= budget:
        return _view(whole, paths, paths)
    file_map = ""
    if len(snap.files) > 1:
        file_map = render_map(snap.file_map, int(budget * MAP_SHARE))
    head = [*outlines, file_map]
    left = budget - sum(len(h) + 2 for h in head)
    parts, included, cut = _fill(blocks, _rank(snap.files, focus), left)
    return _view([*head, *parts], included, paths, truncated=cut, has_map=bool(file_map))
