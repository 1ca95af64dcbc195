"""Decided and documented: exit 3 for a budget-stopped run, --concurrency 0, resume --max-usd without prices, a
non-streaming client that disconnects stops its run."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import yaml
from typer.testing import CliRunner

from engine.cli import app
from engine.serve.app import ServeConfig
from tests.conftest import EXAMPLE, run_fake
from tests.test_serve import SOURCE, live_server


def invoke(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(app, list(args))
    return r.exit_code, r.stdout + r.stderr


def test_a_budget_stopped_run_exits_3_and_a_complete_one_0(tmp_path: Path) -> None:
    base = ["review", str(EXAMPLE), "--model", "fake", "--out", str(tmp_path / "runs"), "-q", "--workflow", "fusion"]
    code, text = invoke(*base, "--max-calls", "2", "--run-id", "stopped")
    assert code == 3 and "PARTIAL" in text, text
    code, text = invoke("resume", str(tmp_path / "runs" / "stopped"))
    assert code == 3, text
    code, text = invoke("resume", str(tmp_path / "runs" / "stopped"), "--max-calls", "100")
    assert code == 0, text
    assert invoke(*base)[0] == 0


def test_concurrency_0_is_an_error(tmp_path: Path) -> None:
    code, text = invoke(
        "review", str(EXAMPLE), "--model", "fake", "--out", str(tmp_path / "runs"), "--concurrency", "0"
    )
    assert code == 2 and text.startswith("error:") and "concurrency" in text, text
    assert not (tmp_path / "runs").exists()


def test_resume_max_usd_without_prices_is_refused_like_review(tmp_path: Path) -> None:
    run_dir, _ = run_fake(tmp_path, workflow="fusion", max_calls=2)
    info = yaml.safe_load((run_dir / "run.yaml").read_text())
    info["settings"]["judge"] = "openai:no-price-known"
    (run_dir / "run.yaml").write_text(yaml.safe_dump(info))
    calls = (run_dir / "ledger.jsonl").read_text()
    code, text = invoke("resume", str(run_dir), "--max-usd", "1")
    assert code == 2 and "--max-usd needs prices for: openai:no-price-known" in text, text
    assert (run_dir / "ledger.jsonl").read_text() == calls


def test_a_disconnecting_non_streaming_client_stops_its_run(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with live_server(ServeConfig(out_dir=out, model="fake:400", check_providers=False)) as url:
        body = {
            "model": "rebuttal/debate",
            "messages": [{"role": "user", "content": SOURCE}],
            "rebuttal": {"personas": 3, "k": 1, "filename": "ratelimiter.py"},
        }
        try:
            httpx.post(f"{url}/v1/chat/completions", json=body, timeout=1.5)
            raise AssertionError("the run should outlast the client's timeout")
        except httpx.ReadTimeout:
            pass
        ledger = next(out.glob("*/run.yaml")).parent / "ledger.jsonl"
        time.sleep(2.5)  # a poll (0.5 s) notices, the calls in flight end
        before = ledger.read_text() if ledger.exists() else ""
        time.sleep(2.0)
        after = ledger.read_text() if ledger.exists() else ""
        assert before == after, "the run went on spending after its client left"
        assert not (ledger.parent / "report.json").exists()
