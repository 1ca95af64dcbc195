"""Text sent over an API becomes a review target: files under `<out>/_inputs/<id>/`, ingested (redacted).

Pure part: `target_files(messages)` picks the last user message and its attachments. I/O part:
`ingest_texts(out, files)` redacts them (nothing unredacted rests on disk), writes them and ingests
each through `engine.target.ingest`, so the same size limits apply as for a file on disk.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import shutil
from pathlib import Path, PurePosixPath
from typing import Any

from engine.artifacts import write_atomic
from engine.errors import TargetError
from engine.paths import slugify
from engine.target import ingest
from engine.target.classify import folder_kind
from engine.target.secrets import redact, redact_name
from engine.target.snapshot import TargetSnapshot

DEFAULT_NAME = "message.md"
MAX_FILES = 32


class InputError(ValueError):
    """The request carries no usable target text (a client error, answered with HTTP 400)."""


def safe_filename(name: str, fallback: str = DEFAULT_NAME) -> str:
    """A flat, safe file name that keeps a short extension: `../a b.PY` -> `a-b.py`."""
    base = PurePosixPath(str(name).replace("\\", "/")).name
    stem, dot, ext = base.rpartition(".")
    if not dot:
        stem, ext = base, ""
    ext = slugify(ext, "")[:10].replace("-", "")
    stem = slugify(stem, "")
    if not stem:
        return ext or fallback
    return f"{stem}.{ext}" if ext else stem


def _decode_file(part: dict[str, Any]) -> tuple[str, str]:
    """(filename, text) of an OpenAI `file` content part carrying base64 `file_data`."""
    f = part.get("file") or {}
    if not isinstance(f, dict):
        raise InputError("a file part's 'file' must be an object with 'filename' and 'file_data'")
    name, data = str(f.get("filename") or "attachment.txt"), f.get("file_data")
    if not isinstance(data, str):
        raise InputError("a file part needs 'file.file_data' (uploaded file ids are not supported)")
    payload = data.split(",", 1)[1] if data.startswith("data:") else data
    try:
        return name, base64.b64decode(payload, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise InputError(f"attached file '{name}' is not base64-encoded UTF-8 text") from None


def target_files(messages: list[dict[str, Any]], filename: str | None = None) -> list[tuple[str, str]]:
    """(filename, text) pairs from the last user message: its text, then each attached text file."""
    users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    if not users:
        raise InputError("'messages' must contain a user message with the text to review")
    content = users[-1].get("content")
    texts: list[str] = []
    files: list[tuple[str, str]] = []
    if isinstance(content, str):
        texts.append(content)
    elif isinstance(content, list):
        for part in content:
            kind = part.get("type") if isinstance(part, dict) else None
            if kind == "text":
                texts.append(str(part.get("text", "")))
            elif kind == "file":
                files.append(_decode_file(part))
            else:
                raise InputError(f"unsupported content part type {kind!r} (use 'text' or 'file')")
    else:
        raise InputError("the last user message has no content")
    body = "\n\n".join(t for t in texts if t.strip())
    out = ([(filename or DEFAULT_NAME, body)] if body.strip() else []) + files
    if not out:
        raise InputError("the last user message is empty: send the text to review")
    if len(out) > MAX_FILES:
        raise InputError(f"too many attached files ({len(out)}; at most {MAX_FILES})")
    return out


def write_texts(folder: Path, files: list[tuple[str, str]]) -> list[Path]:
    """Write each text under `folder` with a safe, unique name."""
    taken: set[str] = set()
    paths = []
    for name, text in files:
        safe = safe_filename(name)
        stem, n = safe, 2
        while safe in taken:
            safe = f"{n}-{stem}"
            n += 1
        taken.add(safe)
        paths.append(write_atomic(folder, safe, text))
    return paths


def merge(folder: Path, parts: list[TargetSnapshot]) -> TargetSnapshot:
    """One folder snapshot from per-file snapshots (each already redacted)."""
    files = sorted((f for s in parts for f in s.files), key=lambda f: f.path)
    return TargetSnapshot(
        kind=folder_kind([f.path for f in files]), root=str(folder.resolve()), name=folder.name,
        files=files,
        file_map=sorted((e for s in parts for e in s.file_map), key=lambda e: e.path),
        skipped=[x for s in parts for x in s.skipped], redactions=sum(s.redactions for s in parts),
        redacted_files=sorted(x for s in parts for x in s.redacted_files),
        total_bytes=sum(s.total_bytes for s in parts),
    )


def ingest_texts(out_dir: Path, files: list[tuple[str, str]], token: str | None = None) -> tuple[str, TargetSnapshot]:
    """Redact the texts, write them to `<out>/_inputs/<token>/` and ingest them: (target path, snapshot).

    Nothing unredacted is ever written; on a bad input the folder is removed and the error names
    the file, never the server's path."""
    folder = out_dir / "_inputs" / slugify(token or secrets.token_hex(6), "input")
    redacted = [(redact_name(name), redact(text, name)) for name, text in files]
    try:
        paths = write_texts(folder, [(name, text) for name, (text, _) in redacted])
        parts = []
        for p in paths:
            try:
                parts.append(ingest(str(p)))
            except TargetError as exc:
                message = str(exc).replace(str(folder.resolve()), "").replace(str(folder), "").replace("/" + p.name,
                                                                                                       p.name)
                raise TargetError(f"attachment {p.name}: {message}" if len(paths) > 1 else message) from None
    except BaseException:
        remove_inputs(folder)
        raise
    for part, path, (_, (_, n)) in zip(parts, paths, redacted, strict=True):
        if n:
            part.redactions += n
            part.redacted_files = sorted({*part.redacted_files, path.name})
    if len(paths) == 1:
        return str(paths[0]), parts[0]
    return str(folder), merge(folder, parts)


def remove_inputs(folder: Path) -> None:
    """Delete a request's input folder (after a rejected request)."""
    if folder.name and folder.parent.name == "_inputs":
        shutil.rmtree(folder, ignore_errors=True)
