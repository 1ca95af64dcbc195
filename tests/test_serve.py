"""The OpenAI-compatible server, live on loopback: the `openai` client and langchain's ChatOpenAI, unchanged."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import openai
import pytest
import uvicorn
from typer.testing import CliRunner

from engine import api
from engine.cli import app
from engine.errors import RunBusyError
from engine.llm.ledger import read_ledger
from engine.profiles import Profile, save_profile
from engine.serve.app import ServeConfig, create_app, is_loopback
from engine.serve.inputs import InputError, safe_filename, target_files

SOURCE = (Path(__file__).resolve().parent.parent / "examples" / "ratelimiter.py").read_text(encoding="utf-8")
FAST = {"rebuttal": {"personas": 2, "filename": "ratelimiter.py"}}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def live_server(cfg: ServeConfig) -> Iterator[str]:
    """uvicorn in a thread on a free loopback port; stopped (bounded wait) at the end."""
    server = uvicorn.Server(uvicorn.Config(create_app(cfg), host="127.0.0.1", port=free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(15)


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("serve-runs")


@pytest.fixture(scope="module")
def base_url(out_dir: Path) -> Iterator[str]:
    with live_server(ServeConfig(out_dir=out_dir, model="fake:20", max_runs=2, max_body_bytes=200_000)) as url:
        yield url


@pytest.fixture
def client(base_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{base_url}/v1", api_key="unused", max_retries=0, timeout=60)


@pytest.fixture(autouse=True)
def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REBUTTAL_HOME", str(tmp_path / "home"))


def test_models_list_has_workflows_and_profiles(client: openai.OpenAI) -> None:
    save_profile("team", Profile(workflow="fusion", panel=["fake", "fake:1"]))
    ids = [m.id for m in client.models.list()]
    assert {"rebuttal/debate", "rebuttal/fusion", "rebuttal/self-review", "profile/team"} <= set(ids)
    assert client.models.retrieve("rebuttal/fusion").owned_by == "rebuttal"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("rebuttal/nope")


def test_chat_completion_is_the_report(client: openai.OpenAI) -> None:
    res = client.chat.completions.create(model="rebuttal/fusion", messages=[
        {"role": "system", "content": "ignored"}, {"role": "user", "content": SOURCE}], extra_body=FAST)
    content = res.choices[0].message.content or ""
    extra = res.model_extra["rebuttal"]
    run_dir = Path(extra["run_dir"])
    assert content.startswith("# Review findings: ratelimiter.py") and f"`{extra['run_id']}`" in content
    assert res.id == f"chatcmpl-{extra['run_id']}" and res.model == "rebuttal/fusion"
    assert res.choices[0].finish_reason == "stop" and extra["complete"] and extra["judge"] == "fake:20"
    ledger = read_ledger(run_dir / "ledger.jsonl")
    assert res.usage and res.usage.prompt_tokens == sum(ln.prompt_tokens for ln in ledger)
    assert res.usage.total_tokens == sum(ln.prompt_tokens + ln.completion_tokens for ln in ledger)
    assert len(extra["calls"]) == len(ledger) == extra["total"]["calls"]
    assert [c["key"] for c in extra["cost_by_stage"]] == ["personas", "reviews", "judge", "compile"]
    assert (run_dir / "review-findings.md").exists() and extra["findings"] >= 1
    assert (run_dir.parent / "_inputs").is_dir()


def test_profile_model_and_panel_of_panels(client: openai.OpenAI) -> None:
    save_profile("cheap", Profile(panel=["fake:1", "fake:2"]))
    save_profile("team", Profile(workflow="fusion", panel=["profile:cheap", "fake"], judge="fake:3", personas=3))
    res = client.chat.completions.create(model="profile/team", messages=[{"role": "user", "content": SOURCE}])
    extra = res.model_extra["rebuttal"]
    assert extra["workflow"] == "fusion" and extra["judge"] == "fake:3"
    assert {"fake:1", "fake:2", "fake"} <= set(extra["models"]) and len(extra["personas"]) == 3


def test_streaming_sends_progress_then_the_report(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(model="rebuttal/fusion", messages=[{"role": "user", "content": SOURCE}],
                                            extra_body=FAST, stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    head, _, report = text.partition("# Review findings")
    assert head.startswith("> run ") and "> reviews: 2/2 calls done" in head and "> compile:" in head
    assert report and "Sorted by truth" in report
    final = [c for c in chunks if c.choices and c.choices[0].finish_reason][-1]
    assert final.choices[0].finish_reason == "stop" and final.model_extra["rebuttal"]["complete"]
    assert chunks[-1].usage and chunks[-1].usage.total_tokens > 0 and not chunks[-1].choices
    assert len({c.id for c in chunks}) == 1


def test_langchain_chat_openai_works_unchanged(base_url: str) -> None:
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(model="rebuttal/fusion", base_url=f"{base_url}/v1", api_key="unused", max_retries=0,  # type: ignore[arg-type]
                     extra_body=FAST)
    msg = llm.invoke(SOURCE)
    assert str(msg.content).startswith("# Review findings") and msg.usage_metadata
    assert msg.usage_metadata["total_tokens"] > 0
    streamed = "".join(str(c.content) for c in llm.stream(SOURCE))
    assert streamed.startswith("> run ") and "# Review findings" in streamed


def test_two_concurrent_requests(client: openai.OpenAI) -> None:
    slow = {"rebuttal": {"personas": 2, "panel": ["fake:300"], "filename": "ratelimiter.py"}}

    def ask(i: int) -> tuple[str, float, float]:
        started = finished = 0.0
        stream = client.chat.completions.create(model="rebuttal/fusion", stream=True, extra_body=slow, messages=[
            {"role": "user", "content": f"{SOURCE}\n# copy {i}\n"}])
        run_dir = ""
        for chunk in stream:
            text = chunk.choices[0].delta.content or "" if chunk.choices else ""
            if "> personas: 1/1" in text:
                started = time.monotonic()  # the server is running this review now
            if chunk.choices and chunk.choices[0].finish_reason:
                finished, run_dir = time.monotonic(), chunk.model_extra["rebuttal"]["run_dir"]
        return run_dir, started, finished

    with ThreadPoolExecutor(2) as pool:
        (dir_a, start_a, end_a), (dir_b, start_b, end_b) = pool.map(ask, [1, 2])
    assert dir_a != dir_b and Path(dir_a, "report.json").exists() and Path(dir_b, "report.json").exists()
    assert start_a and start_b and start_b < end_a and start_a < end_b, "both reviews ran at the same time"


@pytest.mark.parametrize(("body", "status", "param", "fragment"), [
    ({"model": "rebuttal/fusion"}, 400, "messages", "Field required"),
    ({"model": "rebuttal/fusion", "messages": []}, 400, "messages", "at least 1"),
    ({"messages": [{"role": "user", "content": "x"}]}, 400, "model", "Field required"),
    ({"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]}, 404, "model", "does not exist"),
    ({"model": "rebuttal/fusion", "messages": [{"role": "system", "content": "x"}]}, 400, "messages", "user message"),
    ({"model": "rebuttal/fusion", "messages": [{"role": "user", "content": "  "}]}, 400, "messages", "empty"),
    ({"model": "rebuttal/fusion", "messages": [{"role": "user", "content": "x"}], "n": 2}, 400, "n", "must be 1"),
    ({"model": "rebuttal/fusion", "messages": [{"role": "user", "content": "x"}], "rebuttal": {"out": "/"}}, 400,
     "rebuttal.out", "Extra inputs"),
])
def test_bad_requests_are_openai_errors(base_url: str, body: dict[str, object], status: int, param: str,
                                        fragment: str) -> None:
    res = httpx.post(f"{base_url}/v1/chat/completions", json=body, timeout=30)
    assert res.status_code == status
    err = res.json()["error"]
    assert err["param"] == param and fragment in err["message"] and err["type"] == "invalid_request_error"


def test_oversized_invalid_json_and_unknown_path(base_url: str) -> None:
    big = {"model": "rebuttal/fusion", "messages": [{"role": "user", "content": "x" * 300_000}]}
    res = httpx.post(f"{base_url}/v1/chat/completions", json=big, timeout=30)
    assert res.status_code == 413 and res.json()["error"]["code"] == "request_too_large"
    res = httpx.post(f"{base_url}/v1/chat/completions", content=b"{not json", timeout=30)
    assert res.status_code == 400 and "not valid JSON" in res.json()["error"]["message"]
    res = httpx.get(f"{base_url}/v1/nothing", timeout=30)
    assert res.status_code == 404 and res.json()["error"]["code"] == "not_found"
    res = httpx.get(f"{base_url}/v1/chat/completions", timeout=30)
    assert res.status_code == 405 and "error" in res.json()
    with openai.OpenAI(base_url=f"{base_url}/v1", api_key="x", max_retries=0) as c, pytest.raises(
            openai.BadRequestError, match="user message"):
        c.chat.completions.create(model="rebuttal/fusion", messages=[{"role": "assistant", "content": "hi"}])


def test_api_key_is_required_when_set(tmp_path: Path) -> None:
    with live_server(ServeConfig(out_dir=tmp_path, model="fake", api_key="s3cret")) as url:
        for key in ("wrong", ""):
            c = openai.OpenAI(base_url=f"{url}/v1", api_key=key or "x", max_retries=0,
                              default_headers={} if key else {"Authorization": ""})
            with pytest.raises(openai.AuthenticationError) as exc:
                c.models.list()
            assert exc.value.body["code"] == "invalid_api_key"  # type: ignore[index]
        res = httpx.post(f"{url}/v1/chat/completions", json={"model": "rebuttal/fusion"}, timeout=30)
        assert res.status_code == 401 and res.headers["www-authenticate"] == "Bearer"
        good = openai.OpenAI(base_url=f"{url}/v1", api_key="s3cret", max_retries=0)
        assert "rebuttal/debate" in [m.id for m in good.models.list()]
        assert httpx.get(f"{url}/health", timeout=30).json() == {"ok": True}


def test_serve_refuses_a_public_bind_without_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REBUTTAL_API_KEY", raising=False)
    res = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0", "--model", "fake"])
    assert res.exit_code == 2 and "needs an API key" in res.stderr
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.4")


def test_target_files_from_messages() -> None:
    data = "data:text/plain;base64," + base64.b64encode(b"print('hi')\n").decode()
    parts = [{"type": "text", "text": "Review this"},
             {"type": "file", "file": {"filename": "../a b.PY", "file_data": data}}]
    msgs = [{"role": "user", "content": "old"}, {"role": "assistant", "content": "x"},
            {"role": "user", "content": parts}]
    assert target_files(msgs) == [("message.md", "Review this"), ("../a b.PY", "print('hi')\n")]
    assert safe_filename("../a b.PY") == "a-b.py" and safe_filename("..") == "message.md"
    with pytest.raises(InputError, match="unsupported content part"):
        target_files([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}])
    with pytest.raises(InputError, match="base64"):
        target_files([{"role": "user", "content": [{"type": "file", "file": {"file_data": "%%%"}}]}])


def test_attached_files_become_one_folder_target(client: openai.OpenAI) -> None:
    files = [{"type": "file", "file": {"filename": name, "file_data": base64.b64encode(text.encode()).decode()}}
             for name, text in [("limiter.py", SOURCE), ("notes.md", "# Notes\n\nThe limiter must be fair.\n")]]
    res = client.chat.completions.create(model="rebuttal/fusion", extra_body={"rebuttal": {"personas": 2}},
                                         messages=[{"role": "user", "content": [{"type": "text", "text": "Review"},
                                                                                 *files]}])  # type: ignore[list-item]
    run_dir = Path(res.model_extra["rebuttal"]["run_dir"])
    target = json.loads((run_dir / "target.json").read_text())
    assert target["kind"] == "folder" and [f["path"] for f in target["files"]] == [
        "limiter.py", "message.md", "notes.md"]


def test_client_gone_mid_stream_stops_the_run_and_leaves_it_resumable(base_url: str, out_dir: Path) -> None:
    body = {"model": "rebuttal/fusion", "stream": True, "messages": [{"role": "user", "content": SOURCE}],
            "rebuttal": {"personas": 2, "panel": ["fake:600"], "judge": "fake:600"}}
    run_id = None
    with httpx.stream("POST", f"{base_url}/v1/chat/completions", json=body, timeout=30) as res:
        for line in res.iter_lines():
            if line.startswith("data: {") and run_id is None:
                run_id = json.loads(line[6:])["id"].removeprefix("chatcmpl-")
            if "personas: 1/1" in line:
                break  # hang up while the reviews (600 ms each) are running
    assert run_id
    run_dir = out_dir / run_id
    time.sleep(2.5)  # long enough for the reviews and the judge (~1.2 s), had the run gone on
    assert (run_dir / "run.yaml").exists() and not (run_dir / "report.json").exists()
    assert "compile" not in {ln.stage for ln in read_ledger(run_dir / "ledger.jsonl")}
    deadline = time.monotonic() + 30
    while True:  # the server releases the run once its cancelled task has unwound; a slow machine takes longer
        try:
            report = asyncio.run(api.resume(run_dir))
            break
        except RunBusyError:
            assert time.monotonic() < deadline, "the server never released the run after the client left"
            time.sleep(0.2)
    assert report.complete and (run_dir / "report.json").exists()
    assert httpx.get(f"{base_url}/health", timeout=10).status_code == 200


def test_rebuttal_serve_command_on_loopback(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "engine", "serve", "--model", "fake", "--port", str(port),
                             "--out", str(tmp_path / "runs")], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None and time.monotonic() < deadline, "rebuttal serve did not start"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        c = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="x", max_retries=0, timeout=60)
        res = c.chat.completions.create(model="rebuttal/single", messages=[{"role": "user", "content": SOURCE}])
        assert res.model_extra["rebuttal"]["run_dir"].startswith(str(tmp_path / "runs"))
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def test_a_failed_run_is_an_error_naming_its_directory(client: openai.OpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.llm import fake

    monkeypatch.setenv("REBUTTAL_FAKE_FAULTS", json.dumps([{"kind": "auth", "match": "Your persona:"}]))
    fake.plan_from_env.cache_clear()
    strict = {"rebuttal": {"personas": 2, "strict": True}}
    try:
        with pytest.raises(openai.APIStatusError) as exc:
            client.chat.completions.create(model="rebuttal/fusion", extra_body=strict,
                                           messages=[{"role": "user", "content": SOURCE}])
        assert exc.value.status_code == 502 and exc.value.body["code"] == "run_failed"  # type: ignore[index]
        assert "rebuttal resume" in exc.value.body["message"]  # type: ignore[index]
        stream = client.chat.completions.create(model="rebuttal/fusion", extra_body=strict, stream=True,
                                                messages=[{"role": "user", "content": SOURCE}])
        with pytest.raises(openai.APIError, match="rebuttal resume"):
            for _ in stream:
                pass
    finally:
        monkeypatch.delenv("REBUTTAL_FAKE_FAULTS")
        fake.plan_from_env.cache_clear()
