"""The MCP server's pure parts: run ids, artifact confinement, finding filters; and HTTP on loopback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import anyio
import pytest
from mcp import Client

from engine.errors import ConfigError
from engine.mcp_tools import artifact_path, filter_findings, list_artifacts, matches_file, run_dir_of
from tests.test_report_ci import finding, report_of

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    run = tmp_path / "runs" / "r1"
    (run / "reviews").mkdir(parents=True)
    (run / "run.yaml").write_text("run_id: r1\n")
    (run / "reviews" / "a-review.md").write_text("# review\n")
    (run / "checkpoint.sqlite").write_bytes(b"SQLite")
    (tmp_path / "outside.md").write_text("secret\n")
    (run / "link.md").symlink_to(tmp_path / "outside.md")
    (run / "reviews" / "inner-link.md").symlink_to(run / "reviews" / "a-review.md")
    return run


@pytest.mark.parametrize(("relative", "ok"), [
    ("reviews/a-review.md", True),
    ("run.yaml", True),
    ("reviews/inner-link.md", True),  # a symlink that stays inside the run
    ("../outside.md", False),
    ("reviews/../../outside.md", False),
    ("/etc/passwd", False),
    ("C:/Windows/win.ini", False),
    ("link.md", False),  # a symlink out of the run
    ("checkpoint.sqlite", False),  # not a text artifact
    ("reviews/missing.md", False),
    ("", False),
    ("reviews\\..\\..\\outside.md", False),
])
def test_artifact_confinement(run_dir: Path, relative: str, ok: bool) -> None:
    if ok:
        assert artifact_path(run_dir, relative).is_file()
    else:
        with pytest.raises(ConfigError):
            artifact_path(run_dir, relative)


def test_listing_skips_links_out_and_binaries(run_dir: Path) -> None:
    assert list_artifacts(run_dir) == ["reviews/a-review.md", "run.yaml"]


@pytest.mark.parametrize(("run_id", "ok"), [("r1", True), ("../r1", False), ("r1/..", False), ("..", False),
                                            ("/tmp", False), ("nope", False), ("", False)])
def test_run_ids(run_dir: Path, run_id: str, ok: bool) -> None:
    if ok:
        assert run_dir_of(run_dir.parent, run_id) == run_dir
    else:
        with pytest.raises(ConfigError):
            run_dir_of(run_dir.parent, run_id)


@pytest.mark.parametrize(("path", "pattern", "ok"), [
    ("src/a.py", "src/a.py", True), ("./src/a.py", "src/a.py", True), ("src/a.py", "src/", True),
    ("src/a.py", "src", True), ("srcx/a.py", "src", False), ("src/a.py", "*.py", True),
    ("src/a.py", "src/*.js", False), (".github/x.yml", ".github/*", True),
])
def test_file_filter(path: str, pattern: str, ok: bool) -> None:
    assert matches_file(path, pattern) is ok


@pytest.mark.parametrize(("kw", "ids"), [
    ({}, ["F-001", "F-002", "F-003"]),
    ({"min_truth": 0.5}, ["F-001", "F-003"]),
    ({"min_usefulness": 0.5}, ["F-001", "F-002"]),
    ({"status": ["refuted"]}, ["F-003"]),
    ({"file": "pkg/other.py"}, ["F-002"]),
    ({"triage": "accept"}, ["F-001"]),
    ({"triage": "none"}, ["F-002", "F-003"]),
    ({"limit": 1}, ["F-001"]),
])
def test_filters(kw: dict, ids: list[str]) -> None:
    rep = report_of([finding(1, truth=0.9, usefulness=0.9), finding(2, truth=0.3, usefulness=0.6, file="pkg/other.py"),
                     finding(3, truth=0.6, usefulness=0.1, status="refuted")])
    got = filter_findings(rep, labels={"F-001": "accept"}, **kw)
    assert [f.id for f in got] == ids


@pytest.mark.parametrize("kw", [{"min_truth": 2.0}, {"status": ["maybe"]}, {"triage": "later"}, {"limit": 0}])
def test_bad_filters(kw: dict) -> None:
    with pytest.raises(ConfigError):
        filter_findings(report_of([]), **kw)


def test_streamable_http_on_loopback(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "REBUTTAL_FORBID_REAL_MODELS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "engine", "mcp", "--model", "fake", "--out", str(tmp_path / "runs"),
                             "--http-port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                time.sleep(0.1)

        async def main() -> set[str]:
            async with Client(f"http://127.0.0.1:{port}/mcp") as client:
                return {t.name for t in (await client.list_tools()).tools}

        assert "review" in anyio.run(main)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
