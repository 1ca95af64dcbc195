"""Turn candidate files into SourceFiles and map entries: skip rules, decoding, redaction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from pypdf.errors import PyPdfError

from engine.target.classify import (
    content_skip_reason,
    decode,
    language_of,
    path_skip_reason,
    skipped_folder,
)
from engine.target.outline import pdf_text, sections, symbols
from engine.target.secrets import redact_many
from engine.target.snapshot import FileEntry, Skipped, SourceFile

DOCUMENT_LANGUAGES = {"markdown", "rst", "text", "pdf"}
BATCH = 500  # files redacted together (detect-secrets' regexes run once per batch)


@dataclass(frozen=True)
class Limits:
    """Size limits; PDFs may be as large as the total budget (their text is much smaller)."""

    max_files: int
    max_file_bytes: int
    max_total_bytes: int

    def file_limit(self, path: str) -> int:
        """The largest file (in bytes) that is read at this path."""
        if path.lower().endswith(".pdf"):
            return max(self.max_file_bytes, self.max_total_bytes)
        return self.max_file_bytes


def size_text(n: int) -> str:
    """Bytes in human units: '200.0 MB'."""
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f} MB"
    if n >= 1_000:
        return f"{n / 1_000:.1f} KB"
    return f"{n} bytes"


def _pdf(data: bytes) -> tuple[str, str] | str:
    try:
        text = pdf_text(data)
    except (PyPdfError, ValueError, KeyError, TypeError, IndexError, AttributeError) as e:
        return f"unreadable PDF ({type(e).__name__})"
    if not "".join(x for x in text.split("\n") if not x.startswith("[page ")).strip():
        return "PDF has no extractable text (scanned images?)"
    return text, "pdf"


@dataclass
class Builder:
    """Accumulates files, the file map and skip records in path order."""

    limits: Limits
    files: list[SourceFile] = field(default_factory=list)
    file_map: list[FileEntry] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    notes: list[Skipped] = field(default_factory=list)  # files reviewed in a degraded way, and why
    redactions: int = 0
    redacted_files: list[str] = field(default_factory=list)
    total_bytes: int = 0
    _folders: dict[str, list[str | int]] = field(default_factory=dict)
    _pending: list[tuple[str, int, str, str, list[tuple[int, int]]]] = field(default_factory=list)

    def skip(self, path: str, reason: str) -> str:
        """Record a skipped path (files in a skipped folder become one entry) and return why."""
        folder = skipped_folder(path)
        if folder and folder[1] == reason:
            entry = self._folders.setdefault(folder[0], [reason, 0])
            entry[1] = int(entry[1]) + 1
        else:
            self.skipped.append(Skipped(path=path, reason=reason))
        return reason

    def skip_folder(self, path: str, reason: str) -> None:
        """Record a whole folder as skipped without listing its files."""
        self.skipped.append(Skipped(path=path.rstrip("/") + "/", reason=reason))

    def read(self, path: str, size: int, load: Callable[[int], bytes]) -> tuple[str, str] | str:
        """(text, encoding) of a candidate, or the reason it is skipped (not yet recorded)."""
        reason = path_skip_reason(path)
        if reason:
            return reason
        limit = self.limits.file_limit(path)
        if size > limit:
            return f"too large: {size_text(size)} over the {size_text(limit)} per-file limit"
        if size == 0:
            return "empty file (0 bytes)"
        try:
            data = load(limit + 1)  # never more than the limit, even if the file grew
        except OSError as e:
            return f"unreadable: {e.strerror or type(e).__name__}"
        if len(data) > limit:
            return f"too large: over the {size_text(limit)} per-file limit"
        if path.lower().endswith(".pdf"):
            return _pdf(data)
        decoded = decode(data)
        if decoded is None:
            return "binary file"
        return content_skip_reason(decoded[0]) or (decoded if decoded[0].strip() else "blank file (whitespace only)")

    def add(
        self,
        path: str,
        size: int,
        load: Callable[[int], bytes],
        *,
        changed: list[tuple[int, int]] | None = None,
        map_only: bool = False,
    ) -> str | None:
        """Ingest one candidate; return the recorded skip reason, or None when it was added."""
        over_total = self.total_bytes + size > self.limits.max_total_bytes
        if not map_only and over_total and size <= self.limits.file_limit(path):
            cap = size_text(self.limits.max_total_bytes)
            return self.skip(path, f"over the total size cap of {cap} (max_total_bytes)")
        got = self.read(path, size, load)
        if isinstance(got, str):
            return self.skip(path, got)
        text, encoding = got
        language = language_of(path)
        if map_only:
            secs = sections(text, language) if language in DOCUMENT_LANGUAGES else []
            lines = text.count("\n") + (0 if text.endswith("\n") else 1)
            syms = symbols(text, language, secs, notes := [])
            self.file_map.append(FileEntry(path=path, size=size, lines=lines, symbols=syms))
            self.notes.extend(Skipped(path=path, reason=n) for n in notes)
            return None
        self.total_bytes += size
        self._pending.append((path, size, text, encoding, changed or []))
        if len(self._pending) >= BATCH:
            self.flush()
        return None

    def flush(self) -> None:
        """Redact the queued texts in one batch and turn them into files and map entries."""
        pending, self._pending = self._pending, []
        done = redact_many([(text, path) for path, _, text, _, _ in pending])
        for (path, size, _, encoding, changed), (text, n) in zip(pending, done, strict=True):
            if n:
                self.redactions += n
                self.redacted_files.append(path)
            language = language_of(path)
            secs = sections(text, language) if language in DOCUMENT_LANGUAGES else []
            f = SourceFile(
                path=path,
                text=text,
                language=language,
                sections=secs,
                changed=changed,
                redactions=n,
                encoding=encoding,
            )
            self.files.append(f)
            syms = symbols(text, language, secs, notes := [])
            self.file_map.append(FileEntry(path=path, size=size, lines=len(f.lines), symbols=syms))
            self.notes.extend(Skipped(path=path, reason=n) for n in notes)

    def stub(self, path: str, size: int) -> None:
        """A map entry from the path and size alone (nothing read)."""
        if not path_skip_reason(path):
            self.file_map.append(FileEntry(path=path, size=size, lines=0))

    def skipped_all(self) -> list[Skipped]:
        """Every skip record, folders summarised as one entry with a file count."""
        self.flush()
        folders = [Skipped(path=p, reason=f"{r} ({n} files)") for p, (r, n) in sorted(self._folders.items())]
        return sorted(self.skipped + folders, key=lambda s: s.path)
