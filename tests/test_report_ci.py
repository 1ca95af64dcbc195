"""CI outputs: the --fail-on gate (parser, evaluation, exit codes), SARIF 2.1.0 (official schema), PR summary."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from typer.testing import CliRunner

from engine.cli import app
from engine.models import Finding, Report, Scores, Stance
from engine.report.ci import BoolOp, Compare, FailOnError, failing, markdown_summary, matches, parse_fail_on, sarif_log
from engine.report.html import load_report
from tests.conftest import run_fake

SCHEMA = Path(__file__).resolve().parent / "data" / "sarif-schema-2.1.0.json"
runner = CliRunner()


def finding(n: int = 1, *, truth: float = 0.8, usefulness: float = 0.7, severity: str = "high",
            status: str = "contested", **kw: Any) -> Finding:
    data: dict[str, Any] = {
        "id": f"F-{n:03d}", "title": f"Finding {n}", "severity": severity, "file": "pkg/mod.py", "line_start": 10 * n,
        "line_end": 10 * n + 2, "evidence": f"x = {n}", "fix": "Do it right.", "status": status,
        "evidence_status": "verified", "personas": ["alice", "bob"], "issues": [f"R-alice#{n}"],
        "derived_from": ["R-alice"],
        "scores": Scores(truth=truth, truth_rationale="t", usefulness=usefulness, usefulness_rationale="u",
                         scored_by="judge"),
    }
    data.update(kw)
    return Finding(**data)


def report_of(findings: list[Finding], **kw: Any) -> Report:
    data: dict[str, Any] = {"run_id": "r1", "target": "pkg", "workflow": "debate", "models": ["fake"],
                            "judge": "fake", "personas": ["alice", "bob"], "findings": findings, "complete": True}
    data.update(kw)
    return Report(**data)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REBUTTAL_FORBID_REAL_MODELS", "1")
        run_dir, _ = run_fake(tmp_path_factory.mktemp("ci"), personas=3, k=1)
    return run_dir


# -- the gate language -------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("expr", "tree"), [
    ("truth>=0.7", Compare("truth", ">=", 0.7)),
    ("  usefulness <  .5 ", Compare("usefulness", "<", 0.5)),
    ("severity>=HIGH", Compare("severity", ">=", "high")),
    ("status = refuted", Compare("status", "==", "refuted")),
    ("status!=consensus", Compare("status", "!=", "consensus")),
    ("truth>=0.7 and usefulness>=0.6 and severity>=high",
     BoolOp("and", (Compare("truth", ">=", 0.7), Compare("usefulness", ">=", 0.6), Compare("severity", ">=", "high")))),
    ("status==refuted or truth>0.9 and severity==critical",
     BoolOp("or", (Compare("status", "==", "refuted"),
                   BoolOp("and", (Compare("truth", ">", 0.9), Compare("severity", "==", "critical")))))),
    ("(status==refuted or truth>0.9) AND severity==critical",
     BoolOp("and", (BoolOp("or", (Compare("status", "==", "refuted"), Compare("truth", ">", 0.9))),
                    Compare("severity", "==", "critical")))),
    ("((truth>=1))", Compare("truth", ">=", 1.0)),
])
def test_parse_fail_on(expr: str, tree: object) -> None:
    assert parse_fail_on(expr) == tree


@pytest.mark.parametrize(("expr", "message"), [
    ("", "empty expression"),
    ("   ", "empty expression"),
    ("truth", "expression ends too early"),
    ("truth>=", "expression ends too early"),
    ("truth>>1", "truth takes a number from 0 to 1"),
    ("truth>=1.5", "truth takes a number from 0 to 1"),
    ("truth>=high", "truth takes a number"),
    ("severity>=urgent", "severity takes one of low, medium, high, critical"),
    ("severity>=0.5", "severity takes one of"),
    ("status>=refuted", "status compares only with == or !="),
    ("status==maybe", "status takes one of consensus, contested, unique, refuted"),
    ("cost>=1", "expected a field"),
    ("truth>=0.7 usefulness>=0.6", "expected 'and' or 'or'"),
    ("truth>=0.7 and", "expression ends too early"),
    ("(truth>=0.7", "expected ')'"),
    ("truth>=0.7)", "expected 'and' or 'or'"),
    ("truth>=0.7 && severity>=high", "unexpected '&'"),
    ("__import__('os').system('true')", "unexpected"),
    ("__import__ == x", "expected a field"),
    ("truth>=0.7; rm -rf /", "unexpected ';'"),
])
def test_malformed_fail_on_is_one_clear_line(expr: str, message: str) -> None:
    with pytest.raises(FailOnError) as info:
        parse_fail_on(expr)
    text = str(info.value)
    assert message in text and text.startswith("--fail-on:") and "\n" not in text


@pytest.mark.parametrize(("expr", "kw", "expected"), [
    ("truth>=0.7", {"truth": 0.7}, True),
    ("truth>=0.7", {"truth": 0.69}, False),
    ("truth>0.7", {"truth": 0.7}, False),
    ("usefulness<=0.3", {"usefulness": 0.3}, True),
    ("severity>=high", {"severity": "critical"}, True),
    ("severity>=high", {"severity": "high"}, True),
    ("severity>=high", {"severity": "medium"}, False),
    ("severity<medium", {"severity": "low"}, True),
    ("severity==medium", {"severity": "medium"}, True),
    ("status==refuted", {"status": "refuted"}, True),
    ("status!=refuted", {"status": "refuted"}, False),
    ("truth>=0.7 and usefulness>=0.6 and severity>=high", {"truth": 0.8, "usefulness": 0.7}, True),
    ("truth>=0.7 and usefulness>=0.6 and severity>=high", {"truth": 0.8, "usefulness": 0.5}, False),
    ("status==refuted or severity==critical", {"severity": "critical"}, True),
    ("status==refuted or severity==critical", {}, False),
    ("(status==refuted or truth>0.9) and severity>=high", {"truth": 0.95}, True),
    ("(status==refuted or truth>0.9) and severity>=high", {"truth": 0.95, "severity": "low"}, False),
])
def test_matches(expr: str, kw: dict[str, Any], expected: bool) -> None:
    f = finding(**kw)
    assert matches(f, expr) is expected
    assert matches(json.loads(f.model_dump_json()), parse_fail_on(expr)) is expected  # dicts from report.json too


def test_failing_lists_matching_findings() -> None:
    report = report_of([finding(1, severity="critical"), finding(2, severity="low"), finding(3, truth=0.2)])
    assert [f.id for f in failing(report, "severity>=high and truth>=0.5")] == ["F-001"]
    assert failing(report, "status==refuted") == []


# -- exit codes ----------------------------------------------------------------------------------------------------

def test_report_fail_on_exit_codes(run: Path) -> None:
    report = load_report(run)
    assert report.findings
    worst = max(f.scores.truth for f in report.findings)
    hit = runner.invoke(app, ["report", str(run), "--fail-on", f"truth>={worst:.2f}"])
    assert hit.exit_code == 1, hit.output
    top = next(f.id for f in report.findings if f.scores.truth == worst)
    assert "fail-on:" in hit.stderr and top in hit.stderr
    miss = runner.invoke(app, ["report", str(run), "--fail-on", "status==refuted and status==consensus"])
    assert miss.exit_code == 0 and "no finding matches" in miss.stderr
    bad = runner.invoke(app, ["report", str(run), "--fail-on", "truth>>0.5"])
    assert bad.exit_code == 2
    assert bad.stderr.strip().count("\n") == 0 and bad.stderr.startswith("error: --fail-on:")
    missing = runner.invoke(app, ["report", str(run / "nope"), "--fail-on", "truth>=0.5"])
    assert missing.exit_code == 2 and "report.json" in missing.stderr


def test_report_writes_ci_files(run: Path, tmp_path: Path) -> None:
    sarif, md = tmp_path / "out" / "r.sarif", tmp_path / "pr.md"
    res = runner.invoke(app, ["report", str(run), "--sarif", str(sarif), "--markdown-summary", str(md)])
    assert res.exit_code == 0, res.output
    assert json.loads(sarif.read_text(encoding="utf-8"))["version"] == "2.1.0"
    assert md.read_text(encoding="utf-8").startswith("### rebuttal:")


def test_review_fail_on_malformed_fails_before_any_call(tmp_path: Path, example: Path) -> None:
    res = runner.invoke(app, ["review", str(example), "--model", "fake", "--out", str(tmp_path / "runs"),
                              "--fail-on", "severity>=urgent"])
    assert res.exit_code == 2 and "severity takes one of" in res.stderr
    assert not (tmp_path / "runs").exists()


def test_review_fail_on_sets_exit_code_and_writes_outputs(tmp_path: Path, example: Path) -> None:
    sarif, md = tmp_path / "r.sarif", tmp_path / "pr.md"
    res = runner.invoke(app, ["review", str(example), "--model", "fake", "--out", str(tmp_path / "runs"),
                              "--personas", "3", "-k", "1", "--run-id", "gate", "--fail-on", "severity>=low",
                              "--sarif", str(sarif), "--markdown-summary", str(md)])
    assert res.exit_code == 1, res.output
    assert sarif.exists() and md.exists() and (tmp_path / "runs" / "gate" / "report.html").exists()
    assert "**fails**" in md.read_text(encoding="utf-8")


# -- SARIF ---------------------------------------------------------------------------------------------------------

def validate_sarif(log: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft4Validator(schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(log), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:5])


def test_schema_file_is_the_official_one() -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    assert schema["id"] == "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
    assert len(schema["definitions"]) > 40 and schema["properties"]["version"]["enum"] == ["2.1.0"]
    jsonschema.Draft4Validator.check_schema(schema)


def test_sarif_from_a_real_run_validates(run: Path, tmp_path: Path) -> None:
    report = load_report(run)
    path = tmp_path / "r.sarif"
    res = runner.invoke(app, ["report", str(run), "--sarif", str(path)])
    assert res.exit_code == 0, res.output
    log = json.loads(path.read_text(encoding="utf-8"))
    validate_sarif(log)
    results = log["runs"][0]["results"]
    assert len(results) == len(report.findings)
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    for r, f in zip(results, report.findings, strict=True):
        loc = r["locations"][0]["physicalLocation"]
        assert loc["artifactLocation"]["uri"].endswith(f.file)
        assert loc["region"]["startLine"] == f.line_start
        assert r["properties"]["finding"] == f.id and rules[r["ruleIndex"]]["id"] == r["ruleId"]
        assert rules[r["ruleIndex"]]["shortDescription"]["text"] == f.title


def test_sarif_edge_cases_validate(tmp_path: Path) -> None:
    nasty = finding(1, title='<script>alert("x")</script> | "quoted"', line_start=0, line_end=0, severity="critical")
    report = report_of([nasty, finding(2, severity="low", file="./.github/my workflow.yml"),
                        finding(3, severity="medium")], complete=False,
                       partial_reason="budget: max calls reached", degraded=[
                           "judge failed; scores are mechanical",
                           "checks not applicable — analyzers: the target is a document (analyzers check code) (3 "
                           "finding(s))"])
    log = sarif_log(report, tmp_path)  # not a run directory: no run.yaml, no base URI
    validate_sarif(log)
    res = log["runs"][0]["results"]
    assert [r["level"] for r in res] == ["error", "note", "warning"]
    assert res[0]["locations"][0]["physicalLocation"]["region"]["startLine"] == 1
    assert res[1]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == ".github/my%20workflow.yml"
    inv = log["runs"][0]["invocations"][0]
    assert inv["executionSuccessful"] is False
    # the partial reason and the degraded judge warn; a check that did not apply is a note
    assert [n["level"] for n in inv["toolExecutionNotifications"]] == ["warning", "warning", "note"]
    empty = sarif_log(report_of([]), tmp_path)
    validate_sarif(empty)
    assert empty["runs"][0]["results"] == []


def test_sarif_fingerprint_is_stable_across_ids() -> None:
    a = sarif_log(report_of([finding(1)]), Path("."))["runs"][0]["results"][0]
    b = sarif_log(report_of([finding(1).model_copy(update={"id": "F-009", "line_start": 99, "line_end": 99})]),
                  Path("."))["runs"][0]["results"][0]
    assert a["partialFingerprints"] == b["partialFingerprints"] and a["ruleId"] == b["ruleId"]


# -- pull-request summary -----------------------------------------------------------------------------------------

def test_markdown_summary_is_short_and_inert() -> None:
    stance = Stance(artifact="S-x", persona="carol", stance="disagree", reason="no")
    nasty = finding(1, title="Use <script>alert(1)</script> | ping @octocat [x](javascript:alert(1))",
                    stances=[stance], severity="critical")
    many = [nasty] + [finding(n) for n in range(2, 15)]
    text = markdown_summary(report_of(many), fail_on="severity>=critical")
    assert text.startswith("### rebuttal: 14 findings on `pkg`")
    assert "1 critical, 13 high" in text
    assert "**fails**: 1 finding(s) match (F-001)" in text
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert "@octocat" not in text and "\\|" in text and "\\[x\\]" in text
    rows = [line for line in text.splitlines() if line.startswith("| F-")]
    assert len(rows) == 10 and rows[0].endswith("| carol |")
    assert "…and 4 more." in text
    assert "passes: no finding matches" in markdown_summary(report_of(many), fail_on="status==refuted")
