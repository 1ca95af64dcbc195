"""Model claims with nothing checkable are set aside: listed last, visible and traceable, never in the gate,
SARIF, the pull-request summary or review comments (issue 16: "add more detail" is not a finding)."""

from __future__ import annotations

import json
from pathlib import Path

from engine.report.ci import failing, markdown_summary, sarif_log
from engine.report.comments import review_payload
from engine.report.html import write_html
from engine.target.evidence import locate_quote
from engine.target.ingest import ingest
from engine.verify.features import quote_status, set_aside_reason
from tests.conftest import run_fake
from tests.test_report_ci import finding, report_of

ECHO = "Security and privacy holes"


def test_the_rule() -> None:
    model = ["generalist-1"]
    # documents: a claim needs a quote found in the document, and a title that names something
    assert "no quote" in set_aside_reason("Retry storm on the push provider", "docs/prd.md", model, "not_found")
    assert set_aside_reason("Retry storm on the push provider", "docs/prd.md", model, "verified") is None
    assert set_aside_reason("Retry storm on the push provider", "prd.rst", model, "moved") is None
    # a quote found keeps a claim whatever its title: the fix may name the flaw ("Redis has no failure behaviour")
    assert set_aside_reason(ECHO, "prd.md", model, "verified") is None
    assert set_aside_reason(ECHO, "prd.md", model, "verified", "Redis has no failure behaviour: fail closed.") is None
    # ... unless, in a document, the fix too only asks for more
    for fix in ("The document should specify the security measures taken to protect customer data.",
                "Add more detail about the security.", ""):
        assert "only asks for more" in set_aside_reason(ECHO, "prd.md", model, "verified", fix)
    assert set_aside_reason(ECHO, "app/x.py", model, "verified", "Add more detail.") is None  # code: never
    assert set_aside_reason("Retry storm on the push provider", "prd.md", model, "verified",
                            "The document should specify the retry policy.") is None  # the title names a flaw
    assert set_aside_reason(ECHO, "prd.md", model, "verified",
                            "The document should say the token leaks into proxy logs.") is None  # concrete
    # a title that only wishes for more, with a fix that only asks for more (RESULTS §19: 5 tuning findings, none real)
    for title, fix in (("Missing payment flow section", "Add a section on the payment flow in the document."),
                       ("Incomplete Model Description", "Add a clear description of the structure of the rules and "
                                                        "the conditions under which they are evaluated.")):
        assert "say more" in set_aside_reason(title, "prd.md", model, "verified", fix)
    assert set_aside_reason("Missing payment flow section", "prd.md", model, "verified",
                            "Say what happens when the payment provider times out.") is None  # the fix names a flaw
    # code: only a checklist heading with no quote found; a real quote keeps even a generic title
    assert "checklist" in set_aside_reason("Unbounded cost", "app/cache.py", model, "not_found")
    assert set_aside_reason("Unbounded cost", "app/cache.py", model, "verified") is None
    assert set_aside_reason("Refill outside the lock", "app/cache.py", model, "not_found") is None
    # what the engine raised itself is never set aside
    assert set_aside_reason(ECHO, "prd.md", ["claims-checker"], "not_found") is None
    assert set_aside_reason("Unbounded cost", "a.py", ["analyzers", "generalist-1"], "not_found") is None


def test_set_aside_findings_stay_out_of_every_ci_output(tmp_path: Path) -> None:
    aside = finding(2, truth=0.9, severity="critical", title=ECHO, set_aside="the title only repeats ...")
    report = report_of([finding(1), aside])
    assert [f.id for f in report.reported] == ["F-001"] and [f.id for f in report.aside] == ["F-002"]
    assert [f.id for f in failing(report, "severity>=critical")] == []
    log = sarif_log(report, tmp_path)
    assert [r["message"]["text"] for r in log["runs"][0]["results"]] == [
        r["message"]["text"] for r in sarif_log(report_of([finding(1)]), tmp_path)["runs"][0]["results"]]
    text = markdown_summary(report)
    assert "1 finding on" in text and "F-002" not in text and "1 model claim(s) set aside" in text
    payload = review_payload(report, run_dir="runs/r1", threshold="truth>=0.5")
    assert len(payload["comments"]) == 1 and ECHO not in json.dumps(payload)


DOC = """# Exports

## Requirements

An export of up to 10,000 rows finishes within 30 seconds.

## Design

Exports run on the web workers and are streamed to the browser as CSV.
"""


def test_a_document_run_sets_aside_what_it_cannot_check(tmp_path: Path) -> None:
    target = tmp_path / "prd.md"
    target.write_text(DOC, encoding="utf-8")
    run_dir, report = run_fake(tmp_path, target, workflow="single")
    text = (run_dir / "review-findings.md").read_text(encoding="utf-8")
    for f in report.findings:
        assert f.set_aside == set_aside_reason(f.title, f.file, f.personas, quote_status(f.evidence_status, f.checks))
    stored = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    assert [f["set_aside"] for f in stored["findings"]] == [f.set_aside for f in report.findings]
    if report.aside:  # listed last, in their own table, each still with its own section for the trace
        assert report.findings[-len(report.aside):] == report.aside
        assert "**Set aside**" in text and f"## {report.aside[0].id} — " in text
    assert f"**Findings:** {len(report.reported)}" in text


def test_a_quote_stitched_from_the_claims_list_is_found(tmp_path: Path) -> None:
    target = tmp_path / "prd.md"
    target.write_text(DOC, encoding="utf-8")
    snap = ingest(target)
    stitched = ("Requirements: An export of up to 10,000 rows finishes within 30 seconds. "
                "Design: Exports run on the web workers and are streamed to the browser as CSV.")
    assert locate_quote(snap, "prd.md", 5, 9, stitched).status == "verified"
    # one real sentence padded with an invented one of the same length is not the document's text
    padded = ("Requirements: An export of up to 10,000 rows finishes within 30 seconds. "
              "Design: Exports are retried forever by the scheduler with no backoff at all, ever.")
    assert locate_quote(snap, "prd.md", 5, 9, padded).status == "not_found"
    # code is not taken apart into sentences
    code = tmp_path / "a.py"
    code.write_text("def f(x):\n    return x + 1000000000000000000\n", encoding="utf-8")
    assert locate_quote(ingest(code), "a.py", 1, 2, "def g(x): return x + 1000000000000000000").status == "not_found"


def test_report_html_marks_set_aside_and_keeps_them_out_of_the_top_list(tmp_path: Path, small_py: Path) -> None:
    run_dir, report = run_fake(tmp_path, small_py, workflow="single")
    assert report.findings
    data = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    for f in data["findings"]:
        f["set_aside"] = "the title only repeats a heading of the review checklist"
    (run_dir / "report.json").write_text(json.dumps(data), encoding="utf-8")
    html = write_html(run_dir).read_text(encoding="utf-8")
    assert html.count('class="badge set-aside"') == 2 * len(data["findings"])  # table row and details
    assert '<ol class="top-list">' not in html and "model claim(s) set aside" in html
    assert "the title only repeats a heading of the review checklist" in html
