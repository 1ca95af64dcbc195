"""Read metadata keys from a GGUF file header (v2/v3) without loading the weights."""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Any, BinaryIO

from engine.errors import LocalModelError

_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
            10: "<Q", 11: "<q", 12: "<d"}  # fmt: skip
_STRING, _ARRAY = 8, 9


def _read(f: BinaryIO, n: int) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise LocalModelError(f"{getattr(f, 'name', 'GGUF file')}: truncated GGUF header")
    return data


def _unpack(f: BinaryIO, fmt: str) -> Any:
    return struct.unpack(fmt, _read(f, struct.calcsize(fmt)))[0]


def _read_value(f: BinaryIO, vtype: int, keep: bool) -> object:
    """Read (or skip, when keep is false) one GGUF value of type vtype."""
    if vtype in _SCALARS:
        return _unpack(f, _SCALARS[vtype])
    if vtype == _STRING:
        n = _unpack(f, "<Q")
        if not keep:
            f.seek(n, os.SEEK_CUR)
            return None
        return _read(f, n).decode("utf-8", errors="replace")
    if vtype == _ARRAY:
        etype, count = _unpack(f, "<I"), _unpack(f, "<Q")
        if etype in _SCALARS and not keep:
            f.seek(count * struct.calcsize(_SCALARS[etype]), os.SEEK_CUR)
            return None
        items = [_read_value(f, etype, keep) for _ in range(count)]
        return items if keep else None
    raise LocalModelError(f"{getattr(f, 'name', 'GGUF file')}: unknown GGUF value type {vtype}")


def read_gguf_metadata(path: Path, keys: set[str]) -> dict[str, object]:
    """Read the wanted metadata keys from a GGUF (v2/v3) header; absent keys are left out."""
    found: dict[str, object] = {}
    with open(path, "rb") as f:
        if _read(f, 4) != b"GGUF":
            raise LocalModelError(f"{path}: not a GGUF file")
        version = _unpack(f, "<I")
        if version not in (2, 3):
            raise LocalModelError(f"{path}: unsupported GGUF version {version}")
        _unpack(f, "<Q")  # tensor count
        kv_count = _unpack(f, "<Q")
        for _ in range(kv_count):
            if keys <= found.keys():
                break
            key = _read(f, _unpack(f, "<Q")).decode("utf-8", errors="replace")
            value = _read_value(f, _unpack(f, "<I"), keep=key in keys)
            if key in keys:
                found[key] = value
    return found
