"""CI outputs: the `--fail-on` gate (a tiny safe expression language), SARIF 2.1.0 and a pull-request summary."""

from __future__ import annotations

import hashlib
import json
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any
from urllib.parse import quote

from engine.errors import ConfigError
from engine.models import SEVERITY_RANK, Finding, Report, note_label
from engine.paths import clean_path
from engine.rundir import RunDir

STATUSES = ("consensus", "contested", "unique", "refuted")
FIELDS = ("truth", "usefulness", "severity", "status")
OPS: dict[str, Callable[[Any, Any], bool]] = {
    ">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt, "==": operator.eq, "!=": operator.ne,
}
TOKEN = re.compile(r"\s*(?:(?P<op>>=|<=|==|!=|=|>|<)|(?P<paren>[()])|(?P<num>\d+(?:\.\d+)?|\.\d+)"
                   r"|(?P<word>[A-Za-z_][A-Za-z_-]*))")
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note"}
SUMMARY_ROWS = 10


class FailOnError(ConfigError):
    """A malformed `--fail-on` expression."""


@dataclass(frozen=True)
class Compare:
    """`field op value`, e.g. truth >= 0.7 or severity >= high."""

    field: str
    op: str
    value: float | str


@dataclass(frozen=True)
class BoolOp:
    """`a and b and ...` or `a or b or ...`."""

    op: str
    parts: tuple[Expr, ...]


Expr = Compare | BoolOp


def tokenize(text: str) -> list[tuple[str, str, int]]:
    """(kind, text, position) tokens; anything else is an error naming the position."""
    tokens, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise FailOnError(f"--fail-on: unexpected {text[pos:].lstrip()[:1]!r} at column {pos + 1} in {text!r}")
        kind = m.lastgroup or ""
        value = m.group(kind)
        tokens.append((kind, "==" if value == "=" else value, m.start(kind)))
        pos = m.end()
    return tokens


class _Parser:
    """Recursive descent: or_expr := and_expr ('or' and_expr)*; and_expr := atom ('and' atom)*."""

    def __init__(self, text: str):
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

    def error(self, what: str) -> FailOnError:
        where = f"at column {self.tokens[self.i][2] + 1}" if self.i < len(self.tokens) else "at the end"
        return FailOnError(f"--fail-on: {what} {where} in {self.text!r}")

    def peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> tuple[str, str, int]:
        tok = self.peek()
        if tok is None:
            raise self.error("expression ends too early")
        self.i += 1
        return tok

    def keyword(self, word: str) -> bool:
        tok = self.peek()
        if tok and tok[0] == "word" and tok[1].lower() == word:
            self.i += 1
            return True
        return False

    def parse(self) -> Expr:
        if not self.tokens:
            raise FailOnError("--fail-on: empty expression (e.g. 'truth>=0.7 and severity>=high')")
        expr = self.or_expr()
        if self.peek() is not None:
            raise self.error(f"expected 'and' or 'or', got {self.peek()[1]!r}")  # type: ignore[index]
        return expr

    def joined(self, word: str, part: Callable[[], Expr]) -> Expr:
        parts = [part()]
        while self.keyword(word):
            parts.append(part())
        return parts[0] if len(parts) == 1 else BoolOp(word, tuple(parts))

    def or_expr(self) -> Expr:
        return self.joined("or", lambda: self.joined("and", self.atom))

    def atom(self) -> Expr:
        tok = self.peek()
        if tok and tok[0] == "paren" and tok[1] == "(":
            self.i += 1
            expr = self.or_expr()
            close = self.peek()
            if not close or close[1] != ")":
                raise self.error("expected ')'")
            self.i += 1
            return expr
        return self.comparison()

    def comparison(self) -> Compare:
        kind, name, _ = self.take()
        field = name.lower()
        if kind != "word" or field not in FIELDS:
            self.i -= 1
            raise self.error(f"expected a field ({', '.join(FIELDS)}), got {name!r}")
        kind, op, _ = self.take()
        if kind != "op":
            self.i -= 1
            raise self.error(f"expected a comparison (>=, <=, >, <, ==, !=) after {field!r}, got {op!r}")
        kind, raw, _ = self.take()
        self.i -= 1
        if field in ("truth", "usefulness"):
            if kind != "num" or not 0 <= float(raw) <= 1:
                raise self.error(f"{field} takes a number from 0 to 1, got {raw!r}")
            self.i += 1
            return Compare(field, op, float(raw))
        allowed = tuple(SEVERITY_RANK) if field == "severity" else STATUSES
        if kind != "word" or raw.lower() not in allowed:
            raise self.error(f"{field} takes one of {', '.join(allowed)}, got {raw!r}")
        if field == "status" and op not in ("==", "!="):
            raise self.error("status compares only with == or !=")
        self.i += 1
        return Compare(field, op, raw.lower())


def parse_fail_on(expr: str) -> Expr:
    """Parse a gate like `truth>=0.7 and usefulness>=0.6 and severity>=high`; never evaluates code."""
    return _Parser(expr).parse()


def _field(finding: Finding | dict[str, Any], field: str) -> float | str:
    data = finding if isinstance(finding, dict) else finding.model_dump()
    return round(float(data["scores"][field]), 6) if field in ("truth", "usefulness") else str(data[field])


def matches(finding: Finding | dict[str, Any], expr: Expr | str) -> bool:
    """Whether one finding satisfies a gate expression (parsed or as text)."""
    node = parse_fail_on(expr) if isinstance(expr, str) else expr
    if isinstance(node, BoolOp):
        results = (matches(finding, p) for p in node.parts)
        return all(results) if node.op == "and" else any(results)
    actual = _field(finding, node.field)
    expected = node.value
    if node.field == "severity":
        actual, expected = SEVERITY_RANK[str(actual)], SEVERITY_RANK[str(expected)]
    elif isinstance(expected, float):
        expected = round(expected, 6)
    return OPS[node.op](actual, expected)


def failing(report: Report, expr: Expr | str) -> list[Finding]:
    """The findings that trip the gate; a non-empty list means exit code 1."""
    node = parse_fail_on(expr) if isinstance(expr, str) else expr
    return [f for f in report.reported if matches(f, node)]


def _repo_root(start: Path) -> Path | None:
    for p in [start, *start.parents]:
        if (p / ".git").exists():
            return p
    return None


def _target_root(run_dir: Path) -> Path | None:
    target = RunDir(run_dir).info().get("target") or {}
    if not target.get("path"):
        return None
    root = Path(str(target["path"]))
    return root.parent if target.get("kind") == "file" or root.is_file() else root


def repo_prefix(run_dir: Path) -> str:
    """The run's target folder relative to its git repository's root ('' at the root or outside git)."""
    root = _target_root(run_dir)
    repo = _repo_root(root.resolve()) if root and root.exists() else None
    prefix = root.resolve().relative_to(repo).as_posix() if root and repo else ""
    return "" if prefix == "." else prefix


def fingerprint(f: Finding) -> str:
    """A content hash of a finding (file + whitespace-normalised evidence), stable across runs."""
    text = clean_path(f.file) + "\n" + " ".join(f.evidence.split())
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def sarif_log(report: Report, run_dir: Path) -> dict[str, Any]:
    """A SARIF 2.1.0 log: one rule and one result (with a location) per finding."""
    root = _target_root(run_dir)
    repo = _repo_root(root.resolve()) if root and root.exists() else None
    prefix = root.resolve().relative_to(repo).as_posix() if root and repo else ""
    prefix = "" if prefix == "." else prefix  # a target at the repository root: 'src/a.py', not './src/a.py'
    try:
        tool_version = version("rebuttal")
    except PackageNotFoundError:
        tool_version = "0"
    rules, results = [], []
    for n, f in enumerate(report.reported):
        fp = fingerprint(f)
        rule_id = f"rebuttal/{fp[:12]}"
        rules.append({
            "id": rule_id, "name": f"Finding{f.id.replace('-', '')}",
            "shortDescription": {"text": f.title or f.id}, "fullDescription": {"text": f.fix or f.title or f.id},
            "defaultConfiguration": {"level": SARIF_LEVEL[f.severity]},
            "properties": {"tags": ["rebuttal", f.severity, f.status], "problem.severity": SARIF_LEVEL[f.severity]},
        })
        uri = quote("/".join(x for x in (prefix, clean_path(f.file)) if x), safe="/")
        start = max(1, f.line_start)
        results.append({
            "ruleId": rule_id, "ruleIndex": n, "level": SARIF_LEVEL[f.severity],
            "message": {"text": f"{f.title} ({f.severity}, {f.status}; truth {f.scores.truth:.2f}, usefulness "
                                f"{f.scores.usefulness:.2f}, raised by {', '.join(f.personas)}). Fix: {f.fix}"},
            "locations": [{"physicalLocation": {
                "artifactLocation": {"uri": uri, **({"uriBaseId": "%SRCROOT%"} if repo or root else {})},
                "region": {"startLine": start, "endLine": max(start, f.line_end), "snippet": {"text": f.evidence}},
            }}],
            "partialFingerprints": {"rebuttalEvidence/v1": fp},
            "properties": {"finding": f.id, "truth": f.scores.truth, "usefulness": f.scores.usefulness,
                           "status": f.status, "evidenceStatus": f.evidence_status, "personas": f.personas,
                           "scoredBy": f.scores.scored_by},
        })
    notes = ([report.partial_reason or "partial run"] if not report.complete else []) + report.degraded
    run: dict[str, Any] = {
        "tool": {"driver": {"name": "rebuttal", "version": tool_version, "rules": rules}},
        "automationDetails": {"id": f"rebuttal/{report.workflow}/{report.run_id}"},
        "invocations": [{"executionSuccessful": report.complete, "toolExecutionNotifications": [
            {"level": "note" if note_label(note) == "Note" else "warning", "message": {"text": note}}
            for note in notes]}],
        "results": results,
        "properties": {"target": report.target, "models": report.models, "judge": report.judge,
                       "costUsd": report.total.cost_usd if report.total else 0.0},
    }
    base = repo or root
    if base:
        run["originalUriBaseIds"] = {"%SRCROOT%": {"uri": base.resolve().as_uri() + "/"}}
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


def _write(path: Path, text: str) -> Path:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


def write_sarif(report: Report, run_dir: Path, path: Path) -> Path:
    """Write the SARIF 2.1.0 log for code-scanning uploads."""
    return _write(path, json.dumps(sarif_log(report, run_dir), indent=2, ensure_ascii=False) + "\n")


def md_cell(text: str) -> str:
    """Model text made inert for a markdown table cell: one line, no HTML, no mentions, no markup."""
    flat = " ".join(str(text).split())
    flat = flat.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    flat = re.sub(r"([\\`*_\[\]|~#!])", r"\\\1", flat)
    return flat.replace("@", "@\u200b")


def md_code(text: str) -> str:
    """Text for inside a markdown code span in a table: one line, no backticks, pipes escaped."""
    return " ".join(str(text).split()).replace("`", "'").replace("|", "\\|")


def markdown_summary(report: Report, *, fail_on: str | None = None) -> str:
    """A short summary for a pull-request comment: headline, top findings, gate result, cost."""
    shown = report.reported
    n = len(shown)
    by_sev = ", ".join(f"{c} {s}" for s in reversed(SEVERITY_RANK)
                       if (c := sum(1 for f in shown if f.severity == s)))
    state = "complete" if report.complete else f"**partial**: {md_cell(report.partial_reason or 'stopped early')}"
    cost = (f"${report.total.cost_usd:.4f} · {report.total.calls} calls" if report.total else "no calls")
    lines = [f"### rebuttal: {n} finding{'' if n == 1 else 's'} on `{md_code(report.target)}`",
             "",
             f"{by_sev or 'nothing raised'} · {state} · workflow {md_cell(report.workflow)} · "
             f"{len(report.personas)} personas · models {md_cell(', '.join(report.models))} · "
             f"judge {md_cell(report.judge)} · {cost}", ""]
    if fail_on is not None:
        hits = failing(report, fail_on)
        verdict = (f"**fails**: {len(hits)} finding(s) match ({', '.join(f.id for f in hits)})" if hits
                   else "passes: no finding matches")
        lines += [f"Gate `{md_code(fail_on)}` {verdict}.", ""]
    if shown:
        lines += ["| id | severity | status | truth | useful | location | title | disagreed |",
                  "|---|---|---|---:|---:|---|---|---|"]
        for f in shown[:SUMMARY_ROWS]:
            against = sorted({s.persona for s in f.stances if s.stance == "disagree"})
            lines.append(f"| {f.id} | {f.severity} | {f.status} | {f.scores.truth:.2f} | {f.scores.usefulness:.2f} "
                         f"| `{md_code(f.file)}:{f.line_start}` | {md_cell(f.title)} "
                         f"| {md_cell(', '.join(against)) or '-'} |")
        if n > SUMMARY_ROWS:
            lines.append(f"\n…and {n - SUMMARY_ROWS} more.")
    if report.aside:
        lines.append(f"\n{len(report.aside)} model claim(s) set aside (nothing checkable; listed in the report).")
    for note in report.degraded:
        lines.append(f"\n> {note_label(note).lower()}: {md_cell(note)}")
    lines += ["", f"<sub>Run `{md_code(report.run_id)}` · full report: report.html and review-findings.md "
                  "in the run directory.</sub>", ""]
    return "\n".join(lines)


def write_markdown_summary(report: Report, path: Path, *, fail_on: str | None = None) -> Path:
    """Write the pull-request summary markdown file."""
    return _write(path, markdown_summary(report, fail_on=fail_on))
