"""The pluggable checkpoint store. Always: which backend a run uses, and clear errors. With a PostgreSQL
(REBUTTAL_TEST_POSTGRES_DSN, which .ci/run sets by starting Debian's postgresql on loopback): two
`rebuttal serve` processes on one database and one runs folder; a run interrupted in the first (its client
goes away, then the server is killed) resumes in the second from the Postgres checkpoint, no call made twice."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from engine import runner
from engine.errors import ConfigError
from engine.llm.ledger import read_ledger
from engine.store import DSN_ENV, open_saver, redact_dsn, run_backend
from tests.conftest import locked

ROOT = Path(__file__).resolve().parents[1]
DSN = os.environ.get("REBUTTAL_TEST_POSTGRES_DSN")
PANEL = {"persona": ["security-auditor", "maintainer", "test-engineer"], "k": 1}
CALLS = 18  # the fake debate of PANEL on the pasted function, per-finding judge calls included
TIMEOUT = 60


@pytest.mark.parametrize(("yaml_text", "backend"), [
    ("run_id: a\n", "sqlite"), ("run_id: a\ncheckpoints: postgres\n", "postgres"), (None, "sqlite"),
])
def test_run_backend(tmp_path: Path, yaml_text: str | None, backend: str) -> None:
    if yaml_text is not None:
        (tmp_path / "run.yaml").write_text(yaml_text)
    assert run_backend(tmp_path) == backend


def test_bad_backend_and_missing_dsn_are_clear_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "run.yaml").write_text("checkpoints: redis\n")
    with pytest.raises(ConfigError, match="checkpoints must be sqlite or postgres"):
        run_backend(tmp_path)
    (tmp_path / "run.yaml").write_text("checkpoints: postgres\n")
    monkeypatch.delenv(DSN_ENV, raising=False)

    async def open_it() -> None:
        async with open_saver(tmp_path, runner.serializer()):
            pass

    with pytest.raises(ConfigError, match=f"set {DSN_ENV}"):
        asyncio.run(open_it())


def test_unreachable_database_is_one_line_without_the_password(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    (tmp_path / "run.yaml").write_text("checkpoints: postgres\n")
    monkeypatch.setenv(DSN_ENV, f"postgresql://u:hunter2@127.0.0.1:{port}/db?connect_timeout=2")

    async def open_it() -> None:
        async with open_saver(tmp_path, runner.serializer()):
            pass

    with pytest.raises(ConfigError) as exc:
        asyncio.run(open_it())
    assert "hunter2" not in str(exc.value) and "u:***@" in str(exc.value) and "\n" not in str(exc.value)


@pytest.mark.parametrize(("dsn", "shown"), [
    ("postgresql://u:p@h:5432/d", "postgresql://u:***@h:5432/d"),
    ("postgresql://u@h/d", "postgresql://u@h/d"),
    ("postgresql://h/d", "postgresql://h/d"),
])
def test_redact_dsn(dsn: str, shown: str) -> None:
    assert redact_dsn(dsn) == shown


# -- two servers, one database ------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(runs: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "REBUTTAL_FORBID_REAL_MODELS": "1", DSN_ENV: str(DSN)}
    proc = subprocess.Popen([sys.executable, "-m", "engine", "serve", "--port", str(port), "--model", "fake:400",
                             "--out", str(runs)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            time.sleep(0.1)
    raise AssertionError("server did not start")



def checkpoint_rows(thread_id: str) -> int:
    import psycopg

    with psycopg.connect(str(DSN)) as conn:
        row = conn.execute("SELECT count(*) FROM checkpoints WHERE thread_id = %s", (thread_id,)).fetchone()
    return int(row[0]) if row else 0


@pytest.mark.skipif(not DSN, reason="needs a PostgreSQL: set REBUTTAL_TEST_POSTGRES_DSN (.ci/run does)")
def test_run_killed_on_one_server_resumes_on_the_other(tmp_path: Path) -> None:
    runs = tmp_path / "shared-runs"  # the shared storage both workers see
    port_a, port_b = free_port(), free_port()
    a, b = start_server(runs, port_a), start_server(runs, port_b)
    try:
        body = {"model": "rebuttal/debate", "stream": True, "rebuttal": PANEL,
                "messages": [{"role": "user", "content": "def div(a, b):\n    return a / b  # no zero check\n"}]}
        conn = http.client.HTTPConnection("127.0.0.1", port_a, timeout=TIMEOUT)
        conn.request("POST", "/v1/chat/completions", json.dumps(body), {"Content-Type": "application/json"})
        resp = conn.getresponse()
        assert resp.status == 200
        deadline = time.monotonic() + TIMEOUT
        run_dir = None
        while time.monotonic() < deadline:
            dirs = [p for p in runs.glob("*") if (p / "ledger.jsonl").exists()] if runs.exists() else []
            if dirs and len((dirs[0] / "ledger.jsonl").read_text().splitlines()) >= 4:
                run_dir = dirs[0]
                break
            time.sleep(0.01)
        assert run_dir is not None, "the run did not start"
        resp.close()
        conn.close()  # the client goes away: server A stops the run at its next await, finished calls saved
        while time.monotonic() < deadline and locked(run_dir / "run.lock"):
            time.sleep(0.05)
        assert not locked(run_dir / "run.lock"), "server A stopped the run"
        a.send_signal(signal.SIGKILL)  # and then server A is gone altogether
        a.wait(timeout=10)

        before = Counter(line.call_id for line in read_ledger(run_dir / "ledger.jsonl") if line.outcome == "ok")
        assert 4 <= sum(before.values()) < CALLS and not (run_dir / "report.json").exists()
        assert not (run_dir / "checkpoint.sqlite").exists(), "checkpoints went to PostgreSQL"
        assert "checkpoints: postgres" in (run_dir / "run.yaml").read_text()
        assert checkpoint_rows(run_dir.name) > 0, "the interrupted run's steps are in the database"

        r = httpx.post(f"http://127.0.0.1:{port_b}/v1/runs/{run_dir.name}/resume", timeout=TIMEOUT)
        assert r.status_code == 200, r.text
        answer = r.json()
        assert answer["rebuttal"]["complete"] is True and answer["rebuttal"]["findings"] >= 1
        after = Counter(line.call_id for line in read_ledger(run_dir / "ledger.jsonl") if line.outcome == "ok")
        assert max(after.values()) == 1, "no call was made twice"
        assert sum(after.values()) == CALLS and set(before) <= set(after)
        assert json.loads((run_dir / "report.json").read_text())["complete"] is True

        missing = httpx.post(f"http://127.0.0.1:{port_b}/v1/runs/no-such-run/resume", timeout=TIMEOUT)
        assert missing.status_code == 404
    finally:
        for p in (a, b):
            if p.poll() is None:
                p.terminate()
                p.wait(timeout=10)
