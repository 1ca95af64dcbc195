"""TargetSnapshot: what the personas may see of a target (pure data, no I/O)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, PrivateAttr


class Section(BaseModel):
    """A heading in a document: 'section 3.2' locations map to a line."""

    number: str
    title: str
    level: int
    line: int


class SourceFile(BaseModel):
    """One text file of the target, already redacted; line numbers are real."""

    path: str
    text: str
    language: str | None = None
    sections: list[Section] = Field(default_factory=list)
    # For diff targets: the (start, end) line ranges of the new file that changed.
    changed: list[tuple[int, int]] = Field(default_factory=list)
    # Number of secrets replaced by a placeholder in `text` (never their values).
    redactions: int = 0
    # The encoding the bytes were decoded from ("utf-8", "latin-1", "pdf"...).
    encoding: str = "utf-8"

    @property
    def lines(self) -> list[str]:
        """The lines of the text, split on newlines only (so numbers match editors)."""
        text = self.text if "\r" not in self.text else self.text.replace("\r\n", "\n").replace("\r", "\n")
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        return lines


class FileEntry(BaseModel):
    """One line of the repo map: a file's path, size, line count and top-level symbols."""

    path: str
    size: int
    lines: int
    symbols: list[str] = Field(default_factory=list)


class Skipped(BaseModel):
    """A path that was not ingested, and why (shown in run.yaml)."""

    path: str
    reason: str


class FileChange(BaseModel):
    """One entry of a diff's change list (added, modified, deleted, renamed...)."""

    status: Literal["added", "modified", "deleted", "renamed", "copied", "type-changed"]
    path: str
    old_path: str | None = None


class GitInfo(BaseModel):
    """Git metadata recorded in run.yaml."""

    commit: str | None = None
    branch: str | None = None
    dirty: bool = False
    diff_range: str | None = None
    detached: bool = False
    shallow: bool = False
    # For diff targets: the resolved base commit and the new side (a commit, or "worktree").
    diff_base: str | None = None
    diff_head: str | None = None


class TargetView(BaseModel):
    """The rendered text one persona sees, with what was included or left out."""

    text: str
    included: list[str]
    omitted: list[str] = Field(default_factory=list)
    # Files shown only in part because alone they exceed the budget.
    truncated: list[str] = Field(default_factory=list)
    # Whether a repo map block was added, and the estimated token count of `text`.
    has_map: bool = False
    tokens: int = 0


class TargetSnapshot(BaseModel):
    """A target turned into numbered text files plus metadata."""

    kind: Literal["file", "folder", "git", "diff", "document"]
    root: str
    name: str
    files: list[SourceFile]
    file_map: list[FileEntry] = Field(default_factory=list)
    skipped: list[Skipped] = Field(default_factory=list)
    # Files reviewed in a degraded way (e.g. outlined by text match when the parser failed), and why.
    notes: list[Skipped] = Field(default_factory=list)
    git: GitInfo | None = None
    redactions: int = 0
    # Paths whose text had at least one secret replaced (counts per file in SourceFile).
    redacted_files: list[str] = Field(default_factory=list)
    # For diff targets: every changed path, including deleted and renamed ones.
    changes: list[FileChange] = Field(default_factory=list)
    total_bytes: int = 0
    _cache: dict[str, Any] = PrivateAttr(default_factory=dict)

    @property
    def is_document(self) -> bool:
        """True when the target is a single document (personas are its stakeholders)."""
        return self.kind == "document"

    def file(self, path: str) -> SourceFile | None:
        """The file with this path, or None."""
        return next((f for f in self.files if f.path == path), None)

    def view(self, budget_tokens: int = 10**9, focus: list[str] | None = None) -> TargetView:
        """Render the files with real line numbers, trimmed to a token budget."""
        from engine.target.render import render_view

        return render_view(self, budget_tokens, focus or [])
