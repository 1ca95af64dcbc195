"""Reading a run: the HTML report, CI outputs (fail-on gate, SARIF, PR summary) and run history."""

from engine.report.ci import matches, parse_fail_on, write_markdown_summary, write_sarif
from engine.report.history import diff_runs, list_runs
from engine.report.html import write_html

__all__ = ["diff_runs", "list_runs", "matches", "parse_fail_on", "write_html", "write_markdown_summary",
           "write_sarif"]
