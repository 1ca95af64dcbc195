"""Kill and resume the real CLI in a subprocess: Ctrl-C, SIGTERM and kill -9 at chosen points of a run
with a slow fake model, then `rebuttal resume`. Finished calls are never made again (counted in the
ledger) and the resumed report equals that of an uninterrupted run with the same nonce."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from engine import api, runner
from engine.cli import app
from engine.llm.fake import FakeChatModel
from engine.llm.ledger import read_ledger
from tests.conftest import EXAMPLE

CLI = [sys.executable, "-c", "from engine.cli import main; main()"]
PANEL = ["--persona", "security-auditor", "--persona", "maintainer", "--persona", "test-engineer", "-k", "1"]
# 3 reviews, 3 picks, 4 responses (one to the analyzers review of the example's unraised ruff/bandit hits),
# 3 rebuttals (the analyzers review is never rebutted), 3 findings; compile: 7 truth judge calls (one per
# finding) and 2 usefulness batches (6 findings each)
CALLS = 25
TIMEOUT = 30

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def start(cwd: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "COLUMNS": "300"}
    return subprocess.Popen([*CLI, *args], cwd=cwd, env=env, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def review(tmp_path: Path, run_id: str, concurrency: int, latency_ms: int = 150) -> subprocess.Popen[str]:
    return start(tmp_path, "review", str(EXAMPLE), "--model", f"fake:{latency_ms}", *PANEL, "--seed", "7",
                 "--concurrency", str(concurrency), "--out", str(tmp_path / "runs"), "--run-id", run_id, "-q")


def interrupt_after(proc: subprocess.Popen[str], ledger: Path, lines: int, sig: int) -> tuple[int, str]:
    """Send `sig` once the ledger has `lines` lines; return (exit code, stderr)."""
    deadline = time.monotonic() + TIMEOUT
    while proc.poll() is None and time.monotonic() < deadline:
        if ledger.exists() and len(ledger.read_text(encoding="utf-8").splitlines()) >= lines:
            break
        time.sleep(0.01)
    assert proc.poll() is None, f"the run ended before {lines} calls: {proc.communicate()}"
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=TIMEOUT)
    return proc.returncode, err


def resume(tmp_path: Path, run_dir: Path) -> dict[str, object]:
    proc = start(tmp_path, "resume", str(run_dir), "--json")
    out, err = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    return json.loads(out)


def ok_counts(run_dir: Path) -> Counter[str]:
    return Counter(line.call_id for line in read_ledger(run_dir / "ledger.jsonl") if line.outcome == "ok")


def saved_calls(run_dir: Path) -> set[str]:
    """Call ids whose answer is saved in calls/ (and so will be replayed, not repeated)."""
    out = set()
    for path in (run_dir / "calls").glob("*.json"):
        if json.loads(path.read_text(encoding="utf-8"))["parsed"] is not None:
            out.add(path.stem)
    return out


def findings(run_dir: Path) -> list[tuple[object, ...]]:
    data = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    return [(f["id"], f["title"], f["severity"], f["status"], f["evidence_status"], f["scores"]["truth"],
             f["scores"]["usefulness"], tuple(f["personas"]), tuple(f["issues"])) for f in data["findings"]]


def artifacts(run_dir: Path) -> set[str]:
    return {p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*.md")}


def reference(tmp_path: Path, run_dir: Path) -> Path:
    """The same run (settings, snapshot and nonce) uninterrupted, in-process, without latency."""
    settings, workflow, snapshot, nonce = runner.load_run(run_dir)
    settings = settings.model_copy(update={"run_id": "reference"})
    ref = runner.create_run_dir(tmp_path / "reference", "reference")
    runner.write_run_files(ref, settings, workflow, snapshot, nonce)
    asyncio.run(runner.execute(ref, settings, workflow, snapshot, nonce, factory=lambda name, mt: FakeChatModel()))
    return ref


def interrupted(tmp_path: Path, sig: int, after: int) -> Path:
    """A run stopped by `sig` after `after` calls: exit 130, the resume command, everything finished saved."""
    run_dir = tmp_path / "runs" / "stopped"
    code, err = interrupt_after(review(tmp_path, "stopped", concurrency=2), run_dir / "ledger.jsonl", after, sig)
    assert code == 130, err
    assert f"interrupted: finished work is saved. Resume with: rebuttal resume {run_dir}" in err.splitlines()
    assert "Traceback" not in err
    before = ok_counts(run_dir)
    assert after <= sum(before.values()) < CALLS, "stopped mid-run"
    assert set(before) <= saved_calls(run_dir), "every finished call is saved for replay"
    assert not (run_dir / "report.json").exists()
    return run_dir


def test_ctrl_c_saves_and_resume_repeats_no_call(tmp_path: Path) -> None:
    run_dir = interrupted(tmp_path, signal.SIGINT, 7)
    result = resume(tmp_path, run_dir)
    assert result["complete"] is True
    after_resume = ok_counts(run_dir)
    assert max(after_resume.values()) == 1, "no finished call was made again"
    assert sum(after_resume.values()) == CALLS
    ref = reference(tmp_path, run_dir)
    assert sum(ok_counts(ref).values()) == CALLS
    assert findings(run_dir) == findings(ref) != []
    assert artifacts(run_dir) == artifacts(ref)


def test_sigterm_stops_like_ctrl_c(tmp_path: Path) -> None:
    run_dir = interrupted(tmp_path, signal.SIGTERM, 2)
    before = sum(ok_counts(run_dir).values())
    report = asyncio.run(api.resume(run_dir, factory=lambda name, mt: FakeChatModel()))
    assert report.complete and max(ok_counts(run_dir).values()) == 1
    assert sum(ok_counts(run_dir).values()) == CALLS > before


def test_kill_9_twice_loses_at_most_the_calls_in_flight(tmp_path: Path) -> None:
    concurrency = 3
    run_dir = tmp_path / "runs" / "killed"
    ledger = run_dir / "ledger.jsonl"
    code, _ = interrupt_after(review(tmp_path, "killed", concurrency=concurrency), ledger, 4, signal.SIGKILL)
    assert code == -signal.SIGKILL
    lost = set(ok_counts(run_dir)) - saved_calls(run_dir)
    assert len(lost) <= concurrency
    # kill the resumed run too, mid-way through a later stage
    done = len(read_ledger(ledger))
    code, _ = interrupt_after(start(tmp_path, "resume", str(run_dir), "-q"), ledger, done + 5, signal.SIGKILL)
    assert code == -signal.SIGKILL
    assert sum(ok_counts(run_dir).values()) < CALLS + 2 * concurrency

    assert resume(tmp_path, run_dir)["complete"] is True
    counts = ok_counts(run_dir)
    repeated = sum(n - 1 for n in counts.values())
    assert repeated <= 2 * concurrency, "each kill loses at most the calls in flight"
    assert sum(counts.values()) == CALLS + repeated
    ref = reference(tmp_path, run_dir)
    assert findings(run_dir) == findings(ref) != []
    assert artifacts(run_dir) == artifacts(ref)
    assert_no_torn_files(run_dir)


def assert_no_torn_files(run_dir: Path) -> None:
    """A kill may leave a hidden temp file of an atomic write behind (swept by the next resume), never a
    half-written artifact."""
    for path in run_dir.rglob("*"):
        assert not path.name.endswith(".tmp"), path
        if path.suffix == ".json":
            json.loads(path.read_text(encoding="utf-8"))
        elif path.suffix == ".md":
            assert path.read_text(encoding="utf-8").startswith("---\n"), path


def test_two_runs_in_the_same_folder_do_not_collide(tmp_path: Path) -> None:
    out = tmp_path / "runs"
    args = ["review", str(EXAMPLE), "--model", "fake:50", *PANEL, "--out", str(out), "--json"]
    procs = [start(tmp_path, *args) for _ in range(2)]
    results = []
    for proc in procs:
        stdout, err = proc.communicate(timeout=TIMEOUT)
        assert proc.returncode == 0, err
        results.append(json.loads(stdout))
    dirs = {Path(str(r["run_dir"])) for r in results}
    assert len(dirs) == 2 and {d.parent for d in dirs} == {out}
    assert sorted(p.name for p in out.iterdir()) == sorted(d.name for d in dirs), "nothing else in runs/"
    for d in dirs:
        assert json.loads((d / "report.json").read_text(encoding="utf-8"))["complete"] is True
        assert sum(ok_counts(d).values()) == CALLS, "each run has its own ledger"
        assert not list(d.rglob("*.tmp"))
    assert findings(dirs.pop()) != []


def test_same_run_id_twice_is_refused_not_shared(tmp_path: Path) -> None:
    args = ["review", str(EXAMPLE), "--model", "fake", *PANEL, "--out", str(tmp_path), "--run-id", "same", "-q"]
    assert CliRunner().invoke(app, args).exit_code == 0
    before = (tmp_path / "same" / "ledger.jsonl").read_text(encoding="utf-8")
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 2
    lines = [line for line in again.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "already exists" in lines[0] and "rebuttal resume" in lines[0]
    assert (tmp_path / "same" / "ledger.jsonl").read_text(encoding="utf-8") == before, "the first run is untouched"


def test_resume_of_a_run_that_is_still_executing_is_refused(tmp_path: Path) -> None:
    proc = review(tmp_path, "busy", concurrency=1, latency_ms=300)
    run_dir = tmp_path / "runs" / "busy"
    try:
        deadline = time.monotonic() + TIMEOUT
        while not (run_dir / "ledger.jsonl").exists():
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.02)
        second = CliRunner().invoke(app, ["resume", str(run_dir)])
        lines = [line for line in second.stderr.splitlines() if line.strip()]
        assert second.exit_code != 0 and len(lines) == 1, second.stderr
        assert "already executing" in lines[0] and f"pid {proc.pid}" in lines[0]
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=TIMEOUT)
    assert resume(tmp_path, run_dir)["complete"] is True, "the lock dies with its process"


def test_resume_sweeps_the_temp_files_a_kill_left(tmp_path: Path) -> None:
    from tests.conftest import run_fake

    run_dir, _ = run_fake(tmp_path, personas=2)
    stray = [run_dir / "reviews" / ".x-review.md.k2j4h1.tmp", run_dir / "calls" / ".c.json.0a9b.tmp"]
    for path in stray:
        path.write_text("half", encoding="utf-8")
    keep = run_dir / "reviews" / "notes.tmp.md"
    keep.write_text("not ours", encoding="utf-8")
    assert asyncio.run(api.resume(run_dir)).complete
    assert not any(p.exists() for p in stray) and keep.exists()
