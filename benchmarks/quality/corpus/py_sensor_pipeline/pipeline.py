"""Daily summary of sensor readings from CSV exports (one reading per row)."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Reading:
    sensor: str
    day: str  # YYYY-MM-DD
    millivolts: int


@dataclass(frozen=True)
class Summary:
    sensor: str
    count: int
    mean_mv: float
    peak_mv: int


def parse_rows(rows: Iterable[dict[str, str]]) -> Iterator[Reading]:
    """Readings from CSV rows; rows with an empty value are skipped."""
    for row in rows:
        value = row["millivolts"].strip()
        if not value:
            continue
        yield Reading(row["sensor"].strip(), row["timestamp"][:10], int(value))


def load(path: Path) -> list[dict[str, str]]:
    """All rows of one export file."""
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def summarise(readings: Iterable[Reading], sensor: str) -> Summary | None:
    """Count, mean and peak of one sensor's readings; None when it has none."""
    mine = (r for r in readings if r.sensor == sensor)
    count = sum(1 for _ in mine)
    if count == 0:
        return None
    values = [r.millivolts for r in mine]
    return Summary(sensor, count, sum(values) // count, max(values))


def daily_report(paths: list[Path], sensors: list[str]) -> list[Summary]:
    """One summary per sensor over all files, sensors without readings left out."""
    readings = [r for p in paths for r in parse_rows(load(p))]
    out = []
    for sensor in sensors:
        summary = summarise(readings, sensor)
        if summary is not None:
            out.append(summary)
    return out


def write_report(summaries: list[Summary], path: Path) -> None:
    """Write the summaries as CSV with a header row."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["sensor", "count", "mean_mv", "peak_mv"])
        for s in summaries:
            writer.writerow([s.sensor, s.count, f"{s.mean_mv:.1f}", s.peak_mv])
