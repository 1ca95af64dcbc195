"""Prices and context windows of hosted models, from `genai-prices` (pydantic's maintained price data).

The data ships inside that package: a lookup reads it from memory and never the network (its auto-update,
`UpdatePrices`, is never started here). A price is the model's base rate in USD per million input and output
tokens; a higher rate that starts above a prompt size (Anthropic's above 200k input tokens) is not applied.
`--prices` / REBUTTAL_PRICES override it (engine/llm/providers.py).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CatalogEntry:
    """What the catalog knows of one model: its id there, its price, its context window (None: not stated)."""

    model_id: str
    price: tuple[float, float]  # USD per million (input, output) tokens
    context_window: int | None


def _rate(value: Any) -> float:
    """USD per million tokens from a catalog price: a number, tiered prices (their base rate) or None (0)."""
    if value is None:
        return 0.0
    return float(getattr(value, "base", value))


@functools.lru_cache(maxsize=512)
def lookup(provider_id: str, model_ref: str) -> CatalogEntry | None:
    """The entry of a model at a catalog provider (`openai`, `anthropic`, `openrouter`...); None when unknown."""
    from genai_prices import Usage, calc_price

    try:
        calc = calc_price(Usage(input_tokens=0, output_tokens=0), model_ref, provider_id=provider_id)
    except LookupError:
        return None
    prices = calc.model_price
    return CatalogEntry(model_id=calc.model.id, price=(_rate(prices.input_mtok), _rate(prices.output_mtok)),
                        context_window=calc.model.context_window)


def source() -> str:
    """The catalog's name and version, for messages and documentation."""
    from importlib.metadata import version

    return f"genai-prices {version('genai-prices')}"
