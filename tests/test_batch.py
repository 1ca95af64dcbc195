"""Batch reviews: target lists, a failing target among good ones, resume, and a fair share of a global budget."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from engine.api import merge
from engine.batch import Batch, fair_share, load_items
from engine.cli import app
from engine.errors import ConfigError
from engine.llm.fake import FakeChatModel, Fault
from engine.llm.ledger import read_ledger
from engine.options import RunOptions, run_options

runner = CliRunner()
FAST = ["--model", "fake", "--workflow", "fusion", "--personas", "2"]


def targets(tmp_path: Path, n: int = 2) -> list[Path]:
    """`n` small, distinct Python files."""
    paths = []
    for i in range(n):
        p = tmp_path / "src" / f"mod{i}.py"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(f"def f{i}(x):\n    return eval(x)  # marker-{i}\n", encoding="utf-8")
        paths.append(p)
    return paths


def test_load_items_text_and_yaml(tmp_path: Path) -> None:
    (tmp_path / "list.txt").write_text("# reviews\nsrc/a.py\n\n  /abs/b.py  \n# done\n", encoding="utf-8")
    items = load_items(tmp_path / "list.txt")
    assert [i.target for i in items] == [str((tmp_path / "src/a.py").resolve()), "/abs/b.py"]
    (tmp_path / "list.yaml").write_text(yaml.safe_dump(
        ["a.py", {"target": "b.md", "workflow": "fusion", "personas": 2}]), encoding="utf-8")
    items = load_items(tmp_path / "list.yaml")
    assert items[1].workflow == "fusion" and items[1].target.endswith("b.md")
    batch = RunOptions(workflow="debate", model="fake")
    assert merge(run_options(items[1]), batch).workflow == "fusion"
    assert merge(run_options(items[0]), batch).workflow == "debate"


@pytest.mark.parametrize(("text", "message"), [
    ("- target: a.py\n  colour: red\n", "item 1: field 'colour'"),
    ("target: a.py\n", "must be a list"),
    ("[", "invalid YAML"),
    ("[]", "no targets"),
])
def test_bad_batch_files(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "b.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_items(tmp_path / "b.yaml")


def test_one_failing_target_then_resume(tmp_path: Path) -> None:
    good = targets(tmp_path, 2)
    missing = tmp_path / "src" / "missing.py"
    listing = tmp_path / "batch.txt"
    listing.write_text("\n".join(["# three targets", str(good[0]), str(missing), str(good[1])]), encoding="utf-8")
    out = tmp_path / "runs"
    res = runner.invoke(app, ["batch", str(listing), "--out", str(out), "--jobs", "2", *FAST])
    assert res.exit_code == 1, res.output
    assert "1 of 3 target(s) failed" in res.stderr and "missing.py" in res.stderr
    assert "Batch: 3 target(s)" in res.stdout and "complete" in res.stdout and "failed" in res.stdout
    state = json.loads((out / "batch.json").read_text())["entries"]
    by_target = {e["target"]: e for e in state.values()}
    assert by_target[str(missing)]["status"] == "failed" and "not found" in by_target[str(missing)]["error"]
    assert by_target[str(missing)]["run_dir"] is None
    done = {t: by_target[str(t)] for t in good}
    assert all(e["status"] == "complete" and Path(e["run_dir"], "review-findings.md").exists() for e in done.values())
    assert all(e["findings"] >= 1 and e["spent"]["calls"] >= 3 for e in done.values())
    first_dirs = sorted(p.name for p in out.iterdir())

    # Run it again once the missing file exists: finished runs are skipped, the failed one is retried.
    missing.write_text("def g(y):\n    return y / 0\n", encoding="utf-8")
    res = runner.invoke(app, ["batch", str(listing), "--out", str(out), "--json", *FAST])
    assert res.exit_code == 0, res.output
    entries = json.loads(res.stdout)
    assert [e["status"] for e in entries] == ["complete"] * 3
    assert [e["run_dir"] for e in entries if e["target"] != str(missing)] == [done[t]["run_dir"] for t in good]
    new_dirs = sorted(p.name for p in out.iterdir())
    assert len(new_dirs) == len(first_dirs) + 1


def test_interrupted_or_failed_run_is_resumed_in_its_directory(tmp_path: Path) -> None:
    items = load_items(_listing(tmp_path, targets(tmp_path, 2)))
    opts = {"model": "fake", "persona": ["security-auditor", "maintainer"], "k": 1, "strict": True,
            "workflow": "debate"}
    # The first review call of mod1's maintainer fails once with a non-retryable error; strict fails the run.
    fault = _AllOf(kind="auth", match="marker-1", also="Your persona: Long-term Maintainer", times=1)
    model = FakeChatModel(faults=[fault])
    out = tmp_path / "runs"
    entries = asyncio.run(Batch(items, out, opts, factory=lambda name, mt: model, jobs=1).run())
    assert [e["status"] for e in entries] == ["complete", "failed"]
    failed_dir = Path(entries[1]["run_dir"])
    before = read_ledger(failed_dir / "ledger.jsonl")
    assert before and "HTTP 401" in entries[1]["error"]
    entries = asyncio.run(Batch(items, out, opts, factory=lambda name, mt: model, jobs=1).run())
    assert [e["status"] for e in entries] == ["complete", "complete"]
    assert Path(entries[1]["run_dir"]) == failed_dir
    after = read_ledger(failed_dir / "ledger.jsonl")
    ok_before = {ln.call_id for ln in before if ln.outcome == "ok"}
    assert not ok_before & {ln.call_id for ln in after[len(before):]}, "no finished call is made again"


def test_fair_share_table() -> None:
    limits = {"max_calls": 100, "max_tokens": None, "max_usd": 1.0}
    assert fair_share(limits, [{"cap": None, "status": "pending"}] * 3) == {"max_calls": 25, "max_usd": 0.25}
    running = {"cap": {"max_calls": 25, "max_usd": 0.25}, "status": "running", "spent": None}
    finished = {"cap": {"max_calls": 25, "max_usd": 0.25}, "status": "complete",
                "spent": {"calls": 10, "tokens": 0, "usd": 0.05}}
    # 100 - 25 held by the running run - 10 spent by the finished one, over this run and one more waiting.
    assert fair_share(limits, [running, finished, {"cap": None, "status": "pending"}]) == {
        "max_calls": 32, "max_usd": 0.35}
    assert fair_share({"max_calls": 1}, [{"cap": None, "status": "pending"}]) is None
    assert fair_share({}, [running]) == {}


def test_global_budget_is_shared_and_holds(tmp_path: Path) -> None:
    listing = _listing(tmp_path, targets(tmp_path, 3))
    out = tmp_path / "runs"
    res = runner.invoke(app, ["batch", str(listing), "--out", str(out), "--jobs", "3", "--max-calls", "12",
                              "--json", *FAST])
    assert res.exit_code == 0, res.output
    entries = json.loads(res.stdout)
    caps = [e["cap"]["max_calls"] for e in entries]
    assert caps == [4, 4, 4]
    assert sum(e["spent"]["calls"] for e in entries) <= 12
    for e in entries:
        settings = yaml.safe_load(Path(e["run_dir"], "run.yaml").read_text())["settings"]
        assert settings["budget"]["max_calls"] == 4
        assert e["status"] in ("complete", "partial")


def _listing(tmp_path: Path, paths: list[Path]) -> Path:
    listing = tmp_path / "batch.yaml"
    listing.write_text(yaml.safe_dump([str(p) for p in paths]), encoding="utf-8")
    return listing


class _AllOf(Fault):
    """A fault that needs a second substring too."""

    def __init__(self, *, also: str, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.also = also

    def hits(self, index: int, prompt: str) -> bool:
        return self.also in prompt and super().hits(index, prompt)
