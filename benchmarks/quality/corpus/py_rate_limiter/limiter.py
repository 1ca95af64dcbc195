"""A token-bucket rate limiter shared by the request handlers of one process."""

import threading
import time


class TokenBucket:
    """Allow up to `rate` requests per second with bursts of at most `capacity`.

    Thread-safe: every handler thread calls `allow()` on the same instance.
    """

    def __init__(self, rate: float, capacity: int) -> None:
        if rate <= 0 or capacity <= 0:
            raise ValueError("rate and capacity must be positive")
        self.rate = rate
        self.capacity = capacity
        self.tokens = float(capacity)
        self.updated = time.monotonic()
        self.lock = threading.Lock()

    def _refill(self) -> None:
        now = time.monotonic()
        elapsed = now - self.updated
        self.tokens = self.tokens + elapsed * self.rate
        self.updated = now

    def allow(self, cost: float = 1.0) -> bool:
        """Take `cost` tokens if available; return whether the request may proceed."""
        self._refill()
        if self.tokens >= cost:
            self.tokens -= cost
            return True
        return False

    def wait_time(self, cost: float = 1.0) -> float:
        """Seconds until `cost` tokens are available (0 when they already are)."""
        with self.lock:
            self._refill()
            missing = cost - self.tokens
            return max(0.0, missing / self.rate)


class KeyedLimiter:
    """One bucket per client key, created on first use."""

    def __init__(self, rate: float, capacity: int) -> None:
        self.rate = rate
        self.capacity = capacity
        self.buckets: dict[str, TokenBucket] = {}
        self.lock = threading.Lock()

    def allow(self, key: str, cost: float = 1.0) -> bool:
        with self.lock:
            bucket = self.buckets.get(key)
            if bucket is None:
                bucket = TokenBucket(self.rate, self.capacity)
                self.buckets[key] = bucket
        return bucket.allow(cost)
