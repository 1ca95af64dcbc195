"""A small in-memory LRU cache for rendered fragments."""

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any


class LRUCache:
    """Keeps at most `capacity` entries, evicting the least recently used one."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self.data: OrderedDict[Hashable, Any] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable, default: Any = None) -> Any:
        if key in self.data:
            self.hits += 1
            return self.data[key]
        self.misses += 1
        return default

    def put(self, key: Hashable, value: Any) -> None:
        if key in self.data:
            self.data.move_to_end(key)
        self.data[key] = value
        if len(self.data) > self.capacity:
            self.data.popitem(last=True)

    def __len__(self) -> int:
        return len(self.data)

    def stats(self) -> dict[str, float]:
        total = self.hits + self.misses
        return {"hits": self.hits, "misses": self.misses, "ratio": self.hits / total if total else 0.0}


def memoize(capacity: int) -> Callable:
    """Decorator: cache a one-argument function's results in an LRUCache."""

    def wrap(fn: Callable) -> Callable:
        cache = LRUCache(capacity)

        def inner(arg: Hashable) -> Any:
            value = cache.get(arg)
            if value is None:
                value = fn(arg)
                cache.put(arg, value)
            return value

        return inner

    return wrap
