"""Commands for reading runs: `report` (HTML, SARIF, PR summary, --fail-on gate), `runs`, `show`, `diff`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from engine.console import err, fail, out, print_notes
from engine.errors import ConfigError, RebuttalError
from engine.models import Report
from engine.report.ci import FailOnError, failing, parse_fail_on, repo_prefix, write_markdown_summary, write_sarif
from engine.report.comments import DEFAULT_MAX_COMMENTS, DEFAULT_THRESHOLD, write_review_comments
from engine.report.history import RunDiff, diff_runs, list_runs
from engine.report.html import load_report, nice_time, write_html
from engine.rundir import RunDir

Opt = typer.Option



def ci_exit(report: Report, run_dir: Path, fail_on: str | None, sarif: Path | None,
            markdown_summary: Path | None) -> int:
    """Write the CI outputs asked for and return the exit code: 1 when a finding trips --fail-on, else 0."""
    try:
        hits = failing(report, fail_on) if fail_on else []
        if sarif:
            err.print(f"SARIF: {write_sarif(report, run_dir, sarif)}", highlight=False)
        if markdown_summary:
            err.print(f"Summary: {write_markdown_summary(report, markdown_summary, fail_on=fail_on)}",
                      highlight=False)
    except RebuttalError as exc:
        fail(str(exc))
        return 2
    if not fail_on:
        return 0
    if hits:
        err.print(f"[bold red]fail-on:[/] {len(hits)} finding(s) match {fail_on!r}: "
                  f"{', '.join(f.id for f in hits)}", highlight=False, soft_wrap=True)
        return 1
    err.print(f"fail-on: no finding matches {fail_on!r}", highlight=False, soft_wrap=True)
    return 0


def check_comment_on(expr: str) -> None:
    """Parse the --comment-on threshold; a malformed one is an error naming that option."""
    try:
        parse_fail_on(expr)
    except FailOnError as exc:
        raise ConfigError(str(exc).replace("--fail-on:", "--comment-on:", 1)) from None


def findings_count(report: Report) -> str:
    """'3 in all' or '3 in all, 2 set aside' (set-aside claims are listed in the report, not here)."""
    return f"{len(report.reported)} in all" + (f", {len(report.aside)} set aside" if report.aside else "")


def findings_table(report: Report, title: str, limit: int = 10, raised_by: bool = False) -> Table:
    """The findings the report stands behind (set-aside ones left out), first `limit`, one row each."""
    t = Table(title=f"{title} ({findings_count(report)})")
    for col in ("id", "severity", "status", "truth", "useful", "location", "title", *(["raised by"] * raised_by)):
        t.add_column(col, overflow="fold")
    for f in report.reported[:limit]:
        t.add_row(f.id, f.severity, f.status, f"{f.scores.truth:.2f}", f"{f.scores.usefulness:.2f}",
                  f"{f.file}:{f.line_start}", f.title, *([str(len(f.personas))] * raised_by))
    return t


def print_summary(run_dir: Path, report: Report, limit: int = 10) -> None:
    """The run's headline, top findings, cost and where to look next."""
    out.print(findings_table(report, f"{report.target}: top findings", limit, raised_by=True))
    if any(c.timed_calls or c.prompt_cached for c in report.cost_by_stage):
        out.print(time_table(report))
    tot = report.total
    cost = f"{tot.calls} calls, {tot.prompt_tokens + tot.completion_tokens} tokens, ${tot.cost_usd:.4f}" if tot else ""
    state = "complete" if report.complete else f"PARTIAL ({report.partial_reason})"
    out.print(f"[bold]{state}[/] — workflow {report.workflow} — models {', '.join(report.models)} — "
              f"judge {report.judge} — {cost}", highlight=False)
    print_notes(report.degraded)
    run = RunDir(run_dir)
    out.print(f"Report: {run.report_html if run.report_html.exists() else run.report_md}", highlight=False)
    out.print(f"Trace a finding: rebuttal trace {run_dir} F-001", highlight=False)


def time_table(report: Report) -> Table:
    """Where the time went, per stage: prompt tokens evaluated vs served from cache, server-side timings."""
    t = Table(title="Where the time went (server timings)")
    for col in ("stage", "calls", "prompt tok", "cached", "evaluated", "prompt eval s", "generation s", "latency s"):
        t.add_column(col, justify="left" if col == "stage" else "right")
    rows = [*report.cost_by_stage, *([report.total] if report.total else [])]
    for c in rows:
        timed = c.timed_calls > 0
        t.add_row(c.key, str(c.calls), str(c.prompt_tokens), str(c.prompt_cached),
                  str(c.prompt_tokens - c.prompt_cached), f"{c.prompt_eval_s:.1f}" if timed else "–",
                  f"{c.generation_s:.1f}" if timed else "–", f"{c.latency_s:.1f}")
    return t


def print_diff(d: RunDiff) -> None:
    """Appeared, disappeared and changed findings as tables."""
    if d.warning:
        err.print(f"[yellow]warning:[/] {d.warning}", highlight=False)
    out.print(f"{d.a.run_id} → {d.b.run_id}: {len(d.appeared)} appeared, {len(d.disappeared)} disappeared, "
              f"{len(d.changed)} changed, {len(d.unchanged)} unchanged", highlight=False)
    for title, rows in (("Appeared (in B only)", d.appeared), ("Disappeared (in A only)", d.disappeared)):
        if rows:
            t = Table(title=title)
            for col in ("id", "severity", "truth", "useful", "location", "title"):
                t.add_column(col, overflow="fold")
            for f in rows:
                t.add_row(f.id, f.severity, f"{f.scores.truth:.2f}", f"{f.scores.usefulness:.2f}",
                          f"{f.file}:{f.line_start}", f.title)
            out.print(t)
    if d.changed:
        t = Table(title="Changed")
        for col in ("A", "B", "location", "title", "change"):
            t.add_column(col, overflow="fold")
        for c in d.changed:
            t.add_row(c.before.id, c.after.id, f"{c.after.file}:{c.after.line_start}", c.after.title,
                      "; ".join(c.changes))
        out.print(t)


def register(app: typer.Typer) -> None:
    """Add the run-reading commands to the `rebuttal` app."""

    @app.command("report")
    def report_cmd(
        run_dir: Annotated[Path, typer.Argument(help="A run directory.")],
        html: Annotated[bool, Opt("--html", help="(Re)write report.html in the run directory.")] = False,
        sarif: Annotated[Path | None, Opt(help="Write SARIF 2.1.0 here (for code-scanning uploads).")] = None,
        markdown_summary: Annotated[Path | None, Opt(help="Write a short pull-request summary here.")] = None,
        fail_on: Annotated[str | None, Opt(help="Exit 1 when a finding matches, e.g. "
                                                "'truth>=0.7 and usefulness>=0.6 and severity>=high'.")] = None,
        review_comments: Annotated[Path | None, Opt(help="Write pull-request line comments here (the body of "
                                                         "GitHub's create-review API).")] = None,
        comment_on: Annotated[str, Opt(help="Which findings get a comment (the --fail-on language).")] =
            DEFAULT_THRESHOLD,
        max_comments: Annotated[int, Opt(help="At most this many comments, best first.")] = DEFAULT_MAX_COMMENTS,
    ) -> None:
        """Render a finished run: HTML report, CI outputs and the --fail-on exit code."""
        try:
            if fail_on:
                parse_fail_on(fail_on)
            if review_comments:
                check_comment_on(comment_on)
            report = load_report(run_dir)
            if html:
                out.print(f"HTML: {write_html(run_dir)}", highlight=False)
            if review_comments:
                written = write_review_comments(report, run_dir, review_comments, prefix=repo_prefix(run_dir),
                                                threshold=comment_on, max_comments=max_comments)
                err.print(f"Review comments: {written}", highlight=False)
        except RebuttalError as exc:
            fail(str(exc))
            return
        if not (html or sarif or markdown_summary or fail_on or review_comments):
            print_summary(run_dir, report)
        raise typer.Exit(ci_exit(report, run_dir, fail_on, sarif, markdown_summary))

    @app.command("runs")
    def runs_cmd(
        runs_dir: Annotated[Path, typer.Argument(help="Folder of run directories.")] = Path("runs"),
        as_json: Annotated[bool, Opt("--json", help="Print JSON instead of a table.")] = False,
    ) -> None:
        """List the runs in a folder: id, target, workflow, models, findings, cost, date, state."""
        try:
            runs = list_runs(runs_dir)
        except RebuttalError as exc:
            fail(str(exc))
            return
        if as_json:
            print(json.dumps([r.as_dict() for r in runs], indent=2))
            return
        t = Table(title=f"Runs in {runs_dir} ({len(runs)})")
        t.add_column("run", no_wrap=True)
        for col in ("target", "workflow", "models", "findings", "cost", "date", "state"):
            t.add_column(col, overflow="fold")
        for r in runs:
            state = {"complete": "complete", "partial": "[yellow]partial[/]"}.get(r.state, f"[dim]{r.state}[/]")
            t.add_row(r.path.name, r.target, r.workflow, ", ".join(r.models) + f" (judge {r.judge})",
                      "-" if r.findings is None else str(r.findings), f"${r.cost_usd:.4f}", nice_time(r.created),
                      state)
        out.print(t)

    @app.command("show")
    def show_cmd(
        run_dir: Annotated[Path, typer.Argument(help="A run directory.")],
        as_json: Annotated[bool, Opt("--json", help="Print report.json's findings and totals.")] = False,
    ) -> None:
        """Print a finished run's summary again."""
        try:
            report = load_report(run_dir)
        except RebuttalError as exc:
            fail(str(exc))
            return
        if as_json:
            data = json.loads(report.model_dump_json())
            print(json.dumps({"run_dir": str(run_dir), "complete": report.complete, "findings": data["findings"],
                              "total": data["total"]}, indent=2))
            return
        print_summary(run_dir, report)

    @app.command("diff")
    def diff_cmd(
        run_a: Annotated[Path, typer.Argument(help="The earlier run directory.")],
        run_b: Annotated[Path, typer.Argument(help="The later run directory.")],
        as_json: Annotated[bool, Opt("--json", help="Print JSON instead of tables.")] = False,
    ) -> None:
        """Findings that appeared, disappeared or changed score between two runs (matched by location and content)."""
        try:
            d = diff_runs(run_a, run_b)
        except RebuttalError as exc:
            fail(str(exc))
            return
        if as_json:
            print(json.dumps(d.as_dict(), indent=2))
            return
        print_diff(d)
