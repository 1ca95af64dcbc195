"""Every entry point (CLI, HTTP server, batch, LangGraph Server graph) runs a review the same way: through
`api.run` -> `runner.execute`, under the run lock, with the run's own checkpointer, and resumable after a failure."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from starlette.testclient import TestClient
from typer.testing import CliRunner

from engine import api, runner
from engine.batch import Batch, BatchItem
from engine.cli import app
from engine.errors import ProviderError, RunBusyError
from engine.llm import fake
from engine.rundir import RunDir
from engine.serve.app import ServeConfig, create_app
from engine.server_graph import build_server_graph
from tests.conftest import locked

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "ratelimiter.py"
SOURCE = EXAMPLE.read_text(encoding="utf-8")
FAULT = [{"kind": "auth", "match": "Your persona:", "times": 1}]  # one review call fails, not retryable


class Entry:
    """One way into the engine: start a review into `out`, and resume a failed one the same way."""

    name = ""
    why = ""  # what the last start or resume said, for a failing assertion

    def __init__(self, out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.out = out

    def start(self, strict: bool) -> bool:
        """Start one review (fusion, two personas, the fake model); whether it finished."""
        raise NotImplementedError

    def resume(self, run_dir: Path) -> bool:
        """Finish the run a failed start left behind; whether it finished."""
        raise NotImplementedError


class Cli(Entry):
    name = "cli"

    def start(self, strict: bool) -> bool:
        res = CliRunner().invoke(app, ["review", str(EXAMPLE), "--model", "fake", "--workflow", "fusion",
                                       "--personas", "2", "--out", str(self.out), "--quiet",
                                       *(["--strict"] if strict else [])])
        return res.exit_code == 0

    def resume(self, run_dir: Path) -> bool:
        return CliRunner().invoke(app, ["resume", str(run_dir), "--quiet"]).exit_code == 0


class Http(Entry):
    name = "http"

    def __init__(self, out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        super().__init__(out, monkeypatch)
        self.client = TestClient(create_app(ServeConfig(out_dir=out, model="fake", check_providers=False)))

    def start(self, strict: bool) -> bool:
        body = {"model": "rebuttal/fusion", "messages": [{"role": "user", "content": SOURCE}],
                "rebuttal": {"personas": 2, "filename": "ratelimiter.py", **({"strict": True} if strict else {})}}
        return self.client.post("/v1/chat/completions", json=body).status_code == 200

    def resume(self, run_dir: Path) -> bool:
        return self.client.post(f"/v1/runs/{run_dir.name}/resume").status_code == 200


class Batched(Entry):
    name = "batch"

    def start(self, strict: bool) -> bool:
        opts = {"model": "fake", "workflow": "fusion", "personas": 2, "strict": strict}
        self.batch = lambda: Batch([BatchItem(target=str(EXAMPLE))], self.out, opts, check_providers=False)
        return asyncio.run(self.batch().run())[0]["status"] == "complete"

    def resume(self, run_dir: Path) -> bool:  # the same batch again resumes its failed run in its directory
        entry = asyncio.run(self.batch().run())[0]
        self.why = f"batch entry: {entry}"  # an intermittent failure here (once in ~20 suite runs) says why next time
        return entry["status"] == "complete"


class ServerGraph(Entry):
    name = "langgraph-server"

    def __init__(self, out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        super().__init__(out, monkeypatch)
        monkeypatch.setenv("REBUTTAL_SERVER_OUT", str(out))
        monkeypatch.setenv("REBUTTAL_SERVER_MODEL", "fake")
        self.graph = build_server_graph().compile(checkpointer=InMemorySaver())
        self.cfg: Any = {"configurable": {"thread_id": "t"}}

    def start(self, strict: bool) -> bool:
        self.ctx = {"workflow": "fusion", "personas": 2, "strict": strict}
        try:
            values = asyncio.run(self.graph.ainvoke({"target_text": SOURCE, "target_name": "ratelimiter.py"},
                                                    self.cfg, context=self.ctx))
        except ProviderError:
            return False
        return bool(values["report"].complete)

    def resume(self, run_dir: Path) -> bool:  # a retried thread
        return bool(asyncio.run(self.graph.ainvoke(None, self.cfg, context=self.ctx))["report"].complete)


ENTRIES = [Cli, Http, Batched, ServerGraph]


@pytest.fixture(autouse=True)
def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REBUTTAL_HOME", str(tmp_path / "home"))


@pytest.fixture
def inside_lock(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Path, str]]:
    """Probe every run from inside its lock: the lock is held, and a second start of it is refused."""
    seen: list[tuple[Path, str]] = []
    original = runner._execute_locked

    async def probe(run_dir: Path, *args: Any) -> dict[str, Any]:
        held = locked(RunDir(run_dir).lock)
        try:
            await api.resume(run_dir)
            refusal = "not refused"
        except RunBusyError as exc:
            refusal = str(exc)
        seen.append((run_dir, refusal if held else "lock not held"))
        return await original(run_dir, *args)

    monkeypatch.setattr(runner, "_execute_locked", probe)
    return seen


@pytest.fixture
def faulty(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The fake provider fails the first review call once (401), in every thread of this process."""
    monkeypatch.setenv("REBUTTAL_FAKE_FAULTS", json.dumps(FAULT))
    fake.plan_from_env.cache_clear()
    yield
    monkeypatch.delenv("REBUTTAL_FAKE_FAULTS")
    fake.plan_from_env.cache_clear()


def the_run(out: Path) -> Path:
    """The one run directory under `out` (input folders of the servers aside)."""
    runs = [p for p in out.iterdir() if RunDir(p).is_run()]
    assert len(runs) == 1, runs
    return runs[0]


def checkpoints(run_dir: Path) -> int:
    """Checkpoints the run's own SQLite checkpointer holds for its thread."""
    settings, *_ = runner.load_run(run_dir)
    with sqlite3.connect(RunDir(run_dir).checkpoint) as db:
        return int(db.execute("SELECT count(*) FROM checkpoints WHERE thread_id = ?",
                              (settings.thread_id,)).fetchone()[0])


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.name)
def test_every_entry_point_runs_under_the_lock_with_the_runs_checkpointer(
        entry: type[Entry], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, inside_lock: list[tuple[Path, str]],
) -> None:
    way = entry(tmp_path / "runs", monkeypatch)
    assert way.start(strict=False)
    run_dir = the_run(tmp_path / "runs")
    assert [d for d, _ in inside_lock] == [run_dir]
    assert "is already executing" in inside_lock[0][1], inside_lock
    assert checkpoints(run_dir) > 0
    assert not locked(RunDir(run_dir).lock)  # released when the run ends


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.name)
def test_every_entry_point_resumes_a_failed_run_without_repeating_calls(
        entry: type[Entry], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, faulty: None) -> None:
    way = entry(tmp_path / "runs", monkeypatch)
    assert not way.start(strict=True)
    run_dir = the_run(tmp_path / "runs")
    before = RunDir(run_dir).ledger_lines()
    assert any(ln.outcome != "ok" for ln in before) and not RunDir(run_dir).report_json.exists()
    assert way.resume(run_dir), way.why
    assert RunDir(run_dir).report().complete and checkpoints(run_dir) > 0
    ok_before = {ln.call_id for ln in before if ln.outcome == "ok"}
    again = {ln.call_id for ln in RunDir(run_dir).ledger_lines()[len(before):]}
    assert ok_before and not ok_before & again, "a finished call was made again"
