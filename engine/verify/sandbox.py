"""Run an untrusted command in a fresh temporary copy of the target: isolated, limited, cleaned up.

The copy holds the snapshot's text files (already redacted), never the user's tree. Each command runs
in a subprocess that a small launcher (`LAUNCHER`, run by this interpreter with `-I -S`) limits with
setrlimit (CPU, address space, file size, processes, open files, no core files), drops to the `nobody`
user when we are root (root ignores RLIMIT_NPROC), and then execs the isolation wrapper:

- `bwrap`: the whole filesystem read-only, a fresh empty /tmp, only the copy writable, new user, pid,
  network, ipc and uts namespaces, killed with its parent;
- `bwrap-root` (as root where the sandbox user may not create user namespaces): the same, bwrap run as root
  without a user namespace, the command dropped to `nobody` inside it by `setpriv`;
- `unshare`: new user, pid, mount and network namespaces (no network), but the filesystem is as the
  sandbox user sees it (writable where that user may write);
- `none` (only with --execute-unsafe-no-sandbox): limits and a clean environment, no isolation at all.

The environment is built from scratch (PATH, HOME and TMPDIR inside the copy, LANG); nothing of the
parent's is passed. Output goes to files the file-size limit caps. At the end the whole process group is
killed (the pid namespace takes any process that left it) and the copy is removed.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from engine.config import SandboxLimits
from engine.errors import ConfigError
from engine.paths import inside
from engine.target.snapshot import TargetSnapshot

Isolation = Literal["bwrap", "bwrap-root", "unshare", "none"]
SANDBOX_UID = 65534  # nobody: only when the engine runs as root
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"
UNSAFE_FLAG = "--execute-unsafe-no-sandbox"
PREFIX = "rebuttal-sandbox-"

# Runs as the first process of every sandboxed command: limits, user, then exec. Reads one JSON argument.
LAUNCHER = """
import json, os, resource, sys
spec = json.loads(sys.argv[1])
for name, value in spec["limits"].items():
    resource.setrlimit(getattr(resource, name), (value[0], value[1]))
if spec["uid"] is not None:
    os.setgroups([])
    os.setgid(spec["uid"])
    os.setuid(spec["uid"])
os.execv(spec["argv"][0], spec["argv"])
"""


@dataclass(frozen=True)
class RunResult:
    """What one sandboxed command did: exit status, limits hit, output (capped), time."""

    argv: list[str]
    exit_code: int | None  # None when killed by a signal
    signal: int | None
    timed_out: bool
    stdout: str
    stderr: str
    seconds: float
    isolation: Isolation

    def tail(self, lines: int = 40) -> str:
        """The last lines of stdout and stderr together (what the report and a repair prompt show)."""
        both = (self.stdout.rstrip() + "\n" + self.stderr.rstrip()).strip()
        return "\n".join(both.splitlines()[-lines:])


def drops_to_nobody() -> bool:
    """Whether sandboxed commands run as `nobody` (the engine runs as root, whom RLIMIT_NPROC does not bind)."""
    return hasattr(os, "geteuid") and os.geteuid() == 0


def usable_by_sandbox(path: str) -> bool:
    """Whether the sandbox user can execute `path` (every directory on its real path searchable by others)."""
    real = os.path.realpath(path)
    if not os.path.isfile(real):
        return False
    if not drops_to_nobody():
        return os.access(real, os.X_OK)
    parts = Path(real).parents
    if any(not (p.stat().st_mode & stat.S_IXOTH) for p in parts):
        return False
    mode = os.stat(real).st_mode
    return bool(mode & stat.S_IXOTH and mode & stat.S_IROTH)


@functools.lru_cache(maxsize=4)
def interpreter(language: str) -> str | None:
    """The Python or node binary the sandbox user can run (this interpreter first, then the system's)."""
    if language == "python":
        candidates = [sys.executable, *(shutil.which(n, path=SYSTEM_PATH) or "" for n in ("python3", "python"))]
    elif language == "javascript":
        candidates = [shutil.which("node") or "", shutil.which("node", path=SYSTEM_PATH) or ""]
    else:
        return None
    return next((c for c in candidates if c and usable_by_sandbox(c)), None)


def isolation_argv(isolation: Isolation, workdir: Path) -> list[str]:
    """The wrapper that isolates a command running in `workdir`."""
    w = str(workdir)
    mounts = ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
              "--bind", w, w, "--chdir", w]
    if isolation == "bwrap":
        return ["bwrap", *mounts, "--unshare-all", "--die-with-parent", "--"]
    if isolation == "bwrap-root":
        nobody = str(SANDBOX_UID)
        return ["bwrap", *mounts, "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
                "--unshare-cgroup-try", "--die-with-parent", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--",
                "setpriv", f"--reuid={nobody}", f"--regid={nobody}", "--clear-groups", "--inh-caps=-all",
                "--bounding-set=-all", "--"]
    if isolation == "unshare":
        return ["unshare", "--user", "--map-root-user", "--net", "--pid", "--mount", "--fork", "--kill-child",
                "--mount-proc", "--"]
    return []


def environment(workdir: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """A clean environment: nothing from the parent's, HOME and TMPDIR inside the copy."""
    env = {"PATH": SYSTEM_PATH, "HOME": str(workdir / ".home"), "TMPDIR": str(workdir / ".tmp"),
           "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
    return {**env, **(extra or {})}


def rlimits(limits: SandboxLimits, node: bool = False) -> dict[str, tuple[int, int]]:
    """setrlimit values for one command (V8 reserves address space up front: node gets 4 GiB more of it)."""
    mem = (limits.memory_mb + (4096 if node else 0)) << 20
    out = {"RLIMIT_CPU": (limits.cpu_s, limits.cpu_s + 1), "RLIMIT_AS": (mem, mem),
           "RLIMIT_FSIZE": (limits.file_mb << 20, limits.file_mb << 20), "RLIMIT_NOFILE": (256, 256),
           "RLIMIT_CORE": (0, 0)}
    if hasattr(os, "getuid"):
        nproc = limits.processes + (0 if drops_to_nobody() else processes_of(os.getuid()))
        out["RLIMIT_NPROC"] = (nproc, nproc)
    return out


def processes_of(uid: int) -> int:
    """How many processes a user has now (RLIMIT_NPROC counts them all, so the budget comes on top)."""
    n = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        line = next((ln for ln in text.splitlines() if ln.startswith("Uid:")), "")
        n += line.split()[1:2] == [str(uid)]
    return n


def _read_capped(path: Path, limit: int) -> str:
    size = path.stat().st_size
    with path.open("rb") as fh:
        if size > limit:
            fh.seek(size - limit)
        data = fh.read(limit)
    text = data.decode("utf-8", errors="replace")
    return f"[... {size - limit} bytes cut ...]\n{text}" if size > limit else text


def run(workdir: Path, argv: list[str], limits: SandboxLimits, isolation: Isolation,
        env: dict[str, str] | None = None, node: bool = False) -> RunResult:
    """Run argv in workdir under the isolation and limits; kill its process group at the end."""
    full = [*isolation_argv(isolation, workdir), *argv]
    exe = shutil.which(full[0], path=SYSTEM_PATH) if not os.path.isabs(full[0]) else full[0]
    if exe is None:
        raise ConfigError(f"sandbox: {full[0]} is not on {SYSTEM_PATH}")
    drop = drops_to_nobody() and isolation != "bwrap-root"  # bwrap-root drops inside, after its mounts
    spec = {"limits": rlimits(limits, node), "uid": SANDBOX_UID if drop else None,
            "argv": [exe, *full[1:]]}
    with tempfile.TemporaryDirectory(prefix="rebuttal-output-") as outdir:
        out_path, err_path = Path(outdir) / "stdout", Path(outdir) / "stderr"
        t0 = time.monotonic()
        with out_path.open("wb") as out, err_path.open("wb") as err:
            proc = subprocess.Popen([sys.executable, "-I", "-S", "-c", LAUNCHER, json.dumps(spec)], cwd=workdir,
                                    env=environment(workdir, env), stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                    start_new_session=True)
            timed_out = False
            try:
                proc.wait(timeout=limits.wall_s)
            except subprocess.TimeoutExpired:
                timed_out = True
            finally:
                kill_group(proc.pid)
                proc.wait()
        seconds = time.monotonic() - t0
        cap = limits.output_kb * 1024
        stdout, stderr = _read_capped(out_path, cap), _read_capped(err_path, cap)
    code = proc.returncode
    return RunResult(argv=argv, exit_code=code if code >= 0 else None, signal=-code if code < 0 else None,
                     timed_out=timed_out, stdout=stdout, stderr=stderr, seconds=round(seconds, 3), isolation=isolation)


def kill_group(pgid: int) -> None:
    """SIGKILL a whole process group; a group already gone is fine."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        return
    except PermissionError:  # a member changed user: only its wrapper's pid namespace can end it
        return


@functools.lru_cache(maxsize=1)
def probe() -> Isolation:
    """The strongest isolation that works here (its file lands in the copy, owned by the sandbox user), else none."""
    owner = SANDBOX_UID if drops_to_nobody() else os.getuid()
    for isolation in ("bwrap", *(["bwrap-root"] if drops_to_nobody() else []), "unshare"):
        if not shutil.which(isolation_argv(isolation, Path("/"))[0]):
            continue
        with workspace(None) as d:
            r = run(d, ["/bin/sh", "-c", "touch probe"], SandboxLimits(wall_s=20), isolation)  # type: ignore[arg-type]
            if r.exit_code == 0 and (d / "probe").exists() and (d / "probe").stat().st_uid == owner:
                return isolation  # type: ignore[return-value]
    return "none"


def require_isolation(unsafe: bool) -> Isolation:
    """The isolation to use for --execute; a one-line error when there is none and no unsafe opt-out."""
    isolation = probe()
    if isolation == "none" and not unsafe:
        raise ConfigError("--execute needs a sandbox (bubblewrap, or unshare with user namespaces) and none works "
                          f"here; install bubblewrap, or pass {UNSAFE_FLAG} to run model-written code unisolated")
    return isolation


def materialize(snapshot: TargetSnapshot, dest: Path) -> None:
    """Write the snapshot's (redacted) text files under dest; a path that would leave it is an error."""
    for f in snapshot.files:
        path = inside(dest, f.path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f.text, encoding="utf-8")


def hand_over(root: Path) -> None:
    """Give the copy to the sandbox user (nobody when we are root), with its HOME and TMPDIR folders."""
    for d in (root / ".home", root / ".tmp"):
        d.mkdir(exist_ok=True)
    if not drops_to_nobody():
        return
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            os.lchown(os.path.join(dirpath, name), SANDBOX_UID, SANDBOX_UID)
    os.chown(root, SANDBOX_UID, SANDBOX_UID)


def remove_tree(root: Path) -> None:
    """Delete a sandbox copy, whatever permissions the sandboxed code left on it."""
    def retry(func, path, exc):  # type: ignore[no-untyped-def]
        os.chmod(os.path.dirname(path), 0o700)
        if os.path.isdir(path) and not os.path.islink(path):
            os.chmod(path, 0o700)
            shutil.rmtree(path, onerror=retry)
        else:
            os.unlink(path)

    if os.path.lexists(root):
        shutil.rmtree(root, onerror=retry)


@contextmanager
def workspace(snapshot: TargetSnapshot | None, base: Path | None = None) -> Iterator[Path]:
    """A fresh temporary copy (of `base` when given, else of the snapshot), handed to the sandbox user, removed
    at the end."""
    root = Path(tempfile.mkdtemp(prefix=PREFIX))
    try:
        if base is not None:
            shutil.copytree(base, root, symlinks=True, dirs_exist_ok=True)
        elif snapshot is not None:
            materialize(snapshot, root)
        hand_over(root)
        yield root
    finally:
        remove_tree(root)
