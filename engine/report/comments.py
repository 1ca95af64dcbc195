"""Pull-request review comments: findings as line comments in the shape GitHub's review API takes.

The file is the request body of `POST /repos/{owner}/{repo}/pulls/{number}/reviews` (event COMMENT),
so any CI can post it as is, e.g. `gh api repos/o/r/pulls/7/reviews --input review-comments.json`.
Only findings that match a threshold expression (the `--fail-on` language) become comments, best
first (truth × usefulness), capped in number. GitHub rejects a whole review when one comment sits
outside the diff, so for diff runs a finding far from every changed hunk is listed in the review body
instead of getting a line comment.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import ConfigError
from engine.models import Finding, Report
from engine.paths import clean_path
from engine.report.ci import matches, md_cell, md_code, parse_fail_on
from engine.rundir import RunDir

DEFAULT_THRESHOLD = "truth>=0.6 and usefulness>=0.5 and status!=refuted"
DEFAULT_MAX_COMMENTS = 20
DIFF_CONTEXT = 3  # lines of context GitHub shows (and accepts comments on) around a hunk

Ranges = dict[str, list[tuple[int, int]]]


@dataclass(frozen=True)
class Placement:
    """Where a finding's comment goes: the file, its first and last line, or None when outside the diff."""

    path: str
    start: int
    end: int


def place(f: Finding, prefix: str, changed: Ranges | None) -> Placement | None:
    """The finding's lines on the new side of the diff, clamped into the nearest hunk; None if none is near."""
    path = "/".join(x for x in (prefix, clean_path(f.file)) if x)
    start = max(1, f.line_start)
    end = max(start, f.line_end)
    if changed is None:
        return Placement(path, start, end)
    for lo, hi in changed.get(clean_path(f.file), []):
        lo, hi = max(1, lo - DIFF_CONTEXT), hi + DIFF_CONTEXT
        if start <= hi and end >= lo:
            return Placement(path, max(start, lo), min(end, hi))
    return None


def comment_body(f: Finding, trace_cmd: str) -> str:
    """The markdown of one line comment: title, scores with rationale, status, fix and the trace command."""
    s = f.scores
    lines = [f"**{md_cell(f.title)}** ({f.severity}, {f.status}) · rebuttal {f.id}", "",
             f"- truth **{s.truth:.2f}**: {md_cell(s.truth_rationale)}",
             f"- usefulness **{s.usefulness:.2f}**: {md_cell(s.usefulness_rationale)}",
             f"- raised by {md_cell(', '.join(f.personas))}; evidence {f.evidence_status}"]
    if f.fix:
        lines += ["", f"Fix: {md_cell(f.fix)}"]
    lines += ["", f"Trace: `{md_code(trace_cmd)}`"]
    return "\n".join(lines)


def review_payload(report: Report, *, run_dir: str, prefix: str = "", changed: Ranges | None = None,
                   threshold: str = DEFAULT_THRESHOLD, max_comments: int = DEFAULT_MAX_COMMENTS) -> dict[str, Any]:
    """The review request body: event, a short body and at most `max_comments` line comments."""
    if max_comments < 0:
        raise ConfigError(f"--max-comments must be 0 or more, got {max_comments}")
    node = parse_fail_on(threshold)
    chosen = sorted((f for f in report.reported if matches(f, node)), key=lambda f: -f.rank)
    comments: list[dict[str, Any]] = []
    outside: list[Finding] = []
    for f in chosen:
        if len(comments) >= max_comments:
            break
        where = place(f, prefix, changed)
        if where is None:
            outside.append(f)
            continue
        c: dict[str, Any] = {"path": where.path, "line": where.end, "side": "RIGHT",
                             "body": comment_body(f, f"rebuttal trace {run_dir} {f.id}")}
        if where.start < where.end:
            c.update(start_line=where.start, start_side="RIGHT")
        comments.append(c)
    left = len(chosen) - len(comments) - len(outside)
    body = [f"rebuttal: {len(comments)} of {len(report.reported)} finding(s) commented "
            f"(threshold `{md_code(threshold)}`, at most {max_comments}); run `{md_code(report.run_id)}`."]
    if outside:
        body.append("Outside the diff: " + "; ".join(f"{f.id} `{md_code(f.file)}:{f.line_start}` {md_cell(f.title)}"
                                                     for f in outside))
    if left > 0:
        body.append(f"{left} more finding(s) above the threshold were left out by the cap.")
    return {"event": "COMMENT", "body": "\n\n".join(body), "comments": comments}


def changed_ranges(run_dir: Path) -> Ranges | None:
    """The changed line ranges per file of a diff run (from target.json), or None for other targets."""
    path = RunDir(run_dir).target_json
    if not path.exists():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    if data.get("kind") != "diff":
        return None
    return {f["path"]: [tuple(r) for r in f.get("changed") or []] for f in data.get("files", [])}


def write_review_comments(report: Report, run_dir: Path, path: Path, *, prefix: str,
                          threshold: str = DEFAULT_THRESHOLD, max_comments: int = DEFAULT_MAX_COMMENTS) -> Path:
    """Write the review request body for a run's findings."""
    payload = review_payload(report, run_dir=str(run_dir), prefix=prefix, changed=changed_ranges(run_dir),
                             threshold=threshold, max_comments=max_comments)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path
