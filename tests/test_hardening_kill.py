"""kill -9 at any instant repeats no finished (paid) call: no call id gets two `ok` ledger lines after resume."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import pytest

from engine import api
from engine.llm.fake import FakeChatModel
from tests.test_resume import interrupt_after, ok_counts, review

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


@pytest.mark.parametrize("after", [2, 5, 9])
def test_kill_9_as_soon_as_the_ledger_has_n_lines_repeats_no_call(tmp_path: Path, after: int) -> None:
    run_dir = tmp_path / "runs" / "killed"
    code, _ = interrupt_after(
        review(tmp_path, "killed", concurrency=3, latency_ms=60), run_dir / "ledger.jsonl", after, signal.SIGKILL
    )
    assert code == -signal.SIGKILL
    report = asyncio.run(api.resume(run_dir, factory=lambda name, mt: FakeChatModel()))
    assert report.complete
    counts = ok_counts(run_dir)
    assert max(counts.values()) == 1, {k: n for k, n in counts.items() if n > 1}
