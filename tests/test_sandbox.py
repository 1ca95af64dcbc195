"""Hostile targets under --execute: every one is stopped or contained, classified and reported (fake model)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import tempfile
import time
from pathlib import Path

import pytest

from engine import api, runner
from engine.config import SandboxLimits
from engine.context import Progress, RunContext
from engine.errors import ConfigError
from engine.llm.gateway import Gateway
from engine.verify import reproduce as rep
from engine.verify import sandbox
from engine.verify.checks import Check, Subject

ISOLATED = sandbox.probe() != "none"
needs_isolation = pytest.mark.skipif(not ISOLATED, reason="no sandbox works here (install bubblewrap, allow user "
                                                          "namespaces); .ci/run installs bubblewrap")
# Small limits so the suite stays fast on a 2-core machine.
LIMITS = SandboxLimits(wall_s=5, cpu_s=3, memory_mb=96, file_mb=2, processes=16)


def make_ctx(tmp_path: Path, files: dict[str, str], limits: SandboxLimits = LIMITS) -> RunContext:
    """A run directory for a folder target holding `files`, and the RunContext the verify stage would pass."""
    src = tmp_path / "src"
    for name, text in files.items():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_text(text, encoding="utf-8")
    settings = api.build_settings(str(src), model="fake", run_id="sandbox-run", execute=True)
    settings = settings.model_copy(update={"sandbox": limits})
    prep = api.prepare(settings, tmp_path / "runs", check_providers=False)
    gateway = Gateway(run_dir=prep.run_dir, settings=prep.settings, factory=runner.default_factory(prep.settings))
    return RunContext(settings=prep.settings, workflow=prep.workflow, target=prep.target, run_dir=prep.run_dir,
                      gateway=gateway, nonce=prep.nonce, progress=Progress(), clock=lambda: "2026-01-01T00:00:00")


def subject(file: str, line: int, evidence: str, sid: str = "F-001") -> Subject:
    return Subject(id=sid, title="Defect in the target", file=file, line_start=line, line_end=line, evidence=evidence)


def check_of(ctx: RunContext, subj: Subject) -> Check:
    checks = asyncio.run(rep.reproduce(ctx, subj))
    assert len(checks) == 1 and checks[0].kind == "reproducer"
    c = checks[0]
    assert (ctx.run_dir / c.data["path"]).exists() and (ctx.run_dir / c.data["record"]).exists()
    return c


def run_dir_text(run_dir: Path) -> str:
    return "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in run_dir.rglob("*") if p.is_file())


def no_sandbox_leftovers() -> bool:
    return not [p for p in Path(os.path.realpath("/tmp")).glob(sandbox.PREFIX + "[!b]*")]


@needs_isolation
def test_reproduced_not_reproduced_and_repaired(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, {"calc.py": "def add(a, b):\n    return a - b  # expect: add(2, 3) == 5\n\n"
                                         "def sub(a, b):\n    return a - b  # expect: sub(3, 2) == 1\n\n"
                                         "def neg(a):\n    return -a  # expect: nosuch(1) == -1\n"})
    bug = check_of(ctx, subject("calc.py", 2, "return a - b  # expect: add(2, 3) == 5"))
    assert (bug.outcome, bug.data["classification"], bug.data["attempts"]) == ("supports", "reproduced", 1)
    assert "AssertionError" in bug.data["output_tail"]
    ok = check_of(ctx, subject("calc.py", 5, "return a - b  # expect: sub(3, 2) == 1", "F-002"))
    assert (ok.outcome, ok.data["classification"], ok.data["weak"]) == ("refutes", "not_reproduced", True)
    broken = check_of(ctx, subject("calc.py", 8, "return -a  # expect: nosuch(1) == -1", "F-003"))
    assert broken.data["repaired"] and "does not exist" in broken.data["first_attempt"]
    text = (ctx.run_dir / "verifications/F-001-reproducer.py").read_text()
    assert "# Result: reproduced" in text and "assert add(2, 3) == 5" in text and "# Command: python" in text


@needs_isolation
def test_a_finished_reproducer_is_replayed_not_rerun(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ctx = make_ctx(tmp_path, {"calc.py": "def add(a, b):\n    return a - b  # expect: add(2, 3) == 5\n"})
    subj = subject("calc.py", 2, "return a - b  # expect: add(2, 3) == 5")
    first = check_of(ctx, subj)
    calls = (ctx.run_dir / "ledger.jsonl").read_text().count("\n")

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a finished reproducer ran again")

    monkeypatch.setattr(sandbox, "run", refuse)
    again = asyncio.run(rep.reproduce(ctx, subj))
    assert again == [first]
    assert (ctx.run_dir / "ledger.jsonl").read_text().count("\n") == calls


@needs_isolation
def test_no_network_the_listener_gets_no_connection(tmp_path: Path) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        listener.settimeout(0.5)
        port = listener.getsockname()[1]
        code = (f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2).sendall(b'leak')\n"
                "\ndef f():\n    return 1  # expect: f() == 2\n")
        ctx = make_ctx(tmp_path, {"net.py": code})
        c = check_of(ctx, subject("net.py", 5, "return 1  # expect: f() == 2"))
        with pytest.raises(TimeoutError):
            listener.accept()
    assert c.outcome == "inconclusive" and c.data["classification"] == "broken_check"
    assert "ConnectionRefusedError" in c.detail or "OSError" in c.detail or "unreachable" in c.detail


@needs_isolation
def test_writes_outside_the_copy_do_not_land(tmp_path: Path) -> None:
    canaries = [tmp_path / "canary.txt", tmp_path / "src" / "canary.txt", tmp_path / "runs" / "canary.txt"]
    open_dir = Path(tempfile.mkdtemp(prefix="rebuttal-canary-"))  # world-writable, like /tmp itself
    open_dir.chmod(0o777)
    if sandbox.probe().startswith("bwrap"):  # unshare leaves the filesystem writable where the sandbox user may write
        canaries.append(open_dir / "canary.txt")
    body = "".join(f"try:\n    open({str(p)!r}, 'w').write('x')\nexcept OSError:\n    pass\n" for p in canaries)
    ctx = make_ctx(tmp_path, {"w.py": body + "\ndef f():\n    return 1  # expect: f() == 2\n"})
    try:
        c = check_of(ctx, subject("w.py", 1, "return 1  # expect: f() == 2"))
        assert c.data["classification"] == "reproduced"  # the target ran; its writes went nowhere
        assert not [p for p in canaries if p.exists()]
    finally:
        shutil.rmtree(open_dir)
    assert no_sandbox_leftovers()


@needs_isolation
def test_environment_has_no_parent_variables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "planted-7f3a9c1e5b"
    monkeypatch.setenv("REBUTTAL_PLANTED_TOKEN", secret)
    ctx = make_ctx(tmp_path, {"env.py": "import os\nprint('token:', os.environ.get('REBUTTAL_PLANTED_TOKEN'))\n"
                                        "print(sorted(os.environ))\n\ndef f():\n    return 1  # expect: f() == 2\n"})
    c = check_of(ctx, subject("env.py", 6, "return 1  # expect: f() == 2"))
    assert "token: None" in c.data["output_tail"]
    assert secret not in run_dir_text(ctx.run_dir)


@needs_isolation
def test_fork_loop_is_stopped_and_no_process_survives(tmp_path: Path) -> None:
    tag = "31.4159"
    ctx = make_ctx(tmp_path, {"fork.py": "import os\nwhile True:\n    if os.fork() == 0:\n"
                                         f"        os.execv('/bin/sleep', ['sleep', '{tag}'])\n"
                                         "\ndef f():\n    return 1  # expect: f() == 2\n"})
    t0 = time.monotonic()
    c = check_of(ctx, subject("fork.py", 7, "return 1  # expect: f() == 2"))
    assert time.monotonic() - t0 < 4 * LIMITS.wall_s
    assert c.outcome == "inconclusive" and c.data["classification"] == "broken_check"
    assert "BlockingIOError" in c.detail or "Resource temporarily unavailable" in c.detail
    time.sleep(0.2)
    sleepers = [p for p in Path("/proc").glob("[0-9]*/cmdline") if _cmdline(p) == f"sleep\0{tag}\0"]
    assert not sleepers


def _cmdline(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


@needs_isolation
def test_unbounded_allocation_hits_the_memory_limit(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, {"mem.py": "blocks = []\nwhile True:\n    blocks.append(bytearray(1 << 20))\n"
                                        "\ndef f():\n    return 1  # expect: f() == 2\n"})
    c = check_of(ctx, subject("mem.py", 6, "return 1  # expect: f() == 2"))
    assert (c.outcome, c.data["classification"], c.data["limit"]) == ("inconclusive", "broken_check", "memory")


@needs_isolation
def test_sleeping_forever_is_a_timeout(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, {"slow.py": "import time\nwhile True:\n    time.sleep(1)\n"
                                         "\ndef f():\n    return 1  # expect: f() == 2\n"})
    t0 = time.monotonic()
    c = check_of(ctx, subject("slow.py", 6, "return 1  # expect: f() == 2"))
    assert time.monotonic() - t0 < 2 * LIMITS.wall_s
    assert (c.outcome, c.data["classification"], c.data["limit"]) == ("inconclusive", "timeout", "wall")
    assert c.data["attempts"] == 1  # a timeout is not repaired
    assert no_sandbox_leftovers()


@needs_isolation
def test_missing_dependency_is_a_broken_check_naming_it(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, {"dep.py": "import notinstalled_pkg_xyz\n\ndef f():\n    return 1  # expect: f() == 2\n"})
    c = check_of(ctx, subject("dep.py", 4, "return 1  # expect: f() == 2"))
    assert c.data["classification"] == "broken_check" and c.data["dependency"] == "notinstalled_pkg_xyz"
    assert c.data["attempts"] == 1  # a repair cannot install a package


@needs_isolation
def test_setup_command_runs_once_in_the_sandbox(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, {
        ".rebuttal.yaml": "execute:\n  setup: \"echo built > built.txt; echo ran >> /tmp/setup-ran\"\n",
        "b.py": "def built():\n    return open('built.txt').read().strip()  # expect: built() == 'nope'\n"})
    c = check_of(ctx, subject("b.py", 2, "return open('built.txt').read().strip()  # expect: built() == 'nope'"))
    assert c.data["classification"] == "reproduced" and c.data["setup"] == "verifications/setup.log"
    assert "echo built" in (ctx.run_dir / "verifications/setup.log").read_text()
    assert not (tmp_path / "src" / "built.txt").exists()


@needs_isolation
def test_pytest_runner_runs_the_reproducer_or_names_pytest_missing(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, {".rebuttal.yaml": "execute:\n  test_runner: pytest\n",
                              "calc.py": "def add(a, b):\n    return a - b  # expect: add(2, 3) == 5\n"})
    c = check_of(ctx, subject("calc.py", 2, "return a - b  # expect: add(2, 3) == 5"))
    assert "pytest" in c.data["command"]
    if c.data["dependency"] == "pytest":  # the sandbox's interpreter has no pytest (the system Python, as root)
        assert c.data["classification"] == "broken_check" and c.data["attempts"] == 1
    else:
        assert c.data["classification"] == "reproduced", c.data


@pytest.mark.skipif(sandbox.interpreter("javascript") is None or not ISOLATED, reason="needs node and a sandbox")
def test_javascript_reproducer(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, {"add.js": "exports.add = (a, b) => a - b;  // expect: target.add(2, 3) === 5\n"})
    c = check_of(ctx, subject("add.js", 1, "exports.add = (a, b) => a - b;  // expect: target.add(2, 3) === 5"))
    assert (c.outcome, c.data["classification"]) == ("supports", "reproduced")
    assert (ctx.run_dir / "verifications/F-001-reproducer.js").exists()


def test_other_languages_and_execute_off_get_no_reproducer(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, {"notes.md": "# notes\n", "calc.py": "x = 1  # expect: x == 2\n"})
    assert asyncio.run(rep.reproduce(ctx, subject("notes.md", 1, "# notes"))) == []
    assert asyncio.run(rep.reproduce(ctx, subject("gone.py", 1, "x = 1"))) == []
    ctx.settings = ctx.settings.model_copy(update={"execute": False})
    assert asyncio.run(rep.reproduce(ctx, subject("calc.py", 1, "x = 1  # expect: x == 2"))) == []
    assert not (ctx.run_dir / "verifications").exists()


def test_execute_is_refused_without_a_sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox, "probe", lambda: "none")
    (tmp_path / "a.py").write_text("x = 1\n")
    settings = api.build_settings(str(tmp_path / "a.py"), model="fake", execute=True)
    with pytest.raises(ConfigError, match="--execute-unsafe-no-sandbox"):
        api.prepare(settings, tmp_path / "runs", check_providers=False)
    assert not (tmp_path / "runs").exists()
    unsafe = api.build_settings(str(tmp_path / "a.py"), model="fake", execute_unsafe=True)
    assert unsafe.execute and unsafe.execute_unsafe
    api.prepare(unsafe, tmp_path / "runs", check_providers=False)


def test_bad_rebuttal_yaml_is_a_one_line_error(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, {".rebuttal.yaml": "execute:\n  setpu: make\n", "a.py": "x = 1\n"})
    with pytest.raises(ConfigError, match=r"\.rebuttal\.yaml: field 'execute.setpu'"):
        rep.repo_config(ctx.target)


def test_stored_record_is_json_with_checks(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, {"a.py": "x = 1\n"})
    (ctx.run_dir / "verifications").mkdir()
    check = Check(kind="reproducer", outcome="supports", detail="d", data={"classification": "reproduced"})
    (ctx.run_dir / "verifications/F-009-reproducer.json").write_text(json.dumps({"checks": [check.model_dump()]}))
    assert rep.stored(ctx, subject("a.py", 1, "x = 1", "F-009")) == [check]
