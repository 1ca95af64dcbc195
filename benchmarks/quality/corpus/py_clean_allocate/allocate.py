"""Allocate an amount of money across cost centres in proportion to weights, to the cent."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation


def parse_amount(text: str) -> int:
    """An amount such as "1234.5" or "-0.07" as integer cents; more than two decimals is an error."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise ValueError(f"not an amount: {text!r}") from None
    if not value.is_finite():
        raise ValueError(f"not an amount: {text!r}")
    cents = value * 100
    if cents != cents.to_integral_value():
        raise ValueError(f"more than two decimals: {text!r}")
    return int(cents)


def allocate(total_cents: int, weights: dict[str, int]) -> dict[str, int]:
    """Split `total_cents` in proportion to non-negative integer `weights`; the parts sum to the total.

    Largest remainder method: every part gets the floor of its exact share, then the cents left
    over go one each to the largest fractional remainders (ties broken by name, so the result is
    deterministic). A negative total is allocated as the negation of the positive one.
    """
    if not weights:
        raise ValueError("no cost centres to allocate to")
    if any(w < 0 for w in weights.values()):
        raise ValueError("weights must not be negative")
    weight_sum = sum(weights.values())
    if weight_sum == 0:
        raise ValueError("at least one weight must be positive")
    if total_cents < 0:
        return {k: -v for k, v in allocate(-total_cents, weights).items()}
    floors = {k: total_cents * w // weight_sum for k, w in weights.items()}
    remainders = {k: total_cents * w % weight_sum for k, w in weights.items()}
    left = total_cents - sum(floors.values())
    order = sorted(weights, key=lambda k: (-remainders[k], k))
    for k in order[:left]:
        floors[k] += 1
    return floors


def format_cents(cents: int) -> str:
    """Cents as a plain decimal string with two places ("-0.07", "1234.50")."""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}{whole}.{part:02d}"
