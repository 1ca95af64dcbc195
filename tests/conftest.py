"""Shared fixtures: no real model calls, a fake-model run helper, small git repos."""

from __future__ import annotations

import asyncio
import fcntl
import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

from engine import api
from engine.llm.gateway import ModelFactory
from engine.models import Report

FIXED_CLOCK = "2026-01-01T00:00:00+00:00"
FIXED_NONCE = "0123456789abcdef"


@pytest.fixture(autouse=True)
def _no_real_models(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test runs with real providers forbidden unless marked local_model."""
    if request.node.get_closest_marker("local_model") is None:
        monkeypatch.setenv("REBUTTAL_FORBID_REAL_MODELS", "1")
    monkeypatch.delenv("REBUTTAL_CONTEXT", raising=False)
    monkeypatch.setenv("REBUTTAL_CALIBRATION", "shipped")  # never a developer's own fitted calibration


EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "ratelimiter.py"


def load_benchmark(relative: str, name: str) -> ModuleType:
    """A script under benchmarks/ as a module, loaded once (benchmarks/ is not a package)."""
    if name not in sys.modules:
        path = Path(__file__).resolve().parent.parent / "benchmarks" / relative
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def run_fake(tmp_path: Path, target: Path | str = EXAMPLE, *, factory: ModelFactory | None = None,
             run_id: str = "test-run", **options: object) -> tuple[Path, Report]:
    """Run a review with the fake model, a fixed run id, nonce and clock; return (run_dir, report)."""
    options.setdefault("model", "fake")
    settings = api.build_settings(str(target), run_id=run_id, **options)  # type: ignore[arg-type]
    settings = settings.model_copy(update={"created": FIXED_CLOCK})
    prep = api.prepare(settings, tmp_path / "runs", check_providers=False, nonce=FIXED_NONCE)
    report = asyncio.run(api.execute(prep, factory=factory, clock=lambda: FIXED_CLOCK))
    return prep.run_dir, report


@pytest.fixture
def example() -> Path:
    return EXAMPLE


@pytest.fixture
def small_py(tmp_path: Path) -> Path:
    path = tmp_path / "calc.py"
    path.write_text(
        "def divide(a, b):\n"
        "    return a / b  # no zero check at all here\n"
        "\n"
        "def parse(text):\n"
        "    return eval(text)  # evaluates untrusted input\n",
        encoding="utf-8",
    )
    return path


def locked(path: Path) -> bool:
    """Whether another process holds the flock on `path` (a run's run.lock)."""
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False
