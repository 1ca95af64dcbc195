"""The pre-commit hook (.pre-commit-hooks.yaml) run by the real `pre-commit` tool in a temporary repository,
fake model: a staged change with a finding above the threshold blocks the commit, a clean one passes, and
the hook reviews what is staged, not the working tree. Also `--staged` ingest on its own."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from engine.errors import TargetError
from engine.target import ingest
from engine.target.gitsource import STAGED

ROOT = Path(__file__).resolve().parents[1]
RISKY = "def load(path):\n    return eval(open(path).read())  # whatever the file says, we run\n"
CLEAN = "x = 1\ny = 2\n"
GATE = "truth>=0.3"

pytestmark = pytest.mark.skipif(shutil.which("pre-commit") is None and not (Path(sys.executable).parent /
                                "pre-commit").exists(), reason="pre-commit is in the test extra")


def git(repo: Path, *args: str) -> str:
    cmd = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false", "-C", str(repo), *args]
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def make_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "work"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "app.py").write_text(CLEAN)
    (repo / ".gitignore").write_text(".rebuttal/\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "start")
    return repo


# -- --staged ingest ----------------------------------------------------------------------------------------------

def test_staged_ingest_reads_the_index_not_the_working_tree(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    (repo / "app.py").write_text(CLEAN + "z = 3\n")
    git(repo, "add", "app.py")
    (repo / "app.py").write_text(CLEAN + "z = 3\nunstaged = True\n")  # not staged: must not be seen
    (repo / "new.py").write_text("n = 1\n")
    git(repo, "add", "new.py")
    snap = ingest(str(repo), diff=STAGED)
    assert snap.kind == "diff" and snap.git and snap.git.diff_head == "index"
    files = {f.path: f for f in snap.files}
    assert files["app.py"].text == CLEAN + "z = 3\n" and files["app.py"].changed == [(3, 3)]
    assert files["new.py"].changed == [(1, 1)]
    assert sorted((c.status, c.path) for c in snap.changes) == [("added", "new.py"), ("modified", "app.py")]


def test_staged_ingest_with_nothing_staged_is_a_clear_error(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    (repo / "app.py").write_text("changed but not staged = 1\n")
    with pytest.raises(TargetError, match="no changes to review"):
        ingest(str(repo), diff=STAGED)


# -- the hook, run by pre-commit ----------------------------------------------------------------------------------

def hook_repo(tmp_path: Path) -> tuple[Path, str]:
    """A git repository holding this project's .pre-commit-hooks.yaml, as pre-commit clones it."""
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    shutil.copy(ROOT / ".pre-commit-hooks.yaml", hooks / ".pre-commit-hooks.yaml")
    git(hooks, "init", "-q", "-b", "main")
    git(hooks, "add", ".")
    git(hooks, "commit", "-qm", "hooks")
    return hooks, git(hooks, "rev-parse", "HEAD").strip()


def commit(repo: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    cmd = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false", "commit", "-m", "change"]
    return subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True, timeout=240)


def test_hook_blocks_a_risky_staged_change_and_passes_a_clean_one(tmp_path: Path) -> None:
    hooks, rev = hook_repo(tmp_path)
    repo = make_repo(tmp_path)
    (repo / ".pre-commit-config.yaml").write_text(
        f"repos:\n- repo: {hooks}\n  rev: {rev}\n  hooks:\n  - id: rebuttal\n"
        f"    args: [--model, fake, --persona, security-auditor, --persona, maintainer, -k, '1',\n"
        f"           --fail-on, '{GATE}']\n")
    git(repo, "add", ".pre-commit-config.yaml")
    git(repo, "commit", "-qm", "config", "--no-verify")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "REBUTTAL_FORBID_REAL_MODELS": "1",
           "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-cache"),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    subprocess.run([str(Path(sys.executable).parent / "pre-commit"), "install"], cwd=repo, env=env, check=True,
                   capture_output=True)
    head = git(repo, "rev-parse", "HEAD")

    (repo / "loader.py").write_text(RISKY)
    git(repo, "add", "loader.py")
    blocked = commit(repo, env)
    assert blocked.returncode != 0, blocked.stdout + blocked.stderr
    out = blocked.stdout + blocked.stderr
    assert "rebuttal" in out and "Failed" in out
    assert f"finding(s) match '{GATE}'" in out
    assert git(repo, "rev-parse", "HEAD") == head, "the commit was blocked"

    git(repo, "rm", "-q", "--cached", "loader.py")  # unstage it; it stays in the working tree, untracked
    (repo / "app.py").write_text(CLEAN + "z = 3\n")
    git(repo, "add", "app.py")
    passed = commit(repo, env)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "Passed" in passed.stdout + passed.stderr
    assert git(repo, "rev-parse", "HEAD") != head
    assert len(list((repo / ".rebuttal" / "runs").iterdir())) == 2, "both commits were reviewed"
