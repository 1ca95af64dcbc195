"""Ingest a target (file, document, folder, git repository or diff) into a TargetSnapshot.

Dispatch: a single file is kind "document" (.md .markdown .rst .txt .pdf) or "file"; a folder
inside a git work tree is kind "git" (tracked files only, read from disk so uncommitted edits
are included; untracked files are listed as skipped); any other folder is kind "folder", or "document"
when every file in it is one (.gitignore is not read outside git). With `diff`, kind "diff" (see gitsource for the range
semantics). `root` is the resolved target path; file paths are relative to the target folder.
Symlinks are followed only when they resolve inside the target.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.errors import TargetError
from engine.target.builder import Builder, Limits, size_text
from engine.target.classify import dir_skip_reason, folder_kind, is_document_path, path_skip_reason
from engine.target.gitsource import (
    INDEX,
    find_repo,
    git_info,
    index_files,
    plan_diff,
    read_blob,
    tracked_files,
    tree_files,
    untracked_paths,
)
from engine.target.guards import RUN_DIR_REASON, excluded, redact_names, skip_run_dirs
from engine.target.snapshot import FileChange, TargetSnapshot

MAX_UNTRACKED_LISTED = 200


def _too_many(target: str, limit: int) -> TargetError:
    return TargetError(
        f"{target} has more than {limit:,} files to review (max_files={limit}); "
        "review a subfolder, or a change with --diff"
    )


def _disk_reader(path: Path) -> Callable[[int], bytes]:
    """A loader that reads at most n bytes of a file."""

    def load(n: int) -> bytes:
        with path.open("rb") as fh:
            return fh.read(n)

    return load


def _blob_reader(repo: Any, sha: str) -> Callable[[int], bytes]:
    """A loader that reads at most n bytes of a git blob."""
    return lambda n: read_blob(repo, sha, n)


def _link_reason(full: Path, root: Path) -> str | None:
    """Why a symlink is not followed (outside the target, broken, a folder), or None."""
    try:
        real = full.resolve(strict=True)
    except (OSError, RuntimeError):
        return "broken symlink"
    if real != root and root not in real.parents:
        return "symlink leaves the target (not followed)"
    if real.is_dir():
        return "symlinked folder (not followed; its files are reviewed at their real path)"
    return None


def _disk_check(b: Builder, root: Path, rel: str) -> int | None:
    """Size of a listed file on disk, or None after recording why it is skipped."""
    full = root / rel
    if full.is_symlink():
        reason = _link_reason(full, root)
        if reason:
            b.skip(rel, reason)
            return None
    try:
        st = full.stat()
    except FileNotFoundError:
        b.skip(rel, "deleted in the working tree")
        return None
    except OSError as e:
        b.skip(rel, f"unreadable: {e.strerror or type(e).__name__}")
        return None
    if full.is_dir():
        b.skip(rel, "git submodule or nested repository (not reviewed)")
        return None
    return st.st_size


def _snapshot(kind: Any, target: str, root: Path, b: Builder, **extra: Any) -> TargetSnapshot:
    """The snapshot of what the builder read; `kind` may be a function of the files' paths (a folder's kind
    depends on what it holds), called once every file is in."""
    b.flush()
    if callable(kind):
        kind = kind([f.path for f in b.files])
    if not b.files:
        skipped = b.skipped_all()
        why = Counter(s.reason.split(" (")[0].split(":")[0] for s in skipped).most_common(3)
        detail = ", ".join(f"{n} {reason}" for reason, n in why) or "nothing found"
        raise TargetError(f"no reviewable text in {target} (skipped: {detail})")
    snap = TargetSnapshot(
        kind=kind,
        root=str(root),
        name=root.name,
        files=sorted(b.files, key=lambda f: f.path),
        file_map=sorted(b.file_map, key=lambda e: e.path),
        skipped=b.skipped_all(),
        notes=b.notes,
        redactions=b.redactions,
        redacted_files=sorted(b.redacted_files),
        total_bytes=b.total_bytes,
        **extra,
    )
    return redact_names(snap)


def _ingest_file(path: Path, target: str, limits: Limits) -> TargetSnapshot:
    name = path.name
    size = path.stat().st_size
    limit = limits.file_limit(name)
    if size > limit:
        raise TargetError(
            f"{target} is {size_text(size)}, over the {size_text(limit)} per-file limit "
            "(max_file_bytes); review a smaller file or raise the limit"
        )
    b = Builder(limits)
    reason = b.add(name, size, _disk_reader(path))
    if reason:
        raise TargetError(f"cannot review {target}: {reason}")
    repo = find_repo(path.parent)
    kind = "document" if is_document_path(name) else "file"
    git = git_info(repo) if repo is not None else None
    return _snapshot(kind, target, path.resolve(), b, git=git)


def _ingest_folder(root: Path, target: str, limits: Limits, exclude: tuple[Path, ...] = ()) -> TargetSnapshot:
    b = Builder(limits)
    found: list[str] = []

    def unreadable(e: OSError) -> None:
        rel = Path(e.filename).relative_to(root).as_posix() if e.filename else "."
        b.skip(rel + "/", f"unreadable folder: {e.strerror or type(e).__name__}")

    for dirpath, dirnames, filenames in os.walk(root, onerror=unreadable):
        here = Path(dirpath)
        base = here.relative_to(root).as_posix()
        prefix = "" if base == "." else base + "/"
        keep = []
        for d in sorted(dirnames):
            rel = prefix + d
            reason = _link_reason(here / d, root) if (here / d).is_symlink() else dir_skip_reason(d)
            reason = reason or (RUN_DIR_REASON if excluded(here / d, exclude) else None)
            if reason:
                b.skip_folder(rel, reason)
            else:
                keep.append(d)
        dirnames[:] = keep
        for name in filenames:
            rel = prefix + name
            reason = path_skip_reason(rel)
            if reason:
                b.skip(rel, reason)
                continue
            found.append(rel)
            if len(found) > limits.max_files:
                raise _too_many(target, limits.max_files)
    for rel in sorted(found):
        size = _disk_check(b, root, rel)
        if size is not None:
            b.add(rel, size, _disk_reader(root / rel))
    return _snapshot(folder_kind, target, root, b)


def _listed(b: Builder, root: Path, paths: list[str]) -> list[tuple[str, int]]:
    """Tracked paths that pass the path rules and exist on disk, with their sizes."""
    out = []
    for rel in paths:
        reason = path_skip_reason(rel)
        if reason:
            b.skip(rel, reason)
            continue
        size = _disk_check(b, root, rel)
        if size is not None:
            out.append((rel, size))
    return out


def _skip_untracked(b: Builder, root: Path) -> None:
    paths = untracked_paths(root)
    for rel in paths[:MAX_UNTRACKED_LISTED]:
        b.skip(rel, "untracked: not tracked by git (git add it to review it)")
    if len(paths) > MAX_UNTRACKED_LISTED:
        more = len(paths) - MAX_UNTRACKED_LISTED
        b.skip("...", f"and {more} more untracked paths")


def _ingest_git(root: Path, target: str, repo: Any, limits: Limits, exclude: tuple[Path, ...] = ()
                ) -> TargetSnapshot | None:
    paths = tracked_files(root)
    if not paths:
        return None
    b = Builder(limits)
    paths = skip_run_dirs(b, root, paths, exclude)
    listed = _listed(b, root, paths)
    if len(listed) > limits.max_files:
        raise _too_many(target, limits.max_files)
    _skip_untracked(b, root)
    for rel, size in listed:
        b.add(rel, size, _disk_reader(root / rel))
    return _snapshot("git", target, root, b, git=git_info(repo))


def _ingest_diff(root: Path, target: str, repo: Any, spec: str, limits: Limits) -> TargetSnapshot:
    info = git_info(repo)
    if info.commit is None:
        raise TargetError(f"--diff needs a commit to compare with, and {target} has none yet")
    plan = plan_diff(repo, root, spec, info.shallow)
    if not plan.changes:
        raise TargetError(f"--diff {spec}: no changes to review in {target}")
    info.diff_range, info.diff_base, info.diff_head = spec, plan.base, plan.head or "worktree"
    changed = {c.path: plan.ranges.get(c.path, []) for c in plan.changes if c.status != "deleted"}
    b = Builder(limits)
    if plan.head is None:
        listed = _listed(b, root, skip_run_dirs(b, root, tracked_files(root), ()))
        _skip_untracked(b, root)
        loads = {rel: (size, _disk_reader(root / rel)) for rel, size in listed}
    else:
        loads = {}
        for e in index_files(repo, root) if plan.head == INDEX else tree_files(root, plan.head):
            if e.mode == "160000":
                b.skip(e.path, "git submodule (not reviewed)")
            elif e.mode == "120000":
                b.skip(e.path, "symlink in a commit (not followed)")
            elif reason := path_skip_reason(e.path):
                b.skip(e.path, reason)
            else:
                loads[e.path] = (e.size, _blob_reader(repo, e.sha))
    many = len(loads) > limits.max_files
    for rel, (size, load) in sorted(loads.items()):
        if rel in changed:
            b.add(rel, size, load, changed=changed[rel])
        elif many:
            b.stub(rel, size)
        else:
            b.add(rel, size, load, map_only=True)
    changes: list[FileChange] = plan.changes
    return _snapshot("diff", target, root, b, git=info, changes=changes)


def ingest(
    target: str | Path,
    diff: str | None = None,
    *,
    max_files: int = 20000,
    max_file_bytes: int = 1_000_000,
    max_total_bytes: int = 50_000_000,
    exclude: tuple[Path, ...] = (),
) -> TargetSnapshot:
    """Read a file, document, folder, git repo or diff into a snapshot; TargetError if bad.

    Folders in `exclude` (the output folder) and run directories inside the target are never read."""
    limits = Limits(max_files, max_file_bytes, max_total_bytes)
    shown = str(target)
    if not shown.strip():
        raise TargetError("empty target: name the file or folder to review (use . for the current folder)")
    exclude = tuple(p.resolve() for p in exclude)
    path = Path(target).expanduser()
    if not path.exists():
        what = "broken symlink" if path.is_symlink() else "target not found"
        raise TargetError(f"{what}: {shown}")
    if path.is_file():
        if diff is not None:
            raise TargetError("--diff needs a folder inside a git repository, not a single file")
        return _ingest_file(path, shown, limits)
    if not path.is_dir():
        raise TargetError(f"{shown} is neither a regular file nor a folder")
    root = path.resolve()
    repo = find_repo(root)
    if diff is not None and repo is None:
        raise TargetError(f"--diff needs a git repository, and {shown} is not inside one")
    if repo is None:
        return _ingest_folder(root, shown, limits, exclude)
    from git import GitCommandError

    try:
        if diff is not None:
            return _ingest_diff(root, shown, repo, diff, limits)
        snap = _ingest_git(root, shown, repo, limits, exclude)
    except GitCommandError as e:
        detail = str(e.stderr or e).strip().splitlines() or ["unknown error"]
        line = detail[-1].strip().removeprefix("stderr: ").strip("'")
        raise TargetError(f"git failed on {shown}: {line}") from None
    return snap if snap is not None else _ingest_folder(root, shown, limits, exclude)
