"""The verify stage end to end on the fake model: verifications/ files, checks in report.json, markdown and
HTML, trace, the analyzers review, targets the analyzers do not cover, the analyzer cache and --execute."""

from __future__ import annotations

import asyncio
import json
import sys
import types
from pathlib import Path

import pytest

from engine import api
from engine.artifacts import read_front_matter
from engine.errors import ConfigError
from engine.models import Report
from engine.target.snapshot import SourceFile, TargetSnapshot
from engine.trace import render_trace, trace
from engine.verify import analyzers
from engine.verify.checks import Check
from tests.conftest import FIXED_CLOCK, FIXED_NONCE, run_fake

CACHE_PY = '''"""A tiny cache."""
import pickle


def remember(key, seen=[]):
    seen.append(key)
    return seen


x = 1
y = 2
z = 3
w = 4
v = 5
u = 6
t = 7
s = 8


def restore(path):
    with open(path, "rb") as fh:
        return pickle.load(fh)
'''


@pytest.fixture
def cache_py(tmp_path: Path) -> Path:
    path = tmp_path / "src" / "cache.py"
    path.parent.mkdir()
    path.write_text(CACHE_PY, encoding="utf-8")
    return path


def supported_by(finding: dict, tool_rules: set[str]) -> bool:
    return any(c["kind"].startswith("analyzer:") and c["outcome"] == "supports" and c["data"]["rule"] in tool_rules
               for c in finding["checks"])


def test_mutable_default_and_pickle_load_are_two_analyzer_supported_findings(tmp_path: Path, cache_py: Path) -> None:
    # a fixed library panel whose fake reviews do not happen to cite those lines (a generated one may)
    run_dir, _ = run_fake(tmp_path, cache_py, persona=["performance-engineer", "reliability-engineer", "test-engineer"],
                          k=1)
    findings = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))["findings"]
    mutable = [f for f in findings if supported_by(f, {"B006"})]
    pickled = [f for f in findings if supported_by(f, {"S301", "B301"})]
    assert len(mutable) == 1 and len(pickled) == 1
    assert mutable[0]["id"] != pickled[0]["id"]
    assert mutable[0]["line_start"] <= 6 and 20 <= pickled[0]["line_end"] <= 23
    # nobody on the fake panel raised them: the analyzers review did, and its issues were kept
    assert "analyzers" in mutable[0]["personas"] and "analyzers" in pickled[0]["personas"]
    assert all(f["status"] != "refuted" for f in mutable + pickled)
    review = (run_dir / "reviews" / "analyzers-review.md").read_text(encoding="utf-8")
    assert "B006" in review and "pickle.load(fh)" in review
    cached = json.loads((run_dir / "analyzers.json").read_text(encoding="utf-8"))
    assert set(cached["tools"]) == {"ruff", "bandit"} and cached["files"] == ["cache.py"] and not cached["errors"]


def test_analyzers_review_is_answered_never_rebutted(tmp_path: Path, cache_py: Path) -> None:
    run_dir, _ = run_fake(tmp_path, cache_py)
    assert list((run_dir / "responses").glob("analyzers--*-response.md")), "a persona answered the analyzers"
    assert not list((run_dir / "rebuttals").glob("analyzers--*"))
    assert not (run_dir / "findings" / "analyzers-findings.md").exists()
    assert not list((run_dir / "calls").glob("*--analyzers--*")), "the analyzers make no model call"


def test_verifications_are_artifacts_and_checks_reach_every_report(tmp_path: Path, cache_py: Path) -> None:
    run_dir, report = run_fake(tmp_path, cache_py)
    files = sorted((run_dir / "verifications").glob("*-verification.md"))
    assert [p.name for p in files] == [f"C-{n:03d}-verification.md" for n in range(1, len(report.findings) + 1)]
    for path in files:
        meta = read_front_matter(path)
        assert meta["kind"] == "verification" and meta["id"] == path.name.removesuffix("-verification.md")
        assert meta["derived_from"] and all(d.startswith(("R-", "FS-")) for d in meta["derived_from"])
        assert "## Checks" in path.read_text(encoding="utf-8")
    data = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    for f in data["findings"]:
        assert f["verification"] and (run_dir / "verifications" / f"{f['verification']}-verification.md").exists()
        quotes = [c for c in f["checks"] if c["kind"] == "quote"]
        assert quotes and all(c["outcome"] in ("supports", "refutes", "inconclusive") for c in quotes)
        meta = read_front_matter(run_dir / "verifications" / f"{f['verification']}-verification.md")
        assert set(meta["issues"]) == {i for i in f["issues"] if not i.startswith("FS-")}
    md = (run_dir / "review-findings.md").read_text(encoding="utf-8")
    assert "- **Checks** (`verifications/C-" in md and "analyzer:ruff: B006" in md
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    assert 'class="checks"' in html and "analyzer:bandit" in html and "verifications/C-001-verification.md" in html


def test_trace_shows_the_checks_and_walks_to_the_verification(tmp_path: Path, cache_py: Path) -> None:
    run_dir, report = run_fake(tmp_path, cache_py)
    fid = next(f.id for f in report.findings if any(c.kind == "analyzer:ruff" and c.outcome == "supports"
                                                    for c in f.checks))
    t = trace(run_dir, fid)
    text = render_trace(t)
    assert f"checks ({t['verification']['path']}):" in text
    assert "supports     analyzer:ruff: B006" in text or "supports     analyzer:ruff: S301" in text
    assert "supports     quote:" in text
    ancestry = trace(run_dir, t["verification"]["id"])["ancestry"]
    assert ancestry[0]["kind"] == "verification" and any(n["id"] == "R-analyzers" for n in ancestry)


@pytest.mark.parametrize(
    ("name", "text", "reason"),
    [
        ("design.md", "# Design\n\n## Storage\nAll state is kept in one process and lost on restart.\n"
         "## Auth\nTokens never expire and are stored in plain text on the server.\n",
         "analyzers: the target is a document (analyzers check code)"),
        ("main.go", "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tvalues := []int{1, 2, 3}\n"
         "\tfor i := 0; i <= len(values); i++ {\n\t\tfmt.Println(values[i])\n\t}\n}\n",
         f"analyzers: no analyzer installed for go ({analyzers.COVERAGE})"),
        ("app.rb", "require 'yaml'\n\ndef load(path)\n  YAML.load(File.read(path))\nend\n\nputs load(ARGV[0])\n",
         f"analyzers: no analyzer installed for ruby ({analyzers.COVERAGE})"),
    ],
)
def test_targets_without_an_analyzer_say_so_once_and_nothing_fails(tmp_path: Path, name: str, text: str,
                                                                     reason: str) -> None:
    target = tmp_path / "in" / name
    target.parent.mkdir()
    target.write_text(text, encoding="utf-8")
    run_dir, report = run_fake(tmp_path, target, personas=3, k=1)
    assert report.complete and report.findings
    assert not (run_dir / "reviews" / "analyzers-review.md").exists()
    for path in (run_dir / "verifications").glob("*.md"):
        assert reason in path.read_text(encoding="utf-8")
    notes = [d for d in report.degraded if d.startswith("checks not applicable")]
    assert notes == [f"checks not applicable — {reason} ({len(report.findings)} finding(s))"]
    md = (run_dir / "review-findings.md").read_text(encoding="utf-8")
    assert md.count(reason) == 1  # once in the report, not per finding
    # a check the target has no use for is a note, not a sign the run was degraded
    assert f"> **Note:** checks not applicable — {reason}" in md and "**Degraded:** checks not" not in md
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    assert '<p class="note"><strong>Note:</strong> checks not applicable' in html
    assert all(any(c.kind == "quote" for c in f.checks) for f in report.findings)


BUGGY_JS = """'use strict';

function median(values) {
  if (values.length === 0) return NaN;
  const sorted = values.slice().sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function countdown(from) {
  const out = [];
  for (let i = from; i >= 0; i++) {
    out.push(i);
  }
  return out;
}

function isMissing(value) {
  return value === NaN;
}

module.exports = { median, countdown, isMissing };
"""


def test_javascript_gets_oxlint_hits_as_analyzer_supported_findings(tmp_path: Path) -> None:
    target = tmp_path / "src" / "stats.js"
    target.parent.mkdir()
    target.write_text(BUGGY_JS, encoding="utf-8")
    run_dir, report = run_fake(tmp_path, target, persona=["performance-engineer", "reliability-engineer"], k=1)
    cached = json.loads((run_dir / "analyzers.json").read_text(encoding="utf-8"))
    assert set(cached["tools"]) == {"oxlint"} and cached["files"] == ["stats.js"] and not cached["errors"]
    assert {(h["rule"], h["line"]) for h in cached["hits"]} == {("for-direction", 12), ("use-isnan", 19)}
    findings = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))["findings"]
    loop = [f for f in findings if supported_by(f, {"for-direction"})]
    nan = [f for f in findings if supported_by(f, {"use-isnan"})]
    assert len(loop) == 1 and len(nan) == 1 and loop[0]["id"] != nan[0]["id"]
    assert "analyzers" in loop[0]["personas"] and loop[0]["scores"]["truth"] >= 0.5
    assert "i >= 0; i++" in loop[0]["evidence"]
    # a JavaScript finding is no longer "no analyzer installed"
    assert not [d for d in report.degraded if "no analyzer installed" in d]


def test_a_workflow_without_the_language_s_analyzer_says_so(tmp_path: Path) -> None:
    target = tmp_path / "src" / "stats.js"
    target.parent.mkdir()
    target.write_text(BUGGY_JS, encoding="utf-8")
    flow = tmp_path / "python-only.yaml"
    flow.write_text("name: python-only\ndescription: single with the Python analyzers only\nstages:\n"
                    "  - {stage: personas}\n  - {stage: reviews}\n  - {stage: verify, analyzers: [ruff, bandit]}\n"
                    "  - {stage: compile}\n", encoding="utf-8")
    run_dir, report = run_fake(tmp_path, target, workflow=str(flow), personas=2, k=1)
    assert json.loads((run_dir / "analyzers.json").read_text(encoding="utf-8"))["tools"] == {}
    reason = "analyzers: this workflow runs none for javascript (verify: analyzers: [ruff, bandit])"
    assert [d for d in report.degraded if d.startswith("checks not applicable")] == [
        f"checks not applicable — {reason} ({len(report.findings)} finding(s))"]


def test_a_python_target_does_not_miss_the_javascript_analyzer(tmp_path: Path, cache_py: Path) -> None:
    run_dir, report = run_fake(tmp_path, cache_py, personas=2, k=1)
    assert "oxlint" not in json.loads((run_dir / "analyzers.json").read_text(encoding="utf-8"))["tools"]
    texts = [p.read_text(encoding="utf-8") for p in (run_dir / "verifications").glob("*-verification.md")]
    assert texts and not any("oxlint" in t for t in texts)
    assert not [d for d in report.degraded if "oxlint" in d]


def test_fusion_has_the_analyzers_review_join_compile(tmp_path: Path, cache_py: Path) -> None:
    run_dir, report = run_fake(tmp_path, cache_py, workflow="fusion", personas=2)
    assert (run_dir / "reviews" / "analyzers-review.md").exists()
    assert any("analyzers" in f.personas for f in report.findings)
    assert list((run_dir / "verifications").glob("*.md"))


def test_analyzers_turned_off_in_the_workflow(tmp_path: Path, cache_py: Path) -> None:
    wf = tmp_path / "quiet.yaml"
    wf.write_text("name: quiet\ndescription: d\nstages: [personas, reviews, {stage: verify, analyzers: []}, compile]\n"
                  "defaults: {personas: 2, k: 0}\n", encoding="utf-8")
    run_dir, report = run_fake(tmp_path, cache_py, workflow=str(wf))
    assert not (run_dir / "reviews" / "analyzers-review.md").exists()
    assert not any(c.kind.startswith("analyzer") for f in report.findings for c in f.checks)
    assert any("turned off in the workflow" in d for d in report.degraded)


def test_analyzers_run_on_the_snapshot_text_not_on_disk_and_are_cached(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    # the file exists only in the snapshot (as after redaction): the analyzers see exactly that text
    snap = TargetSnapshot(kind="folder", root=str(tmp_path / "nowhere"), name="x",
                          files=[SourceFile(path="pkg/m.py", text=CACHE_PY, language="python"),
                                 SourceFile(path="README.md", text="# x\n")])
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    run = analyzers.load_or_run(run_dir, snap, ["ruff", "bandit"])
    assert run.files == ["pkg/m.py"] and {(h.rule, h.line) for h in run.hits} >= {("B006", 5), ("S301", 22)}
    assert not (tmp_path / "nowhere").exists()

    def boom(root: Path) -> list:
        raise AssertionError("a resume must not run the analyzers again")

    monkeypatch.setattr(analyzers, "RUNNERS", {"ruff": boom, "bandit": boom})
    assert analyzers.load_or_run(run_dir, snap, ["ruff", "bandit"]) == run
    (run_dir / "analyzers.json").write_text("{\"hits\": 3}", encoding="utf-8")
    with pytest.raises(ConfigError, match="not an analyzer cache"):
        analyzers.load_or_run(run_dir, snap, ["ruff"])


def test_a_failing_analyzer_is_recorded_not_silent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(root: Path) -> list:
        raise RuntimeError("ruff exited 2: boom")

    monkeypatch.setitem(analyzers.RUNNERS, "ruff", broken)
    snap = TargetSnapshot(kind="file", root="/x", name="m.py", files=[SourceFile(path="m.py", text=CACHE_PY)])
    run = analyzers.run_analyzers(snap, ["ruff", "bandit"])
    assert run.errors == ["ruff did not run: RuntimeError: ruff exited 2: boom"]
    assert set(run.tools) == {"bandit"} and run.hits


def run_execute(tmp_path: Path, target: Path) -> Report:
    settings = api.build_settings(str(target), run_id="exec", model="fake", personas=2, k=1)
    settings = settings.model_copy(update={"created": FIXED_CLOCK, "execute": True})
    prep = api.prepare(settings, tmp_path / "runs", check_providers=False, nonce=FIXED_NONCE)
    return asyncio.run(api.execute(prep, clock=lambda: FIXED_CLOCK))


def test_execute_without_the_sandbox_is_a_clear_error(tmp_path: Path, cache_py: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "engine.verify.reproduce", None)  # as if the module were absent
    with pytest.raises(ConfigError, match="--execute needs the reproducer sandbox"):
        run_execute(tmp_path, cache_py)


def test_execute_adds_the_reproducers_checks(tmp_path: Path, cache_py: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []

    def reproduce(ctx: object, subject: object) -> list[Check]:
        seen.append(subject)
        return [Check(kind="reproducer", outcome="inconclusive", detail="test double")]

    monkeypatch.setitem(sys.modules, "engine.verify.reproduce", types.SimpleNamespace(reproduce=reproduce))
    report = run_execute(tmp_path, cache_py)
    assert seen and all(any(c.kind == "reproducer" for c in f.checks) for f in report.findings)


def test_resume_after_a_failed_compile_replays_verify_from_the_checkpoint(tmp_path: Path, cache_py: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from engine import graph
    from engine.llm.fake import FakeChatModel, Fault

    failing = FakeChatModel(faults=[Fault(kind="auth", match="Question: is this claim correct?")])
    with pytest.raises(Exception, match="(?i)auth|401|key"):
        run_fake(tmp_path, cache_py, factory=lambda name, max_tokens: failing, strict=True, personas=2, k=1)
    run_dir = tmp_path / "runs" / "test-run"
    written = sorted(p.name for p in (run_dir / "verifications").glob("*.md"))
    assert written and (run_dir / "analyzers.json").exists() and not (run_dir / "report.json").exists()

    def boom(*args: object) -> None:
        raise AssertionError("a finished stage ran again on resume")

    monkeypatch.setattr(analyzers, "RUNNERS", {"ruff": boom, "bandit": boom})
    monkeypatch.setattr(graph, "verify_findings", boom)
    monkeypatch.setattr(graph, "analyze", boom)
    report = asyncio.run(api.resume(run_dir))
    assert report.complete and sorted(p.name for p in (run_dir / "verifications").glob("*.md")) == written
    assert all(f.checks and f.verification for f in report.findings)
