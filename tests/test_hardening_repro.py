"""A fake run is reproducible from its run.yaml: the per-run nonce changes only the markers, not the answers."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from engine import api, runner
from tests.conftest import EXAMPLE


def run(out: Path, run_id: str, **options: object) -> Path:
    settings = api.build_settings(str(EXAMPLE), model="fake", run_id=run_id, **options)  # type: ignore[arg-type]
    prep = api.prepare(settings, out, check_providers=False)  # a fresh random nonce each time
    asyncio.run(api.execute(prep))
    return prep.run_dir


def findings(run_dir: Path) -> list[tuple[object, ...]]:
    data = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    return [(f["id"], f["title"], f["status"], f["scores"]["truth"], tuple(f["personas"])) for f in data["findings"]]


def test_two_runs_with_the_same_settings_give_the_same_report(tmp_path: Path) -> None:
    first = run(tmp_path, "a", seed=7, personas=3, k=1)
    settings, _, _, nonce = runner.load_run(first)
    again = run(tmp_path, "b", seed=settings.seed, personas=settings.personas, k=settings.k)
    assert runner.load_run(again)[3] != nonce
    assert findings(first) == findings(again) != []
