"""Reassemble a per-device event stream: drop duplicates, detect gaps in sequence numbers."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Event:
    device: str
    seq: int
    kind: str
    payload: str


@dataclass(frozen=True)
class Gap:
    device: str
    first_missing: int
    last_missing: int


class StreamReader:
    """Consumes events in arrival order and yields them once each, in order per device."""

    def __init__(self, dedupe_window: int = 1000) -> None:
        self._last_seq: dict[str, int] = {}
        self._seen: OrderedDict[tuple[str, int], None] = OrderedDict()
        self._window = dedupe_window
        self.gaps: list[Gap] = []

    def _duplicate(self, event: Event) -> bool:
        key = (event.device, event.seq)
        if key in self._seen:
            return True
        self._seen[key] = None
        if len(self._seen) > self._window:
            self._seen.popitem(last=False)
        return False

    def feed(self, events: Iterable[Event]) -> Iterator[Event]:
        """Yield each new event; record a Gap whenever a device skips sequence numbers."""
        for event in events:
            if self._duplicate(event):
                continue
            last = self._last_seq.get(event.device)
            if last is not None and event.seq <= last:
                continue  # late delivery of an event already superseded
            if last is not None and event.seq is not last + 1:
                self.gaps.append(Gap(event.device, last + 1, event.seq - 1))
            self._last_seq[event.device] = event.seq
            yield event


def count_by_kind(events: Iterable[Event]) -> dict[str, int]:
    """How many events of each kind, most frequent first."""
    counts: dict[str, int] = {}
    for e in events:
        counts[e.kind] = counts.get(e.kind, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))
