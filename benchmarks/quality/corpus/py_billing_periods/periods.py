"""Monthly billing periods and pro-rated charges for subscriptions."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta


@dataclass(frozen=True)
class Period:
    start: date  # first day billed
    end: date  # last day billed (inclusive)

    @property
    def days(self) -> int:
        return (self.end - self.start).days


def add_months(d: date, months: int) -> date:
    """The same day `months` later, clamped to the last day of a shorter month (Jan 31 + 1 -> Feb 28/29)."""
    index = d.month - 1 + months
    year, month = d.year + index // 12, index % 12 + 1
    last = calendar.monthrange(year, month)[1]
    return date(year, month, min(d.day, last))


def period_containing(anchor: date, day: date) -> Period:
    """The billing period (anchored on the subscription's start day) that contains `day`."""
    if day < anchor:
        raise ValueError("day is before the subscription started")
    months = (day.year - anchor.year) * 12 + day.month - anchor.month
    start = add_months(anchor, months)
    if start > day:
        months -= 1
        start = add_months(anchor, months)
    end = add_months(anchor, months + 1) - timedelta(days=1)
    return Period(start, end)


def periods_between(anchor: date, first: date, last: date) -> list[Period]:
    """Every billing period that overlaps the days from `first` to `last` inclusive."""
    out = [period_containing(anchor, first)]
    while out[-1].end < last:
        out.append(period_containing(anchor, out[-1].end + timedelta(days=1)))
    return out


def prorate(monthly_cents: int, period: Period, active_from: date) -> int:
    """Charge for the part of `period` from `active_from` on, in cents (rounded down)."""
    if active_from <= period.start:
        return monthly_cents
    if active_from > period.end:
        return 0
    used = (period.end - active_from).days + 1
    return monthly_cents * used // period.days
