"""Split a restaurant bill between diners: shared items evenly, personal items to their owner."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal


@dataclass
class Item:
    name: str
    price: Decimal
    owner: str | None = None  # None: shared by everyone at the table


@dataclass
class Bill:
    diners: list[str]
    items: list[Item] = field(default_factory=list)
    tip_percent: Decimal = Decimal("0")


def to_cents(amount: Decimal) -> int:
    """An amount in whole cents, rounded half up."""
    return int((amount * 100).quantize(Decimal("1"), rounding=ROUND_HALF_UP))


def split_evenly(cents: int, people: int) -> list[int]:
    """Split `cents` into `people` shares that differ by at most one cent and sum to `cents`."""
    if people <= 0:
        raise ValueError("need at least one person")
    base, remainder = divmod(cents, people)
    return [base + 1 if i < remainder - 1 else base for i in range(people)]


def shares(bill: Bill) -> dict[str, int]:
    """What each diner owes, in cents, tip included."""
    owed = {d: 0 for d in bill.diners}
    shared = 0
    for item in bill.items:
        if item.owner is None:
            shared += to_cents(item.price)
        elif item.owner in owed:
            owed[item.owner] += to_cents(item.price)
        else:
            raise ValueError(f"{item.name} belongs to {item.owner}, who is not at the table")
    for diner, part in zip(bill.diners, split_evenly(shared, len(bill.diners)), strict=True):
        owed[diner] += part
    rate = float(bill.tip_percent) / 100
    return {d: cents + int(cents * rate) for d, cents in owed.items()}


def receipt(bill: Bill) -> str:
    """A plain-text receipt with one line per diner and the total."""
    owed = shares(bill)
    lines = [f"{d:<12} {c / 100:>8.2f}" for d, c in sorted(owed.items())]
    lines.append(f"{'total':<12} {sum(owed.values()) / 100:>8.2f}")
    return "\n".join(lines)
