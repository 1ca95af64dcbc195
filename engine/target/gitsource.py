"""Git access for ingest (gitpython): repo discovery, tracked files, metadata, diff plans.

Diff ranges follow `git diff`, evaluated in the target folder (paths relative to it):
- `A..B`  compares commit A with commit B (`git diff A B`); an empty side means HEAD.
- `A...B` compares the merge base of A and B with B (what a pull request shows).
- `REF`   (e.g. `--diff main`) compares the merge base of REF and HEAD with the *working
  tree*: the branch's commits plus uncommitted changes to tracked files. Untracked files
  are not part of any diff (`git add -N` them to include them).
- `:staged` (the CLI's `--staged`) compares HEAD with the *index*: exactly what `git commit` would
  record, read from the staged blobs (what a pre-commit hook must review, not the working tree).
"""

from __future__ import annotations

import binascii
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from engine.errors import TargetError
from engine.target.snapshot import FileChange, GitInfo

Status = Literal["added", "modified", "deleted", "renamed", "copied", "type-changed"]
_STATUS: dict[str, Status] = {"A": "added", "M": "modified", "D": "deleted", "R": "renamed", "C": "copied",
           "T": "type-changed", "U": "modified"}  # fmt: skip
_HUNK = re.compile(r"^@@+ [^@]*?\+(\d+)(?:,(\d+))? @@", re.M)
_FILE_START = re.compile(r"^diff --(?:git|cc|combined) ", re.M)
_DIFF_OPTS = ("--no-color", "--no-ext-diff", "--no-textconv", "-M", "--relative")
STAGED = ":staged"  # the --diff spec of the staged change (HEAD..index)
INDEX = "index"  # DiffPlan.head of a staged diff


@dataclass
class TreeEntry:
    """A file at a commit: path relative to the target folder, size, blob id, git mode."""

    path: str
    size: int
    sha: str
    mode: str


@dataclass
class DiffPlan:
    """What a diff range changes: the resolved sides, change list and new-file line ranges."""

    base: str
    head: str | None  # None: the working tree; INDEX: the staged files
    changes: list[FileChange] = field(default_factory=list)
    ranges: dict[str, list[tuple[int, int]]] = field(default_factory=dict)


def find_repo(path: Path) -> Any | None:
    """The git repository whose work tree holds `path`, or None (then it is just a folder)."""
    try:
        import git
    except ImportError:  # gitpython present but no git executable: treat as a plain folder
        return None
    try:
        repo = git.Repo(path, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None
    if repo.bare or repo.working_tree_dir is None:
        raise TargetError(f"{path} is a bare git repository (no files to review); clone it first")
    return repo


def git_info(repo: Any) -> GitInfo:
    """Commit, branch, dirty, detached and shallow flags of the repository."""
    try:
        commit: str | None = repo.head.commit.hexsha
    except ValueError:  # no commit yet
        commit = None
    detached = repo.head.is_detached
    branch = None if detached else repo.head.reference.name
    shallow = (Path(repo.common_dir) / "shallow").exists()
    dirty = commit is not None and repo.is_dirty(untracked_files=False)
    return GitInfo(commit=commit, branch=branch, dirty=dirty, detached=detached, shallow=shallow)


def _run(cwd: Path, *args: str) -> str:
    import git

    return str(git.Git(str(cwd)).execute(["git", *args], strip_newline_in_stdout=False))


def tracked_files(cwd: Path) -> list[str]:
    """Tracked paths under `cwd` (relative to it), sorted; uncommitted edits read from disk."""
    return sorted(p for p in _run(cwd, "ls-files", "-z").split("\0") if p)


def untracked_paths(cwd: Path) -> list[str]:
    """Untracked, not ignored paths under `cwd` (folders collapsed to one entry)."""
    out = _run(cwd, "ls-files", "-z", "--others", "--exclude-standard", "--directory")
    return sorted(p for p in out.split("\0") if p)


def tree_files(cwd: Path, rev: str) -> list[TreeEntry]:
    """Files of commit `rev` under `cwd`, with sizes and blob ids, sorted by path."""
    entries = []
    for item in _run(cwd, "ls-tree", "-r", "-l", "-z", rev).split("\0"):
        if not item:
            continue
        meta, path = item.split("\t", 1)
        mode, _kind, sha, size = meta.split()
        entries.append(TreeEntry(path, int(size) if size.isdigit() else 0, sha, mode))
    return sorted(entries, key=lambda e: e.path)


def index_files(repo: Any, cwd: Path) -> list[TreeEntry]:
    """Files staged in the index under `cwd` (stage 0), with sizes and blob ids, sorted by path."""
    entries = []
    for item in _run(cwd, "ls-files", "--stage", "-z").split("\0"):
        if not item:
            continue
        meta, path = item.split("\t", 1)
        mode, sha, stage = meta.split()
        if stage != "0":
            raise TargetError(f"{path} has unresolved merge conflicts in the index; resolve them before reviewing")
        size = 0 if mode == "160000" else int(repo.odb.info(binascii.unhexlify(sha)).size)
        entries.append(TreeEntry(path, size, sha, mode))
    return sorted(entries, key=lambda e: e.path)


def read_blob(repo: Any, sha: str, max_bytes: int) -> bytes:
    """At most max_bytes of a blob (through git's persistent cat-file process)."""
    stream = repo.odb.stream(binascii.unhexlify(sha))
    data: bytes = stream.read(min(max_bytes, stream.size))
    if stream.size > len(data):
        stream.read()  # drain: the cat-file pipe must be left at an object boundary
    return data


def _resolve(repo: Any, rev: str, spec: str, shallow: bool) -> str:
    import git

    try:
        sha: str = repo.git.rev_parse("--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}")
    except git.GitCommandError:
        hint = " (this is a shallow clone: fetch more history)" if shallow else ""
        raise TargetError(f"bad diff range '{spec}': unknown revision '{rev}'{hint}") from None
    return sha.strip()


def _merge_base(repo: Any, a: str, b: str, spec: str, shallow: bool) -> str:
    import git

    try:
        return str(repo.git.merge_base(a, b)).strip()
    except git.GitCommandError:
        hint = " (this is a shallow clone: fetch more history)" if shallow else ""
        raise TargetError(f"bad diff range '{spec}': no common ancestor{hint}") from None


def resolve_range(repo: Any, spec: str, shallow: bool) -> tuple[str, str | None]:
    """(base commit, new commit or None for the working tree) for a --diff argument."""
    spec = spec.strip()
    if not spec or spec.startswith("-") or any(c.isspace() for c in spec):
        raise TargetError(f"bad diff range '{spec}': expected BASE..HEAD, BASE...HEAD or a ref")
    for sep in ("...", ".."):
        if sep in spec:
            left, right = spec.split(sep, 1)
            a = _resolve(repo, left or "HEAD", spec, shallow)
            b = _resolve(repo, right or "HEAD", spec, shallow)
            return (_merge_base(repo, a, b, spec, shallow) if sep == "..." else a), b
    a = _resolve(repo, spec, spec, shallow)
    head = _resolve(repo, "HEAD", spec, shallow)
    return _merge_base(repo, a, head, spec, shallow), None


def _parse_name_status(out: str) -> list[FileChange]:
    tokens = out.split("\0")
    changes, i = [], 0
    while i < len(tokens) and tokens[i]:
        code = tokens[i][0]
        status: Status = _STATUS.get(code, "modified")
        if code in "RC":
            changes.append(FileChange(status=status, path=tokens[i + 2], old_path=tokens[i + 1]))
            i += 3
        else:
            changes.append(FileChange(status=status, path=tokens[i + 1]))
            i += 2
    return changes


def _hunk_ranges(section: str) -> list[tuple[int, int]]:
    ranges = []
    for m in _HUNK.finditer(section):
        start, count = int(m.group(1)), int(m.group(2) or "1")
        if count == 0:  # a pure deletion after line `start`
            ranges.append((max(start, 1), max(start, 1)))
        else:
            ranges.append((start, start + count - 1))
    return ranges


def plan_diff(repo: Any, cwd: Path, spec: str, shallow: bool) -> DiffPlan:
    """Resolve a diff range and list its changes with the changed line ranges of new files."""
    if spec.strip() == STAGED:
        base, head = _resolve(repo, "HEAD", spec, shallow), INDEX
        sides = ["--cached", base]
    else:
        base, head = resolve_range(repo, spec, shallow)
        sides = [base] if head is None else [base, head]
    plan = DiffPlan(base=base, head=head)
    plan.changes = _parse_name_status(_run(cwd, "diff", *_DIFF_OPTS, "--name-status", "-z", *sides))
    patch = _run(cwd, "diff", *_DIFF_OPTS, "-U0", *sides)
    starts = [m.start() for m in _FILE_START.finditer(patch)] + [len(patch)]
    sections = [patch[a:b] for a, b in zip(starts, starts[1:], strict=False)]
    live = [c for c in plan.changes if c.status != "deleted"]
    if len(sections) == len(plan.changes):
        pairs = zip(plan.changes, sections, strict=True)
        plan.ranges = {c.path: _hunk_ranges(s) for c, s in pairs if c.status != "deleted"}
    else:  # unusual output (e.g. merge conflicts): ask git file by file
        for c in live:
            one = _run(cwd, "diff", *_DIFF_OPTS, "-U0", *sides, "--", c.path)
            plan.ranges[c.path] = _hunk_ranges(one)
    return plan
