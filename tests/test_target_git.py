"""Ingest of git repositories and diffs, on real repos built in tmp_path."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from engine.errors import TargetError
from engine.target import ingest


@pytest.fixture(autouse=True)
def _isolated_git(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", "/dev/null")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True)
    return done.stdout.strip()


def write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def commit(root: Path, message: str) -> str:
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)
    return git(root, "rev-parse", "HEAD")


def make_repo(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.name", "Test")
    git(root, "config", "user.email", "test@example.com")
    git(root, "config", "commit.gpgsign", "false")
    return root


def numbered(n: int, tag: str = "line") -> str:
    return "".join(f"{tag} {i}\n" for i in range(1, n + 1))


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """main: app.py (40 lines), util.py, old.py, docs/guide.md, .gitignore; feature branch."""
    root = make_repo(tmp_path / "repo")
    write(root, "app.py", numbered(40))
    write(root, "util.py", "def helper():\n    return 1\n")
    write(root, "old.py", "gone = True\n")
    write(root, "moved_from.py", numbered(20, "stay"))
    write(root, "docs/guide.md", "# Guide\n\n## Install\n")
    write(root, "vendor/lib/a.py", "a = 1\n")
    write(root, "vendor/lib/b.py", "b = 1\n")
    write(root, ".gitignore", "*.log\nbuild-out/\n")
    commit(root, "base")
    git(root, "checkout", "-q", "-b", "feature")
    text = numbered(40).replace("line 5\n", "line 5 changed\n").replace("line 30\n", "")
    write(root, "app.py", text + "line 41 added\n")
    write(root, "new.py", "def fresh():\n    return 2\n")
    (root / "old.py").unlink()
    git(root, "mv", "moved_from.py", "moved_to.py")
    commit(root, "feature work")
    git(root, "checkout", "-q", "main")
    return root


def test_git_repo_tracked_files_only_and_metadata(repo: Path) -> None:
    write(repo, "debug.log", "ignored by .gitignore\n")
    write(repo, "build-out/x.py", "ignored folder\n")
    write(repo, "scratch.py", "untracked = 1\n")
    write(repo, "util.py", "def helper():\n    return 42  # uncommitted\n")
    snap = ingest(repo)
    assert snap.kind == "git"
    paths = [f.path for f in snap.files]
    assert paths == [".gitignore", "app.py", "docs/guide.md", "moved_from.py", "old.py", "util.py"]
    util = snap.file("util.py")
    assert util is not None and "uncommitted" in util.text
    reasons = {s.path: s.reason for s in snap.skipped}
    assert reasons["scratch.py"].startswith("untracked")
    assert reasons["vendor/"] == "vendored dependencies folder (2 files)"
    assert "debug.log" not in reasons and not any(p.startswith("build-out") for p in reasons)
    assert snap.git is not None
    assert snap.git.commit == git(repo, "rev-parse", "HEAD")
    assert snap.git.branch == "main"
    assert snap.git.dirty and not snap.git.detached and not snap.git.shallow


def test_subfolder_of_a_repo_has_paths_relative_to_it(repo: Path) -> None:
    snap = ingest(repo / "docs")
    assert snap.kind == "git" and snap.name == "docs"
    assert [f.path for f in snap.files] == ["guide.md"]
    assert snap.git is not None and snap.git.branch == "main"


def test_detached_head(repo: Path) -> None:
    git(repo, "checkout", "-q", "--detach", "feature")
    snap = ingest(repo)
    assert snap.git is not None
    assert snap.git.detached and snap.git.branch is None
    assert snap.git.commit == git(repo, "rev-parse", "feature")
    assert snap.file("new.py") is not None


def test_repo_without_commits_lists_staged_files(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "fresh")
    write(root, "a.py", "a = 1\n")
    git(root, "add", "a.py")
    snap = ingest(root)
    assert snap.kind == "git" and [f.path for f in snap.files] == ["a.py"]
    assert snap.git is not None and snap.git.commit is None
    with pytest.raises(TargetError, match="needs a commit"):
        ingest(root, diff="main")


def test_shallow_clone(repo: Path, tmp_path: Path) -> None:
    git(repo, "checkout", "-q", "feature")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{repo}", str(clone))
    snap = ingest(clone)
    assert snap.git is not None and snap.git.shallow
    assert snap.file("new.py") is not None
    with pytest.raises(TargetError, match="unknown revision 'HEAD~1'.*shallow clone"):
        ingest(clone, diff="HEAD~1..HEAD")


def test_diff_commit_range(repo: Path) -> None:
    snap = ingest(repo, diff="main..feature")
    assert snap.kind == "diff"
    assert snap.git is not None and snap.git.diff_range == "main..feature"
    assert snap.git.diff_base == git(repo, "rev-parse", "main")
    assert snap.git.diff_head == git(repo, "rev-parse", "feature")
    changes = {(c.status, c.path, c.old_path) for c in snap.changes}
    assert changes == {
        ("modified", "app.py", None),
        ("added", "new.py", None),
        ("deleted", "old.py", None),
        ("renamed", "moved_to.py", "moved_from.py"),
    }
    app = snap.file("app.py")
    assert app is not None and app.changed == [(5, 5), (29, 29), (40, 40)]
    assert app.lines[4] == "line 5 changed"  # the new version, from the commit
    new = snap.file("new.py")
    assert new is not None and new.changed == [(1, 2)]
    assert snap.file("old.py") is None and snap.file("util.py") is None
    assert {"util.py", "docs/guide.md", "app.py"} <= {e.path for e in snap.file_map}

    view = snap.view()
    text = view.text
    assert text.startswith("=== CHANGES: main..feature ===\nmodified app.py\n")
    assert "renamed moved_from.py -> moved_to.py" in text and "deleted old.py" in text
    assert "=== MAP ===" in text and "util.py (2 lines): helper" in text
    assert "=== FILE: app.py (lines 1-40) ===" in text  # 5±10, 29±10 and 40±10 merge
    assert "\n 5| line 5 changed\n" in text
    assert "\n29| line 29\n30| line 31\n" in text  # real new-file numbers past the deletion
    assert "=== FILE: new.py (lines 1-2) ===\n1| def fresh():" in text
    assert "moved_to.py (lines" not in text  # a pure rename has no hunk to show
    assert view.included == ["app.py", "new.py"]


def test_diff_context_and_gaps(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "r")
    write(root, "big.py", numbered(100))
    commit(root, "base")
    write(
        root,
        "big.py",
        numbered(100).replace("line 3\n", "THREE\n").replace("line 80\n", "EIGHTY\n"),
    )
    snap = ingest(root, diff="HEAD")
    text = snap.view().text
    block = text[text.index("=== FILE: big.py") :].split("\n")
    assert block[0] == "=== FILE: big.py (lines 1-90) ==="
    assert block[1] == " 1| line 1" and block[3] == " 3| THREE"
    assert block[13:16] == ["13| line 13", "...", "70| line 70"]
    assert block[-1] == "90| line 90"


def test_diff_single_ref_uses_merge_base_and_working_tree(repo: Path) -> None:
    git(repo, "checkout", "-q", "main")
    write(repo, "util.py", "def helper():\n    return 3\n")
    commit(repo, "main moves on")
    git(repo, "checkout", "-q", "feature")
    write(repo, "new.py", "def fresh():\n    return 2\n\n\ndef wip():\n    pass\n")  # uncommitted
    snap = ingest(repo, diff="main")
    paths = {c.path for c in snap.changes}
    assert "util.py" not in paths  # main's own later commit is not part of the branch
    assert {"app.py", "new.py", "old.py", "moved_to.py"} == paths
    new = snap.file("new.py")
    assert new is not None and "def wip" in new.text
    assert snap.git is not None and snap.git.diff_head == "worktree"
    assert snap.git.diff_base == git(repo, "merge-base", "main", "feature")
    three_dot = ingest(repo, diff="main...feature")
    assert {c.path for c in three_dot.changes} == paths
    two_dot = ingest(repo, diff="main..feature")
    assert "util.py" in {c.path for c in two_dot.changes}  # git diff A B: main's change too


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("nope..HEAD", "bad diff range 'nope..HEAD': unknown revision 'nope'"),
        ("--output=/tmp/x", "bad diff range"),
        ("main", "no changes to review"),
    ],
)
def test_bad_diff_ranges(repo: Path, spec: str, message: str) -> None:
    with pytest.raises(TargetError, match=message):
        ingest(repo, diff=spec)


def test_diff_on_a_plain_folder_is_an_error(tmp_path: Path) -> None:
    write(tmp_path / "plain", "a.py", "a = 1\n")
    with pytest.raises(TargetError, match="--diff needs a git repository"):
        ingest(tmp_path / "plain", diff="main")
    snap = ingest(tmp_path / "plain")
    assert snap.kind == "folder" and snap.git is None


def test_diff_on_a_repo_over_max_files_maps_paths_without_reading(repo: Path) -> None:
    snap = ingest(repo, diff="main..feature", max_files=3)
    assert {f.path for f in snap.files} == {"app.py", "new.py", "moved_to.py"}
    entries = {e.path: e for e in snap.file_map}
    assert entries["util.py"].lines == 0 and entries["util.py"].size > 0
    assert "util.py (" in snap.view().text
    with pytest.raises(TargetError, match="max_files=3"):
        ingest(repo, max_files=3)
