"""The review graph behind `langgraph.json`: in process, resumed after a failure, and live under `langgraph dev`."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from langgraph.checkpoint.memory import InMemorySaver

from engine.errors import ConfigError, ProviderError
from engine.llm import fake
from engine.llm.ledger import read_ledger
from engine.models import Report
from engine.server_graph import build_server_graph

REPO = Path(__file__).resolve().parent.parent
SOURCE = (REPO / "examples" / "ratelimiter.py").read_text(encoding="utf-8")
INPUT = {"target_text": SOURCE, "target_name": "ratelimiter.py"}
START_TIMEOUT_S = 90


@pytest.fixture(autouse=True)
def _server_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("REBUTTAL_SERVER_OUT", str(tmp_path / "runs"))
    monkeypatch.setenv("REBUTTAL_SERVER_MODEL", "fake")
    monkeypatch.setenv("REBUTTAL_HOME", str(tmp_path / "home"))
    return tmp_path / "runs"


def test_langgraph_json_points_at_the_graph() -> None:
    config = json.loads((REPO / "langgraph.json").read_text())
    module, _, attr = config["graphs"]["review"]["path"].partition(":")
    assert (module, attr) == ("engine.server_graph", "graph")
    assert config["dependencies"] == ["."]


def test_graph_in_process_streams_progress_and_keeps_the_report(_server_env: Path) -> None:
    async def go() -> tuple[list[dict[str, object]], dict[str, object]]:
        graph = build_server_graph().compile(checkpointer=InMemorySaver())
        cfg = {"configurable": {"thread_id": "t1"}}
        progress = [chunk async for chunk in graph.astream(INPUT, cfg, context={"workflow": "fusion", "personas": 2},
                                                          stream_mode="custom")]
        return progress, (await graph.aget_state(cfg)).values  # type: ignore[arg-type]

    progress, values = asyncio.run(go())
    assert {"stage": "reviews", "done": 2, "total": 2} in progress
    report = values["report"]
    assert isinstance(report, Report) and report.workflow == "fusion" and report.complete
    run_dir = Path(str(values["run_dir"]))
    assert run_dir.parent == _server_env and (run_dir / "review-findings.md").exists()
    assert str(values["report_markdown"]).startswith("# Review findings: ratelimiter.py")
    personas = [r.persona for r in values["reviews"]]  # type: ignore[attr-defined]
    assert len(personas) == 2 + 1 and personas.count("analyzers") == 1  # the panel's two, and the analyzers


def test_graph_needs_target_text() -> None:
    graph = build_server_graph().compile()
    with pytest.raises(ConfigError, match="target_text"):
        asyncio.run(graph.ainvoke({"target_name": "x.py"}, context={"model": "fake"}))


def test_failed_thread_resumes_without_repeating_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    graph = build_server_graph().compile(checkpointer=InMemorySaver())
    cfg = {"configurable": {"thread_id": "t2"}}
    ctx = {"workflow": "fusion", "personas": 2, "strict": True}
    monkeypatch.setenv("REBUTTAL_FAKE_FAULTS", json.dumps([{"kind": "auth", "match": "Your persona:", "times": 1}]))
    fake.plan_from_env.cache_clear()
    try:
        with pytest.raises(ProviderError, match="401"):
            asyncio.run(graph.ainvoke(INPUT, cfg, context=ctx))
    finally:
        monkeypatch.delenv("REBUTTAL_FAKE_FAULTS")
        fake.plan_from_env.cache_clear()
    state = asyncio.run(graph.aget_state(cfg))
    assert state.next == ("run_review",)
    run_dir = Path(state.values["run_dir"])
    before = read_ledger(run_dir / "ledger.jsonl")
    values = asyncio.run(graph.ainvoke(None, cfg, context=ctx))
    assert values["run_dir"] == str(run_dir) and values["report"].complete
    ok_before = {ln.call_id for ln in before if ln.outcome == "ok"}
    repeated = ok_before & {ln.call_id for ln in read_ledger(run_dir / "ledger.jsonl")[len(before):]}
    assert ok_before and not repeated


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def langgraph_dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """`langgraph dev` on loopback with the repo's langgraph.json (persistence in a temp folder); killed after."""
    pytest.importorskip("langgraph_api", reason="langgraph-cli[inmem] is not installed")
    exe = shutil.which("langgraph", path=str(Path(sys.executable).parent)) or shutil.which("langgraph")
    if exe is None:
        pytest.skip("the langgraph CLI is not installed")
    work = tmp_path_factory.mktemp("langgraph-dev")
    port = free_port()
    env = {**os.environ, "REBUTTAL_SERVER_OUT": str(work / "runs"), "REBUTTAL_SERVER_MODEL": "fake",
           "REBUTTAL_FORBID_REAL_MODELS": "1", "LANGSMITH_TRACING": "false", "LANGGRAPH_CLI_NO_ANALYTICS": "1"}
    log = (work / "server.log").open("w")
    proc = subprocess.Popen(
        [exe, "dev", "--no-browser", "--no-reload", "--allow-blocking", "--host", "127.0.0.1", "--port", str(port),
         "--config", str(REPO / "langgraph.json")],
        cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"langgraph dev did not start:\n{(work / 'server.log').read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/ok", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        yield url, work
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        log.close()


def test_langgraph_dev_round_trip(langgraph_dev: tuple[str, Path]) -> None:
    from langgraph_sdk import get_client

    url, work = langgraph_dev

    async def go() -> tuple[list[object], dict[str, object], dict[str, object]]:
        client = get_client(url=url)
        assistants = await client.assistants.search(graph_id="review")
        thread = await client.threads.create()
        events = [part async for part in client.runs.stream(
            thread["thread_id"], "review", input=INPUT, context={"workflow": "fusion", "personas": 2},
            stream_mode=["custom"])]
        state = await client.threads.get_state(thread["thread_id"])
        return events, state, assistants[0]  # type: ignore[return-value]

    events, state, assistant = asyncio.run(asyncio.wait_for(go(), 120))
    assert assistant["graph_id"] == "review"
    errors = [e for e in events if getattr(e, "event", "") == "error"]
    assert not errors, f"{errors}\n{(work / 'server.log').read_text()[-3000:]}"
    progress = [e.data for e in events if getattr(e, "event", "") == "custom"]  # type: ignore[attr-defined]
    for stage in ("judge", "compile"):  # one truth call per finding, then the usefulness batches, all finished
        assert any(p["stage"] == stage and p["done"] == p["total"] > 0 for p in progress), stage
    values = state["values"]
    assert isinstance(values, dict) and not state["next"]
    report = values["report"]
    assert report["workflow"] == "fusion" and report["complete"] and report["judge"] == "fake"
    assert str(values["report_markdown"]).startswith("# Review findings: ratelimiter.py")
    run_dir = Path(values["run_dir"])
    assert run_dir.parent == work / "runs" and (run_dir / "report.json").exists()
    assert json.loads((run_dir / "report.json").read_text())["run_id"] == report["run_id"]
