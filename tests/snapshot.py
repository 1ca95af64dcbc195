"""A tiny snapshot helper: compare text to tests/snapshots/<name>; UPDATE_SNAPSHOTS=1 rewrites."""

from __future__ import annotations

import os
from pathlib import Path

SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"


def assert_snapshot(name: str, text: str) -> None:
    """Fail with a diff hint when text differs from the stored snapshot."""
    path = SNAPSHOTS / name
    if os.environ.get("UPDATE_SNAPSHOTS") == "1" or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        if os.environ.get("UPDATE_SNAPSHOTS") != "1":
            raise AssertionError(f"snapshot {name} was missing and has been written; run the tests again")
        return
    expected = path.read_text(encoding="utf-8")
    assert text == expected, f"snapshot {name} differs (UPDATE_SNAPSHOTS=1 to accept the new output)"
