"""Size-based rotation of an application log: app.log, app.log.1 ... app.log.N (N = backups)."""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path


class RotatingLog:
    """Appends lines to `path`; when it would grow past `max_bytes`, rotates it first."""

    def __init__(self, path: Path, max_bytes: int = 1_000_000, backups: int = 5) -> None:
        if backups < 1:
            raise ValueError("keep at least one backup")
        self.path = path
        self.max_bytes = max_bytes
        self.backups = backups

    def backup(self, n: int) -> Path:
        return self.path.with_name(f"{self.path.name}.{n}")

    def rotate(self) -> None:
        """Shift app.log.i to app.log.i+1 (dropping the oldest), then app.log to app.log.1."""
        oldest = self.backup(self.backups)
        if oldest.exists():
            oldest.unlink()
        for i in range(self.backups - 1, 1, -1):
            src = self.backup(i)
            if src.exists():
                src.rename(self.backup(i + 1))
        if self.path.exists():
            self.path.rename(self.backup(1))

    def write(self, line: str) -> None:
        """Append one line, rotating first when the file would exceed max_bytes."""
        data = (line.rstrip("\n") + "\n").encode("utf-8")
        size = self.path.stat().st_size if self.path.exists() else 0
        if size and size + len(data) > self.max_bytes:
            self.rotate()
        with self.path.open("ab") as fh:
            fh.write(data)


def compress_backup(path: Path) -> Path:
    """Gzip a rotated file next to it and remove the original; return the .gz path."""
    target = path.with_name(path.name + ".gz")
    src = open(path, "rb")
    dst = gzip.open(target, "wb")
    shutil.copyfileobj(src, dst)
    dst.close()
    src.close()
    os.remove(path)
    return target
