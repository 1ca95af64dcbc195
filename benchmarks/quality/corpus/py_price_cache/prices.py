"""Cached price look-ups in front of the slow pricing service (thread-safe, entries expire)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Quote:
    sku: str
    currency: str
    amount_cents: int
    fetched_at: float


class PriceCache:
    """A TTL cache of quotes keyed by product; shared by the request threads."""

    def __init__(self, fetch: Callable[[str, str], Quote], ttl_s: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._fetch = fetch
        self._ttl = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[str, Quote] = {}
        self.hits = 0
        self.misses = 0

    def _fresh(self, quote: Quote) -> bool:
        return self._clock() - quote.fetched_at < self._ttl

    def get(self, sku: str, currency: str = "EUR") -> Quote:
        """The quote for `sku` in `currency`, fetched when missing or expired."""
        with self._lock:
            quote = self._entries.get(sku)
            if quote is not None and self._fresh(quote):
                self.hits += 1
                return quote
            self.misses += 1
        quote = self._fetch(sku, currency)
        with self._lock:
            self._entries[sku] = quote
        return quote

    def invalidate(self, sku: str) -> None:
        """Forget every cached quote of `sku` (after a price change)."""
        with self._lock:
            self._entries.pop(sku, None)

    def purge_expired(self) -> int:
        """Drop expired entries; return how many were dropped."""
        stale = [k for k, q in self._entries.items() if not self._fresh(q)]
        for key in stale:
            del self._entries[key]
        return len(stale)

    def stats(self) -> dict[str, float]:
        """Hit ratio and size, for the metrics endpoint."""
        with self._lock:
            total = self.hits + self.misses
            return {"size": len(self._entries), "hit_ratio": self.hits / total if total else 0.0}
