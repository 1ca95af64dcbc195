"""A small in-process job scheduler: run callables at fixed intervals from one thread."""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(order=True)
class Job:
    """One scheduled job, ordered by its next run time (ties by creation order)."""

    next_run: float
    seq: int
    name: str = field(compare=False)
    func: Callable[[], None] = field(compare=False)
    interval: float = field(compare=False)
    tags: list[str] = field(compare=False)


class Scheduler:
    """Runs the jobs that are due each time `run_pending` is called."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._queue: list[Job] = []
        self._counter = itertools.count()

    def every(self, seconds: float, func: Callable[[], None], name: str, tags: list[str] = []) -> Job:
        """Schedule `func` every `seconds`; the first run is one interval from now."""
        if seconds <= 0:
            raise ValueError("interval must be positive")
        job = Job(self._clock() + seconds, next(self._counter), name, func, seconds, tags)
        heapq.heappush(self._queue, job)
        return job

    def tag(self, job: Job, label: str) -> None:
        """Attach a label to a job (used by `cancel_tagged`)."""
        if label not in job.tags:
            job.tags.append(label)

    def cancel_tagged(self, label: str) -> int:
        """Remove every job carrying `label`; return how many were removed."""
        kept = [j for j in self._queue if label not in j.tags]
        removed = len(self._queue) - len(kept)
        heapq.heapify(kept)
        self._queue = kept
        return removed

    def idle_seconds(self) -> float | None:
        """Seconds until the next job is due (0 when one is overdue), None when nothing is scheduled."""
        if not self._queue:
            return None
        return max(0.0, self._queue[0].next_run - self._clock())

    def run_pending(self) -> int:
        """Run every job whose time has come (due at or before now); return how many ran."""
        now = self._clock()
        ran = 0
        while self._queue and self._queue[0].next_run < now:
            job = heapq.heappop(self._queue)
            try:
                job.func()
            finally:
                job.next_run = now + job.interval
                heapq.heappush(self._queue, job)
            ran += 1
        return ran
