"""`rebuttal mcp` driven by the MCP SDK's own client over stdio (a real subprocess), on the fake model:
tools, progress, resources (confined to the run), findings / trace / triage, and a cancelled review
that stops, is served around, and resumes to a complete report without repeating a call."""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from engine.llm.ledger import read_ledger
from tests.conftest import EXAMPLE, locked

ROOT = Path(__file__).resolve().parents[1]
PANEL = {"persona": ["security-auditor", "maintainer", "test-engineer"], "k": 1}
CALLS = 25  # 3 reviews, 3 picks, 4 responses (one to the analyzers review), 3 rebuttals, 3 findings,
#             7 truth judge calls (one per finding), 2 usefulness batches
TIMEOUT = 60

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="stdio subprocess")


def server(runs: Path) -> StdioServerParameters:
    env = {"PYTHONPATH": str(ROOT), "REBUTTAL_FORBID_REAL_MODELS": "1", "PATH": os.environ.get("PATH", "")}
    return StdioServerParameters(command=sys.executable, args=["-m", "engine", "mcp", "--model", "fake", "--out",
                                                               str(runs)], env=env, cwd=str(runs.parent))


def data(result: Any) -> Any:
    assert not result.is_error, result.content
    sc = result.structured_content
    return sc["result"] if isinstance(sc, dict) and set(sc) == {"result"} else sc


def error_text(result: Any) -> str:
    assert result.is_error
    return " ".join(getattr(c, "text", "") for c in result.content)


def ok_counts(run_dir: Path) -> Counter[str]:
    return Counter(line.call_id for line in read_ledger(run_dir / "ledger.jsonl") if line.outcome == "ok")


async def read_text(client: Client, uri: str) -> str:
    res = await client.read_resource(uri)
    return res.contents[0].text  # type: ignore[union-attr]


def test_round_trip_review_resources_findings_trace_triage(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(p: float, total: float | None, message: str | None) -> None:
        progress.append((p, total, message))

    async def main() -> None:
        async with Client(server(runs)) as client:
            names = {t.name for t in (await client.list_tools()).tools}
            assert names == {"review", "resume", "estimate", "trace", "findings", "triage"}

            est = data(await client.call_tool("estimate", {"target": str(EXAMPLE), **PANEL}))
            assert est["calls"] >= CALLS and est["stages"] and est["model"] == "fake"

            res = data(await client.call_tool("review", {"target": str(EXAMPLE), **PANEL, "run_id": "one"},
                                              read_timeout_seconds=TIMEOUT, progress_callback=on_progress))
            assert res["run_id"] == "one" and res["complete"] and res["findings_total"] >= 1
            assert res["report_path"] == str(runs / "one" / "review-findings.md")
            top = res["top_findings"]
            assert top and {"truth", "usefulness", "status", "file"} <= set(top[0])

            md = await read_text(client, res["report_uri"])
            assert md == (runs / "one" / "review-findings.md").read_text(encoding="utf-8")
            report = json.loads(await read_text(client, "rebuttal://runs/one/report.json"))
            review_file = next(p for p in sorted((runs / "one" / "reviews").glob("*.md")))
            rel = review_file.relative_to(runs / "one").as_posix()
            assert await read_text(client, f"rebuttal://runs/one/artifacts/{rel}") == review_file.read_text()
            listing = json.loads(await read_text(client, "rebuttal://runs"))
            assert rel in listing[0]["artifacts"]
            (tmp_path / "secret.md").write_text("outside")
            for bad in ("../../secret.md", "%2E%2E/%2E%2E/secret.md", "checkpoint.sqlite", "/etc/passwd"):
                with pytest.raises(Exception):  # noqa: B017 - the SDK raises its protocol error type
                    await read_text(client, f"rebuttal://runs/one/artifacts/{bad}")
            with pytest.raises(Exception):  # noqa: B017
                await read_text(client, "rebuttal://runs/..%2F..%2Fx/report.json")

            fid = report["findings"][0]["id"]
            all_ = data(await client.call_tool("findings", {"run_id": "one"}))
            assert [f["id"] for f in all_] == [f["id"] for f in report["findings"]]
            cut = report["findings"][0]["scores"]["truth"]
            high = data(await client.call_tool("findings", {"run_id": "one", "min_truth": cut}))
            assert high and all(f["truth"] >= cut for f in high)
            none = data(await client.call_tool("findings", {"run_id": "one", "file": "no/such/*.py"}))
            assert none == []

            tr = data(await client.call_tool("trace", {"run_id": "one", "ref": fid}))
            assert tr["trace"]["finding"]["id"] == fid and tr["text"].startswith(fid)
            assert "no finding" in error_text(await client.call_tool("trace", {"run_id": "one", "ref": "F-999"}))

            tri = data(await client.call_tool("triage", {"run_id": "one", "finding_ids": [fid], "label": "dismiss"}))
            assert tri["labels"] == {fid: "dismiss"}
            assert "dismiss" in (runs / "one" / "triage.yaml").read_text()
            dismissed = data(await client.call_tool("findings", {"run_id": "one", "triage": "dismiss"}))
            assert [f["id"] for f in dismissed] == [fid] and dismissed[0]["triage"] == "dismiss"
            bad = await client.call_tool("triage", {"run_id": "one", "finding_ids": ["F-999"], "label": "accept"})
            assert "no finding F-999" in error_text(bad)
            assert "not a run id" in error_text(await client.call_tool("findings", {"run_id": "../one"}))
            # a client names library personas only, never a file on this machine
            leak = await client.call_tool("estimate", {"target": str(EXAMPLE), "persona": [str(EXAMPLE)]})
            assert "pattern" in error_text(leak)

    anyio.run(main)
    assert progress, "progress notifications arrived"
    steps = [p for p, _, _ in progress]
    assert steps == sorted(set(steps)) and steps[-1] == CALLS
    assert all(total is not None and total >= p for p, total, _ in progress)


def test_text_target_review(tmp_path: Path) -> None:
    async def main() -> dict[str, Any]:
        async with Client(server(tmp_path / "runs")) as client:
            est = data(await client.call_tool("estimate", {"text": "x = 1\n", "filename": "a.py"}))
            assert est["calls"] > 0 and not (tmp_path / "runs").exists(), "an estimate writes nothing"
            return data(await client.call_tool("review", {
                "text": "def div(a, b):\n    return a / b\n", "filename": "calc.py", "workflow": "single"},
                read_timeout_seconds=TIMEOUT))

    res = anyio.run(main)
    assert res["complete"] and (Path(res["run_dir"]) / "report.json").exists()


def test_cancelled_review_stops_serves_others_and_resumes(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    run_dir = runs / "slow"
    seen: list[float] = []

    async def main() -> dict[str, Any]:
        async with Client(server(runs)) as client:
            started = anyio.Event()

            async def on_progress(p: float, total: float | None, message: str | None) -> None:
                seen.append(p)
                if p >= 3:
                    started.set()

            async def slow_review() -> None:
                await client.call_tool("review", {"target": str(EXAMPLE), **PANEL, "model": "fake:250",
                                                  "concurrency": 1, "run_id": "slow"},
                                       read_timeout_seconds=TIMEOUT, progress_callback=on_progress)
                raise AssertionError("the review finished before it was cancelled")

            async with anyio.create_task_group() as tg:
                tg.start_soon(slow_review)
                with anyio.fail_after(TIMEOUT):
                    await started.wait()
                # the protocol is not blocked while the review runs
                with anyio.fail_after(5):
                    est = data(await client.call_tool("estimate", {"target": str(EXAMPLE), **PANEL}))
                assert est["calls"] >= CALLS
                tg.cancel_scope.cancel()  # the client sends notifications/cancelled for the review

            with anyio.fail_after(TIMEOUT):  # the server stopped the run and released it
                while (run_dir / "run.lock").exists() and locked(run_dir / "run.lock"):
                    await anyio.sleep(0.05)
            await anyio.sleep(1.0)  # a run that kept going would add ledger lines now
            stopped = sum(ok_counts(run_dir).values())
            assert 3 <= stopped < CALLS and not (run_dir / "report.json").exists()
            return data(await client.call_tool("resume", {"run_id": "slow"}, read_timeout_seconds=TIMEOUT))

    res = anyio.run(main)
    assert res["complete"] and res["findings_total"] >= 1
    counts = ok_counts(run_dir)
    assert max(counts.values()) == 1, "no finished call was made again"
    assert sum(counts.values()) == CALLS

