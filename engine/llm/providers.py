"""`provider:model` -> chat model, preflight check, context window and price: the engine's doors to the registry.

Each takes a model string or an already parsed ModelSpec; the provider-specific part is the provider's class
in engine/llm/registry.py. Environment switches that apply to every provider are read here.
"""

from __future__ import annotations

import functools
import json
import os

from langchain_core.language_models import BaseChatModel

from engine import envvars
from engine.errors import ConfigError, ProviderError
from engine.llm.registry import PROVIDERS, ModelSpec, Prices, ServerHooks, parse_model

__all__ = ["PROVIDERS", "ModelSpec", "ServerHooks", "context_window", "load_env_prices", "make_chat_model",
           "parse_model", "preflight", "price_of", "server_hooks"]
Model = str | ModelSpec


def make_chat_model(model: Model, *, max_tokens: int, temperature: float = 0.2, slots: int = 4) -> BaseChatModel:
    """Build the langchain chat model for a `provider:model` string."""
    spec = parse_model(model)
    if spec.impl.real and os.environ.get("REBUTTAL_FORBID_REAL_MODELS") == "1":
        raise ProviderError(f"real model calls are disabled here (REBUTTAL_FORBID_REAL_MODELS=1): {spec.text}")
    temperature = temperature if spec.temperature is None else spec.temperature
    return spec.impl.chat_model(spec, max_tokens=max_tokens, temperature=temperature, slots=slots)


def preflight(model: Model) -> None:
    """Fail before the run when a key is missing or the endpoint is unreachable (no tokens spent)."""
    spec = parse_model(model)
    if not spec.impl.real or os.environ.get("REBUTTAL_SKIP_PREFLIGHT") == "1":
        return
    spec.impl.preflight(spec)


def context_window(model: Model) -> int:
    """Tokens of context a model accepts (per request); REBUTTAL_CONTEXT overrides."""
    override = envvars.positive_int("REBUTTAL_CONTEXT", "a positive number of tokens")
    if override is not None:
        return override
    spec = parse_model(model)
    return spec.impl.context_window(spec)


def price_of(model: Model, prices: Prices) -> tuple[float, float] | None:
    """(input, output) USD per million tokens: `prices` (--prices) > REBUTTAL_PRICES > the provider's (0 for free
    providers, else the genai-prices catalog); None when unknown."""
    spec = parse_model(model)
    overrides = {**load_env_prices(), **prices}
    if spec.model in overrides:  # a price is the model's, whatever temperature it samples at
        return overrides[spec.model]
    return spec.impl.price(spec, overrides)


def load_env_prices() -> Prices:
    """Prices from REBUTTAL_PRICES (a JSON object: model -> [input, output])."""
    return dict(_env_prices(os.environ.get("REBUTTAL_PRICES", "")))


@functools.lru_cache(maxsize=8)
def _env_prices(raw: str) -> Prices:
    if not raw:
        return {}
    try:
        data = json.loads(raw)
        return {str(k): (float(v[0]), float(v[1])) for k, v in data.items()}
    except (ValueError, TypeError, IndexError, KeyError, AttributeError):
        raise ConfigError("REBUTTAL_PRICES must be JSON like {\"openai:x\": [0.15, 0.6]}") from None


def server_hooks(model: Model) -> ServerHooks | None:
    """Hooks for the embedded local model's server (started by its chat model); None for other providers."""
    spec = parse_model(model)
    return spec.impl.server_hooks(spec)
