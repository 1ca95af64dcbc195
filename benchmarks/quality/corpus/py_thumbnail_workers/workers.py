"""A fixed pool of worker threads that render thumbnails and record progress."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Progress:
    done: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


class ThumbnailPool:
    """Runs `render(path)` for each submitted path on `size` threads."""

    def __init__(self, render: Callable[[str], None], size: int = 4) -> None:
        self._render = render
        self._jobs: queue.Queue[str | None] = queue.Queue()
        self._lock = threading.Lock()
        self.progress = Progress()
        self._threads = [threading.Thread(target=self._work, daemon=True) for _ in range(size)]
        for t in self._threads:
            t.start()

    def submit(self, path: str) -> None:
        """Queue one image for rendering."""
        self._jobs.put(path)

    def _record(self, error: str | None) -> None:
        with self._lock:
            if error is not None:
                self.progress.failed += 1
                self.progress.errors.append(error[:200])
            else:
                self.progress.done += 1

    def _work(self) -> None:
        while True:
            path = self._jobs.get()
            try:
                if path is None:
                    return
                try:
                    self._render(path)
                except OSError as exc:
                    self._record(f"{path}: {exc}")
                    continue
                self.progress.done += 1
            finally:
                self._jobs.task_done()

    def close(self) -> Progress:
        """Finish the queued work, stop the threads and return the final progress."""
        self._jobs.join()
        for _ in self._threads:
            self._jobs.put(None)
        for t in self._threads:
            t.join()
        return self.progress
