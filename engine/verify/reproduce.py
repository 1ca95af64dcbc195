"""Reproducers (`--execute`): a verifier call writes a failing test for a finding, the sandbox runs it, a Check says.

`reproduce(ctx, subject)` is called by the verify stage only when `ctx.settings.execute` is true. One call
through the run's gateway writes the reproducer; it runs in a fresh sandboxed copy of the target
(engine/verify/sandbox.py); a broken one is repaired once with its error shown. The code, the command and the
tail of the output are written to `verifications/<id>-reproducer.py|.js`, the check to
`verifications/<id>-reproducer.json`, which a resumed run replays instead of asking or running again.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import re
import secrets
import shlex
import tempfile
import threading
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from engine import rundir
from engine.artifacts import render_template, write_atomic
from engine.context import RunContext
from engine.errors import ConfigError
from engine.rundir import RunDir
from engine.schemas import ReproducerOut
from engine.stages.common import excerpts, system_prompt, wrap
from engine.target.secrets import redact
from engine.target.snapshot import TargetSnapshot
from engine.verify import classify, sandbox
from engine.verify.checks import REPRODUCER_OUTCOMES, Check, Subject
from engine.verify.gather import module_name

# A reproducer is a short test: the 1.5B's measured 57-131 generated tokens (benchmarks/RESULTS.md §5), and one
# that ran on repeating itself to a 1,200 cap took 390 s. 600 leaves four times the longest seen.
STAGE, PERSONA, MAX_TOKENS = "reproducer", "verifier", 600
SCRIPTS = {"python": "_rebuttal_reproducer.py", "javascript": "_rebuttal_reproducer.js"}
EXTENSIONS = {"python": "py", "javascript": "js"}
RUNNER = "_rebuttal_runner.py"
CONFIG_FILE = ".rebuttal.yaml"
_RUN_LOCK = threading.Lock()  # one sandboxed command at a time: they share the CPU and the process budget
_SETUP_LOCK = threading.Lock()
_SLOTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()


def _slot() -> asyncio.Semaphore:
    """One sandbox run at a time per event loop, waited for here rather than in a worker thread."""
    loop = asyncio.get_running_loop()
    if loop not in _SLOTS:
        _SLOTS[loop] = asyncio.Semaphore(1)
    return _SLOTS[loop]


class ExecuteConfig(BaseModel):
    """The `execute:` section of a target's `.rebuttal.yaml`."""

    model_config = ConfigDict(extra="forbid")
    setup: str | None = None  # run once per run in the sandbox (network off) before any reproducer
    test_runner: Literal["python", "pytest"] = "python"


class RepoConfig(BaseModel):
    """A target's `.rebuttal.yaml`: other sections belong to other features."""

    model_config = ConfigDict(extra="allow")
    execute: ExecuteConfig = ExecuteConfig()


def repo_config(snapshot: TargetSnapshot) -> ExecuteConfig:
    """The target's `.rebuttal.yaml` execute section (parsed as data, never run); defaults when absent."""
    f = snapshot.file(CONFIG_FILE)
    if f is None:
        return ExecuteConfig()
    try:
        return RepoConfig.model_validate(yaml.safe_load(f.text) or {}).execute
    except yaml.YAMLError:
        raise ConfigError(f"{CONFIG_FILE}: invalid YAML") from None
    except ValidationError as exc:
        e = exc.errors()[0]
        raise ConfigError(f"{CONFIG_FILE}: field '{'.'.join(map(str, e['loc']))}': {e['msg']}") from None


def language_of(path: str) -> str | None:
    """python for .py; javascript for .js/.cjs when node is installed; else None (no reproducer)."""
    if path.endswith(".py"):
        return "python"
    if path.endswith((".js", ".cjs")) and sandbox.interpreter("javascript"):
        return "javascript"
    return None


@dataclass
class Setup:
    """The run's base copy of the target, after its setup command (made once per run and process)."""

    base: Path
    isolation: sandbox.Isolation
    config: ExecuteConfig
    log: str = ""


_SETUPS: dict[str, Setup] = {}


def prepared(ctx: RunContext) -> Setup:
    """The base copy for this run: materialised, set up by `.rebuttal.yaml`'s command once, removed at exit."""
    with _SETUP_LOCK:
        key = str(ctx.run_dir.resolve())
        if key in _SETUPS:
            return _SETUPS[key]
        isolation = sandbox.require_isolation(ctx.settings.execute_unsafe)
        config = repo_config(ctx.target)
        base = Path(tempfile.mkdtemp(prefix=sandbox.PREFIX + "base-"))
        atexit.register(sandbox.remove_tree, base)
        sandbox.materialize(ctx.target, base)
        setup = Setup(base, isolation, config)
        if config.setup:
            sandbox.hand_over(base)
            with _RUN_LOCK:
                r = sandbox.run(base, ["/bin/sh", "-c", config.setup], ctx.settings.sandbox, isolation)
            status = "timed out" if r.timed_out else f"exit code {r.exit_code}, signal {r.signal}"
            setup.log = f"$ {config.setup}\n# {status}, {r.seconds} s, isolation {isolation}\n{r.tail()}\n"
            write_atomic(ctx.run_dir, rundir.SETUP_LOG, redact(setup.log, "setup.log")[0])
        _SETUPS[key] = setup
        return setup


def finish(ctx: RunContext) -> None:
    """Remove this run's base copy now (the verify stage calls it when its reproducers are done; else at exit)."""
    with _SETUP_LOCK:
        setup = _SETUPS.pop(str(ctx.run_dir.resolve()), None)
    if setup is not None and setup.base.exists():
        sandbox.remove_tree(setup.base)


def command(language: str, runner: str, exe: str, marker: str, memory_mb: int) -> list[str]:
    """The argv that runs a reproducer inside the copy."""
    script = SCRIPTS[language]
    if language == "javascript":
        return [exe, f"--max-old-space-size={memory_mb}", script]
    if runner == "pytest":
        return [exe, "-s", "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "--tb=native", script]
    return [exe, "-I", RUNNER, script, marker]


def split_record(stdout: str, marker: str) -> tuple[dict[str, Any] | None, str]:
    """The runner's record (the last marked line) and the output without it."""
    record, kept = None, []
    for line in stdout.splitlines():
        if line.startswith(marker):
            try:
                record = json.loads(line[len(marker):])
            except ValueError:
                record = None
        else:
            kept.append(line)
    return record, "\n".join(kept)


def run_reproducer(setup: Setup, ctx: RunContext, language: str, code: str) -> dict[str, Any]:
    """Run one reproducer in a fresh copy of the base; the verdict and what to record (blocking)."""
    limits = ctx.settings.sandbox
    exe = sandbox.interpreter(language)
    if exe is None:
        v = classify.Verdict("broken_check", f"no {language} interpreter the sandbox user can run")
        return {"verdict": v, "command": "", "output": "", "result": None}
    marker = f"REBUTTAL-RESULT-{secrets.token_hex(8)} "
    argv = command(language, setup.config.test_runner, exe, marker, limits.memory_mb)
    targets = {f.path for f in ctx.target.files}
    with sandbox.workspace(None, base=setup.base) as root:
        (root / SCRIPTS[language]).write_text(code, encoding="utf-8")
        if language == "python":
            (root / RUNNER).write_text(Path(__file__).with_name("pyrunner.py").read_text(encoding="utf-8"))
        with _RUN_LOCK:
            paths = ":".join(str(root / p) for p in (".", "src", ".deps"))  # pytest only: the plain runner adds them
            r = sandbox.run(root, argv, limits, setup.isolation, env={"PYTHONPATH": paths},
                            node=language == "javascript")
        record, stdout = split_record(r.stdout, marker)
        output = (stdout.rstrip() + "\n" + r.stderr.rstrip()).strip()
        verdict = classify.limits_verdict(r.timed_out, limits.wall_s, r.exit_code, r.signal, output)
        if verdict is None and language == "javascript":
            verdict = classify.javascript_verdict(r.exit_code, output, code, targets)
        elif verdict is None:
            if setup.config.test_runner == "pytest":
                record = classify.pytest_record(r.exit_code, output, str(root))
            verdict = classify.python_verdict(record, r.exit_code, targets)
            if setup.config.test_runner == "pytest" and "No module named pytest" in output:
                verdict = classify.Verdict("broken_check", "test_runner is pytest and the sandbox's interpreter has "
                                           "no pytest", dependency="pytest")
        tail = "\n".join(output.replace(str(root) + "/", "").splitlines()[-40:])
    shown = " ".join(shlex.quote(a) for a in [Path(argv[0]).name, *argv[1:]] if a != marker)
    return {"verdict": verdict, "command": shown, "output": redact(tail, "output.txt")[0], "result": r}


async def ask_reproducer(ctx: RunContext, subject: Subject, language: str, previous: dict[str, Any] | None,
                         attempt: int) -> ReproducerOut:
    """One verifier call (through the gateway, replayed on resume) that writes the reproducer."""
    values = {"language": language, "subject": subject, "module": module_name(subject.file),
              "script": SCRIPTS[language], "previous": previous,
              "target": excerpts(ctx, [(subject.file, subject.line_start, subject.line_end)], around=80)}
    user = render_template("prompts/reproducer.md.j2", **values).strip()
    return await ctx.gateway.structured(
        stage=STAGE, persona=PERSONA, subject=subject.id if attempt == 1 else f"{subject.id}-repair",
        model=ctx.settings.judge_model, schema=ReproducerOut, system=system_prompt(ctx, None), user=user,
        max_tokens=MAX_TOKENS)


def stem(subject: Subject) -> str:
    """The artifact name of a subject's reproducer: `verifications/<id>-reproducer` (unsafe characters dashed)."""
    return RunDir.reproducer_stem(subject.id)


def stored(ctx: RunContext, subject: Subject) -> list[Check] | None:
    """The checks of a reproducer that already finished in this run directory (resume replays them)."""
    path = ctx.run_dir / f"{stem(subject)}.json"
    if not path.exists():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    return [Check.model_validate(c) for c in data["checks"]]


async def reproduce(ctx: RunContext, subject: Subject) -> list[Check]:
    """Write, run and classify a reproducer for one finding on a Python (or JavaScript) file."""
    if not ctx.settings.execute:  # off means off, whoever calls this
        return []
    language = language_of(subject.file)
    if language is None or ctx.target.file(subject.file) is None:
        return []
    if (done := stored(ctx, subject)) is not None:
        return done
    async with _slot():
        setup = await asyncio.to_thread(prepared, ctx)
    out = await ask_reproducer(ctx, subject, language, None, 1)
    async with _slot():
        run = await asyncio.to_thread(run_reproducer, setup, ctx, language, out.code)
    attempts, first = 1, None
    if run["verdict"].repairable:
        first = run["verdict"].reason
        block = wrap(ctx, f"Code:\n{out.code}\n\nOutput:\n{run['output']}")
        out = await ask_reproducer(ctx, subject, language, {"reason": run["verdict"].reason, "block": block}, 2)
        async with _slot():
            run = await asyncio.to_thread(run_reproducer, setup, ctx, language, out.code)
        attempts = 2
    return [record(ctx, subject, language, out, run, attempts, setup, first)]


async def attach(ctx: RunContext, subject: Subject, code: str, expectation: str) -> Check | None:
    """Run a reproducer a responder attached to a point (no repair: the responder had its one try); its check.

    None when `--execute` is off (off means off) or the file has no sandboxed language.
    """
    if not ctx.settings.execute:
        return None
    language = language_of(subject.file)
    if language is None or ctx.target.file(subject.file) is None:
        return None
    if (done := stored(ctx, subject)) is not None:
        return done[0]
    async with _slot():
        setup = await asyncio.to_thread(prepared, ctx)
        run = await asyncio.to_thread(run_reproducer, setup, ctx, language, code)
    return record(ctx, subject, language, ReproducerOut(expectation=expectation[:200], code=code), run, 1, setup)


def record(ctx: RunContext, subject: Subject, language: str, out: ReproducerOut, run: dict[str, Any],
           attempts: int, setup: Setup, first: str | None = None) -> Check:
    """Write the reproducer artifact and its replayable check; return the check."""
    v: classify.Verdict = run["verdict"]
    r: sandbox.RunResult | None = run["result"]
    rel, rel_json = f"{stem(subject)}.{EXTENSIONS[language]}", f"{stem(subject)}.json"
    comment = "#" if language == "python" else "//"
    text = render_template("artifacts/reproducer.j2", comment=comment, subject=subject, out=out, verdict=v, run=run,
                           attempts=attempts, isolation=setup.isolation, limits=ctx.settings.sandbox)
    write_atomic(ctx.run_dir, rel, text, durable=False)
    data: dict[str, Any] = {
        "classification": v.classification, "reason": v.reason, "language": language,
        "expectation": out.expectation, "command": run["command"], "attempts": attempts,
        "repaired": attempts > 1, "isolation": setup.isolation, "path": rel, "record": rel_json,
        "exit_code": r.exit_code if r else None, "signal": r.signal if r else None,
        "seconds": r.seconds if r else None, "limit": v.limit, "dependency": v.dependency,
        "output_tail": run["output"],
    }
    if v.classification == "not_reproduced":
        data["weak"] = True  # a passing test refutes only what it tested
    if first:
        data["first_attempt"] = first  # why the first reproducer was broken (it was repaired once)
    if setup.log:
        data["setup"] = rundir.SETUP_LOG
    detail = f"{v.classification.replace('_', ' ')}: {v.reason}"
    outcome = REPRODUCER_OUTCOMES[v.classification]
    check = Check(kind="reproducer", outcome=outcome, detail=re.sub(r"\s+", " ", detail), data=data)  # type: ignore[arg-type]
    write_atomic(ctx.run_dir, rel_json, json.dumps({"checks": [check.model_dump()]}, indent=2) + "\n")
    return check
