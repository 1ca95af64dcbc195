"""Smoke test of benchmarks/quality.py with the fake model: two cases, the whole table, seconds."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.conftest import load_benchmark

ROOT = Path(__file__).resolve().parent.parent


def _load_bench():
    return load_benchmark("quality.py", "rebuttal_quality_bench")


def test_quality_bench_runs_two_cases_with_the_fake(tmp_path: Path, capsys) -> None:
    bench = _load_bench()
    start = time.perf_counter()
    args = ["--workflow", "debate", "--model", "fake", "--cases", "py_user_store,doc_export_api",
            "--out", str(tmp_path)]
    assert bench.main(args) == 0
    assert time.perf_counter() - start < 10
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if line.startswith("| workflow"))
    assert [c.strip() for c in header.strip("|").split("|")] == bench.COLUMNS
    for col in ("recall", "precision", "F1", "truth-AUROC", "calls", "tokens", "wall s"):
        assert col in header
    row = next(line for line in out.splitlines() if line.startswith("| debate"))
    assert row.count("|") == len(bench.COLUMNS) + 1
    stored = sorted(p.name for p in (tmp_path / "results").iterdir())
    assert stored == ["debate__doc_export_api.json", "debate__py_user_store.json"]
    result = json.loads((tmp_path / "results" / "debate__py_user_store.json").read_text())
    assert result["error"] is None and result["calls"] > 0 and result["findings"]

    # stored results are reused: tabulating again makes no call and gives the same row
    assert bench.main([*args, "--no-run", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["workflow"] == "debate" and rows[0]["cases"] == 2 and rows[0]["defects"] == 4


def test_losses_separate_what_compile_and_the_truth_score_lost() -> None:
    bench = _load_bench()
    defects = bench.S.defects_from_labels(bench.load_labels())
    d = defects["py_pagination"]
    at = [{"file": x.file, "line_start": x.line_start, "line_end": x.line_end, "title": "t", "evidence": "e",
           "fix": "f", "truth": 0.9} for x in d]
    result = {"case": "py_pagination", "review_issues": at, "findings": [{**at[0], "truth": 0.2}]}
    loss = bench.losses([result], defects)
    assert (loss["reviews"], loss["findings"], loss["trusted"]) == (len(d), 1, 0)
    assert loss["compile_loss"] == len(d) - 1 and loss["judge_loss"] == 1 and loss["lost_in"] == ["py_pagination"]
    assert bench.losses([{k: v for k, v in result.items() if k != "review_issues"}], defects)["reviews"] is None


def test_labels_mark_the_place_and_the_claim_apart() -> None:
    bench = _load_bench()
    labels = bench.load_labels()
    d = bench.S.defects_from_labels(labels)["py_pagination"][0]
    at = {"file": d.file, "line_start": d.line_start, "line_end": d.line_end, "evidence": "e", "truth": 0.5}
    named = {**at, "title": f"{d.keywords[0]} is wrong here", "fix": "f"}
    generic = {**at, "title": "Lack of proper error handling", "fix": "add logging"}
    far = {**named, "line_start": d.line_end + 40, "line_end": d.line_end + 41}
    result = {"case": "py_pagination", "findings": [named, generic, far]}
    marked = bench.mark_labels(result, bench.S.defects_from_labels(labels)["py_pagination"],
                               labels["cases"]["py_pagination"])
    assert [(f["matched"], f["claim_matched"]) for f in marked["findings"]] == [
        (True, True), (True, False), (False, False)]
    assert marked["held_out"] is True


def test_split_picks_held_out_cases_and_reports_them_in_their_own_table(tmp_path: Path, capsys) -> None:
    bench = _load_bench()
    labels = bench.load_labels()
    held, tuning = bench.split_cases(labels, "held-out"), bench.split_cases(labels, "tuning")
    assert held and tuning and not set(held) & set(tuning)
    assert sorted(held + tuning) == sorted(bench.split_cases(labels, "all"))
    assert set(held) == {c for c, spec in labels["cases"].items() if spec.get("held_out")}
    args = ["--model", "fake", "--out", str(tmp_path), "--cases", f"{held[0]},{tuning[0]}"]
    assert bench.main(args) == 0
    out = capsys.readouterr().out
    main_table, held_table = out.split("Held-out cases only")
    assert "| single | 2 |" in main_table and "| single | 1 |" in held_table
    with pytest.raises(SystemExit):
        bench.main([*args, "--split", "tuning"])  # a held-out case is not in the tuning split
    assert "not in the tuning split" in capsys.readouterr().err


def test_stored_results_rescored_under_another_calibration_without_a_model_call(tmp_path: Path, capsys) -> None:
    """--no-run --calibration FILE: each stored finding's truth from its stored features under that file (a
    what-if: the stored results keep the truth their run gave); without --no-run it is refused."""
    bench = _load_bench()
    args = ["--workflow", "single", "--model", "fake", "--cases", "doc_export_api", "--out", str(tmp_path)]
    assert bench.main(args) == 0
    capsys.readouterr()
    stored = (tmp_path / "results" / "single__doc_export_api.json").read_text()
    from engine.verify import calibration

    high = calibration.shipped().model_copy(update={"name": "all-true", "intercept": 9.0})
    path = calibration.save(high, tmp_path / "all-true.json")
    assert bench.main([*args, "--no-run", "--json", "--calibration", str(path)]) == 0
    row = json.loads(capsys.readouterr().out)[0]
    assert row["trusted"]["findings"] == row["findings"] - row["set_aside"] > 0  # every reported one now >= 0.5
    assert (tmp_path / "results" / "single__doc_export_api.json").read_text() == stored
    with pytest.raises(SystemExit):
        bench.main([*args, "--calibration", str(path)])
    assert "use it with --no-run" in capsys.readouterr().err


def test_panel_spreads_the_reviewers_over_models(tmp_path: Path) -> None:
    bench = _load_bench()
    args = ["--workflow", "fusion", "--model", "fake", "--panel", "fake,fake:1", "--cases", "py_user_store",
            "--out", str(tmp_path)]
    assert bench.main(args) == 0
    result = json.loads((tmp_path / "results" / "fusion__py_user_store.json").read_text())
    assert result["panel"] == "fake,fake:1" and result["error"] is None
    run_yaml = (Path(result["run_dir"]) / "run.yaml").read_text()
    assert "fake:1" in run_yaml


def test_analyzers_benchmark_scores_what_the_analyzers_review_raises(capsys) -> None:  # type: ignore[no-untyped-def]
    bench = load_benchmark("analyzers.py", "rebuttal_analyzers_bench")
    assert bench.main(["--split", "held-out"]) == 0
    out = capsys.readouterr().out
    assert "analyzers ruff, bandit, oxlint" in out
    assert "py_scheduler: scheduler.py:32 B006: Do not use mutable data structures" in out
    assert "-- names shared-default-tags" in out and "held-out: 1 issues raised; 1 at a labelled defect's lines" in out
    with pytest.raises(SystemExit):
        bench.main(["--tools", "eslint"])
