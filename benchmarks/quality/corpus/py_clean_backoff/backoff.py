"""Retry an idempotent operation on transient errors, with capped exponential backoff and full jitter."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


class TransientError(Exception):
    """An error worth retrying: a timeout, a dropped connection, a 503."""


@dataclass(frozen=True)
class Backoff:
    attempts: int = 5
    base_s: float = 0.1
    cap_s: float = 10.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")
        if self.base_s < 0 or self.cap_s < self.base_s:
            raise ValueError("need 0 <= base_s <= cap_s")

    def ceiling(self, retry: int) -> float:
        """Upper bound of the wait before retry number `retry` (1-based): base * 2^(retry-1), capped."""
        return min(self.cap_s, self.base_s * 2 ** (retry - 1))


def retry(operation: Callable[[], T], policy: Backoff, *,
          retry_on: tuple[type[BaseException], ...] = (TransientError,),
          sleep: Callable[[float], None] = time.sleep,
          rng: random.Random | None = None) -> T:
    """Call `operation` until it succeeds or `policy.attempts` calls have failed; re-raise the last error.

    Only exceptions in `retry_on` are retried; anything else propagates at once. Use it only for
    operations that are safe to repeat.
    """
    rng = rng or random.Random()
    for attempt in range(1, policy.attempts + 1):
        try:
            return operation()
        except retry_on:
            if attempt == policy.attempts:
                raise
            sleep(rng.uniform(0, policy.ceiling(attempt)))
    raise AssertionError("unreachable: the loop returns or raises")
