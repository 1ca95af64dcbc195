"""`rebuttal trace`: from a finding id, a review issue id or an artifact (id or path) back through every file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from engine.cli import app
from engine.errors import ConfigError
from engine.trace import render_trace, trace
from tests.conftest import run_fake

runner = CliRunner()


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REBUTTAL_FORBID_REAL_MODELS", "1")
        run_dir, _ = run_fake(tmp_path_factory.mktemp("trace"), personas=4, k=2)
    return run_dir


def debate(run: Path) -> dict[str, Any]:
    return json.loads((run / "debate.json").read_text(encoding="utf-8"))


def report(run: Path) -> dict[str, Any]:
    return json.loads((run / "report.json").read_text(encoding="utf-8"))


def test_trace_finding_id_walks_every_file(run: Path) -> None:
    f = report(run)["findings"][0]
    t = trace(run, f["id"].lower())  # ids match case-insensitively
    assert t["finding"]["id"] == f["id"]
    review_issues = [i for i in f["issues"] if not i.startswith("FS-")]
    assert [c["issue"]["id"] for c in t["issues"]] == review_issues
    for c in t["issues"]:
        assert (run / c["path"]).is_file() and c["path"].startswith("reviews/")
        for d in c["debate"]:
            assert d["kind"] in ("response", "rebuttal") and (run / d["path"]).is_file()
            assert d["stance"] in ("agree", "disagree", "refine", "concede", "maintain", "revise")
        for k in c["findings"]:
            assert (run / k["path"]).is_file() and k["id"] in f["issues"]
    touched = {d["id"] for c in t["issues"] for d in c["debate"]}
    assert touched == {s["artifact"] for s in f["stances"]}


def test_trace_review_issue_id(run: Path) -> None:
    f = report(run)["findings"][-1]
    iid = next(i for i in f["issues"] if i.startswith("R-"))
    t = trace(run, iid)
    assert t["finding"]["id"] == f["id"]
    assert [c["issue"]["id"] for c in t["issues"]] == [iid]


def test_trace_issue_outside_any_finding_has_no_finding(run: Path, tmp_path: Path) -> None:
    d = debate(run)
    iid = d["reviews"][0]["issues"][0]["id"]
    data = report(run)
    for f in data["findings"]:
        f["issues"] = [i for i in f["issues"] if i != iid]
    copy = tmp_path / "run"
    copy.mkdir()
    for name in ("debate.json", "run.yaml"):
        (copy / name).write_text((run / name).read_text(encoding="utf-8"), encoding="utf-8")
    (copy / "report.json").write_text(json.dumps(data), encoding="utf-8")
    t = trace(copy, iid)
    assert t["finding"] is None and t["issues"][0]["issue"]["id"] == iid


@pytest.mark.parametrize("form", ["relative", "absolute", "id"])
def test_trace_artifact_path_or_id(run: Path, form: str) -> None:
    rel = sorted((run / "rebuttals").glob("*.md"))[0].relative_to(run).as_posix()
    ref = {"relative": rel, "absolute": str(run / rel), "id": None}[form]
    if ref is None:
        ref = (run / rel).read_text(encoding="utf-8").split("id: ", 1)[1].split("\n", 1)[0]
    t = trace(run, ref)
    assert t["artifact"].startswith("B-")
    ids = [n["id"] for n in t["ancestry"]]
    kinds = {n["kind"] for n in t["ancestry"]}
    assert ids[0] == t["artifact"] and "target" in ids
    assert {"rebuttal", "response", "review", "persona", "target"} <= kinds
    assert len(ids) == len(set(ids))  # each node once, even where paths join
    assert t["ancestry"][0]["path"] == rel


def test_trace_changed_mind_entries(run: Path) -> None:
    moved = [(f, s) for f in report(run)["findings"] for s in f["stances"] if s["stance"] in ("concede", "revise")]
    assert moved, "the fake debate has authors who concede or revise"
    f, stance = moved[0]
    t = trace(run, f["id"])
    changed = [d for c in t["issues"] for d in c["changed_mind"]]
    assert any(d["id"] == stance["artifact"] and d["persona"] == stance["persona"] for d in changed)
    assert all(d["kind"] == "rebuttal" and d["stance"] in ("concede", "revise") and d["reason"] for d in changed)
    text = render_trace(t)
    assert f"{stance['persona']} changed their mind ({stance['stance']})" in text


def test_trace_unknown_ref_and_unfinished_run(run: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no finding, issue or artifact 'F-999'"):
        trace(run, "F-999")
    with pytest.raises(ConfigError, match="has no report.json.*rebuttal resume"):
        trace(tmp_path, "F-001")


def test_trace_cli_text_and_json(run: Path) -> None:
    fid = report(run)["findings"][0]["id"]
    res = runner.invoke(app, ["trace", str(run), fid])
    assert res.exit_code == 0 and fid in res.stdout and "reviews/" in res.stdout and "└─" in res.stdout
    res = runner.invoke(app, ["trace", str(run), fid, "--format", "json"])
    assert res.exit_code == 0
    assert json.loads(res.stdout) == json.loads(json.dumps(trace(run, fid)))
    iid = report(run)["findings"][0]["issues"][0]
    res = runner.invoke(app, ["trace", str(run), iid, "--format", "json"])
    assert res.exit_code == 0 and json.loads(res.stdout)["issues"][0]["issue"]["id"] == iid
    rel = sorted((run / "reviews").glob("*.md"))[0].relative_to(run).as_posix()
    res = runner.invoke(app, ["trace", str(run), rel, "--format", "json"])
    assert res.exit_code == 0 and json.loads(res.stdout)["artifact"].startswith("R-")
    res = runner.invoke(app, ["trace", str(run), "R-nobody#9"])
    assert res.exit_code == 2 and res.stderr.startswith("error: no finding, issue or artifact")
    assert res.stderr.strip().count("\n") == 0
