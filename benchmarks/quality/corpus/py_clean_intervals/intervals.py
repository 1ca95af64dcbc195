"""Merge and query closed integer intervals (used for booked time slots)."""

from collections.abc import Iterable

Interval = tuple[int, int]


def normalise(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, non-overlapping intervals; touching ones ([1, 3] and [4, 5]) are merged too."""
    items = sorted((min(a, b), max(a, b)) for a, b in intervals)
    merged: list[Interval] = []
    for start, end in items:
        if merged and start <= merged[-1][1] + 1:
            last_start, last_end = merged[-1]
            merged[-1] = (last_start, max(last_end, end))
        else:
            merged.append((start, end))
    return merged


def contains(intervals: list[Interval], point: int) -> bool:
    """Whether `point` lies in one of the normalised `intervals` (binary search)."""
    lo, hi = 0, len(intervals) - 1
    while lo <= hi:
        mid = (lo + hi) // 2
        start, end = intervals[mid]
        if point < start:
            hi = mid - 1
        elif point > end:
            lo = mid + 1
        else:
            return True
    return False


def total_length(intervals: Iterable[Interval]) -> int:
    """Number of integer points covered by the intervals."""
    return sum(end - start + 1 for start, end in normalise(intervals))
