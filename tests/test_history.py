"""Run history: `rebuttal runs`, `rebuttal show` and `rebuttal diff` (findings matched by location and content)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from engine.cli import app
from engine.errors import ConfigError
from engine.models import Finding, Scores
from engine.report.history import diff_findings, diff_runs, list_runs, similarity
from tests.conftest import run_fake

runner = CliRunner()


def finding(n: int, *, file: str = "a.py", line: int = 10, evidence: str = "x = 1", title: str = "Bad x",
            truth: float = 0.8, usefulness: float = 0.7, **kw: Any) -> Finding:
    return Finding(id=f"F-{n:03d}", title=title, severity=kw.pop("severity", "high"), file=file, line_start=line,
                   line_end=line, evidence=evidence, fix="fix", status=kw.pop("status", "unique"),
                   evidence_status="verified", personas=["p"], issues=[f"R-p#{n}"], derived_from=["R-p"],
                   scores=Scores(truth=truth, truth_rationale="t", usefulness=usefulness, usefulness_rationale="u",
                                 scored_by="j"), **kw)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("history")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REBUTTAL_FORBID_REAL_MODELS", "1")
        run_fake(base, run_id="run-a", personas=3, k=1)
    return base / "runs"


def edit_report(run_dir: Path, change: Any) -> None:
    path = run_dir / "report.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data), encoding="utf-8")


def test_similarity_prefers_same_place_and_content() -> None:
    a = finding(1, evidence="cached = self.cache.get(key)", line=97)
    assert similarity(a, finding(7, evidence="cached = self.cache.get(key)", line=97)) == 1.0
    assert similarity(a, finding(2, evidence="cached  =  self.cache.get(key)", line=140)) > 0.7  # code moved
    assert similarity(a, finding(3, evidence="cached = self.cache.get(key)", file="b.py")) == 0.0
    assert similarity(a, finding(4, evidence="return None", title="Other thing", line=3)) < 0.55


def test_diff_findings_matches_one_to_one_and_reports_changes() -> None:
    before = [finding(1, evidence="x = 1"), finding(2, evidence="y = eval(s)", title="eval", line=20),
              finding(3, evidence="pickle.load(f)", title="pickle", line=30)]
    after = [finding(1, evidence="pickle.load(f)", title="pickle", line=33, truth=0.5),  # moved 3 lines, rescored
             finding(2, evidence="x = 1"),  # same, new id
             finding(3, evidence="open(path)", title="leak", line=50)]  # new
    appeared, disappeared, matched = diff_findings(before, after)
    assert [f.evidence for f in appeared] == ["open(path)"]
    assert [f.evidence for f in disappeared] == ["y = eval(s)"]
    pairs = {(c.before.id, c.after.id): c.changes for c in matched}
    assert pairs == {("F-003", "F-001"): ["truth 0.80 → 0.50"], ("F-001", "F-002"): []}


def test_list_runs_shows_complete_partial_and_unfinished(runs: Path, tmp_path: Path) -> None:
    folder = tmp_path / "runs"
    shutil.copytree(runs / "run-a", folder / "run-a")
    shutil.copytree(runs / "run-a", folder / "run-b")
    edit_report(folder / "run-b", lambda d: d.update(complete=False, partial_reason="budget", run_id="run-b"))
    info = yaml.safe_load((folder / "run-b" / "run.yaml").read_text(encoding="utf-8"))
    (folder / "run-c").mkdir()
    (folder / "run-c" / "run.yaml").write_text(yaml.safe_dump({**info, "run_id": "run-c",
                                                                "created": "2030-01-01T00:00:00+00:00"}))
    (folder / "not-a-run").mkdir()
    listed = list_runs(folder)
    assert [r.run_id for r in listed] == ["run-c", "run-b", "run-a"]  # newest first, then by id
    assert [r.state for r in listed] == ["unfinished", "partial", "complete"]
    a = listed[-1]
    report = json.loads((folder / "run-a" / "report.json").read_text(encoding="utf-8"))
    assert a.findings == len(report["findings"]) and a.target == "ratelimiter.py" and a.workflow == "debate"
    assert a.models == ["fake"] and a.judge == "fake" and a.cost_usd == 0.0 and a.created.startswith("2026")
    assert listed[0].findings is None and listed[0].models == ["fake"]
    with pytest.raises(ConfigError, match="no runs folder"):
        list_runs(tmp_path / "missing")


def test_runs_and_show_commands(runs: Path) -> None:
    res = runner.invoke(app, ["runs", str(runs)], env={"COLUMNS": "200"})
    assert res.exit_code == 0 and "run-a" in res.stdout and "complete" in res.stdout and "ratelimiter.py" in res.stdout
    res = runner.invoke(app, ["runs", str(runs), "--json"])
    assert res.exit_code == 0 and json.loads(res.stdout)[0]["run_id"] == "run-a"
    res = runner.invoke(app, ["show", str(runs / "run-a")], env={"COLUMNS": "200"})
    assert res.exit_code == 0 and "F-001" in res.stdout and "judge fake" in res.stdout and "report.html" in res.stdout
    res = runner.invoke(app, ["show", str(runs / "run-a"), "--json"])
    assert res.exit_code == 0 and json.loads(res.stdout)["findings"][0]["id"] == "F-001"
    res = runner.invoke(app, ["show", str(runs)])
    assert res.exit_code == 2 and "has no report.json" in res.stderr
    res = runner.invoke(app, ["runs", str(runs / "nowhere")])
    assert res.exit_code == 2 and res.stderr.startswith("error: no runs folder")


def test_diff_runs_between_two_runs(runs: Path, tmp_path: Path) -> None:
    a, b = runs / "run-a", tmp_path / "run-b"
    shutil.copytree(a, b)
    original = json.loads((a / "report.json").read_text(encoding="utf-8"))["findings"]
    assert len(original) >= 3

    def evolve(data: dict[str, Any]) -> None:
        fs = data["findings"]
        gone = fs.pop(0)
        fs[0]["scores"]["truth"] = round(fs[0]["scores"]["truth"] - 0.3, 2)
        fs[1]["line_start"] += 3
        fs[1]["line_end"] += 3
        fs.append({**gone, "title": "Token bucket refill races", "file": "other.py", "evidence": "self.tokens += 1"})
        for n, f in enumerate(reversed(fs), 1):  # ids are reassigned: matching must not use them
            f["id"] = f"F-{n:03d}"
        data["run_id"] = "run-b"

    edit_report(b, evolve)
    d = diff_runs(a, b)
    assert d.warning is None
    assert [f.file for f in d.appeared] == ["other.py"]
    assert [f.id for f in d.disappeared] == [original[0]["id"]]
    assert [c.before.id for c in d.changed] == [original[1]["id"]] and d.changed[0].changes[0].startswith("truth ")
    assert original[2]["id"] in [c.before.id for c in d.unchanged]
    res = runner.invoke(app, ["diff", str(a), str(b)], env={"COLUMNS": "200"})
    assert res.exit_code == 0
    assert "1 appeared, 1 disappeared, 1 changed" in res.stdout and "Token bucket refill races" in res.stdout
    data = json.loads(runner.invoke(app, ["diff", str(a), str(b), "--json"]).stdout)
    assert data["appeared"][0]["location"].startswith("other.py:") and data["b"] == "run-b"


def test_diff_warns_about_different_targets(runs: Path, tmp_path: Path) -> None:
    a, b = runs / "run-a", tmp_path / "run-b"
    shutil.copytree(a, b)
    info = yaml.safe_load((b / "run.yaml").read_text(encoding="utf-8"))
    info["target"]["path"] = "/elsewhere/app.py"
    (b / "run.yaml").write_text(yaml.safe_dump(info), encoding="utf-8")
    d = diff_runs(a, b)
    assert d.warning and "different targets" in d.warning
    assert not d.appeared and not d.disappeared and not d.changed
    res = runner.invoke(app, ["diff", str(a), str(tmp_path / "nope")])
    assert res.exit_code == 2 and "report.json" in res.stderr
