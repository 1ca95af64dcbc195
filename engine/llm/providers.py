"""`provider:model` strings -> langchain chat models, with preflight checks and prices."""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from langchain_core.language_models import BaseChatModel

from engine.errors import ConfigError, ProviderError

PROVIDERS = ("local", "fake", "openai", "openrouter", "anthropic", "ollama")
MAX_FAKE_MS = 600_000  # `fake:<ms>`: at most the default call timeout
OPENROUTER_URL = "https://openrouter.ai/api/v1"

# USD per million tokens (input, output). Override with --prices FILE or REBUTTAL_PRICES.
DEFAULT_PRICES: dict[str, tuple[float, float]] = {
    "openai:gpt-4o-mini": (0.15, 0.60),
    "openai:gpt-4o": (2.50, 10.00),
    "openai:gpt-4.1-mini": (0.40, 1.60),
    "openai:gpt-4.1": (2.00, 8.00),
    "openai:gpt-5-mini": (0.25, 2.00),
    "openai:gpt-5": (1.25, 10.00),
    "anthropic:claude-3-5-haiku-latest": (0.80, 4.00),
    "anthropic:claude-sonnet-4-5": (3.00, 15.00),
    "anthropic:claude-opus-4-1": (15.00, 75.00),
}


@dataclass(frozen=True)
class ModelSpec:
    """A parsed `provider:model` string."""

    provider: str
    name: str

    @property
    def text(self) -> str:
        return f"{self.provider}:{self.name}" if self.name else self.provider

    @property
    def free(self) -> bool:
        return self.provider in ("local", "fake", "ollama")

    @property
    def logprobs(self) -> bool:
        """Whether to ask for token log-probabilities (OpenAI-compatible APIs and llama.cpp return them)."""
        return self.provider in ("openai", "openrouter", "local", "fake")

    @property
    def structured_method(self) -> str:
        return "function_calling" if self.provider == "anthropic" else "json_schema"


def parse_model(text: str) -> ModelSpec:
    """Parse `provider:model`; `local` and `fake` may omit the model."""
    text = text.strip()
    provider, _, name = text.partition(":")
    if provider not in PROVIDERS:
        raise ConfigError(
            f"unknown model provider '{provider}' in '{text}' (use one of: {', '.join(PROVIDERS)})"
        )
    if not name and provider not in ("local", "fake"):
        raise ConfigError(f"model '{text}' needs a name after the colon, e.g. {provider}:<model>")
    latency = re.sub(r"(^|:)verbal$", "", name)  # `fake:verbal`, `fake:<ms>:verbal`: a fake without logprobs
    if provider == "fake" and latency and not (re.fullmatch(r"\d{1,7}(\.\d+)?", latency)
                                               and float(latency) <= MAX_FAKE_MS):
        raise ConfigError(f"model '{text}': the fake model's latency must be milliseconds from 0 to {MAX_FAKE_MS}")
    return ModelSpec(provider, name)


def price_of(model: str, prices: dict[str, tuple[float, float]]) -> tuple[float, float] | None:
    """(input, output) USD per million tokens; 0 for free providers; None when unknown."""
    spec = parse_model(model)
    table = {**DEFAULT_PRICES, **load_env_prices(), **prices}
    if model in table:
        return table[model]
    if spec.free:
        return (0.0, 0.0)
    if spec.provider == "openrouter" and f"openai:{spec.name.split('/')[-1]}" in table:
        return table[f"openai:{spec.name.split('/')[-1]}"]
    return None


def load_env_prices() -> dict[str, tuple[float, float]]:
    """Prices from REBUTTAL_PRICES (a JSON object: model -> [input, output])."""
    raw = os.environ.get("REBUTTAL_PRICES")
    if not raw:
        return {}
    try:
        data = json.loads(raw)
        return {str(k): (float(v[0]), float(v[1])) for k, v in data.items()}
    except (ValueError, TypeError, IndexError, KeyError):
        raise ConfigError("REBUTTAL_PRICES must be JSON like {\"openai:x\": [0.15, 0.6]}") from None


def request_timeout(seconds: float | None = 600) -> Any:
    """An httpx.Timeout: unhashable, so langchain-openai builds a client per model instead of sharing a
    process-wide cached one bound to the first event loop (which fails in a second `asyncio.run`)."""
    import httpx

    return httpx.Timeout(seconds)


@dataclass(frozen=True)
class ServerHooks:
    """What a self-hosted llama.cpp server offers the gateway: prefix warming and a progress counter."""

    warm: Callable[[str], dict[str, Any]]
    progress: Callable[[], int | None]


def server_hooks(model: str) -> ServerHooks | None:
    """Hooks for the embedded local model's server (started by its chat model); None for other providers."""
    spec = parse_model(model)
    if spec.provider != "local":
        return None
    from engine.llm import local

    server = local.get_server(spec.name)
    return ServerHooks(warm=server.warm, progress=server.progress)


def _require_key(var: str, model: str) -> str:
    key = os.environ.get(var)
    if not key:
        raise ProviderError(f"model '{model}' needs the environment variable {var} (an API key)")
    return key


def _import(module: str, extra: str) -> Any:
    try:
        return __import__(module, fromlist=["_"])
    except ImportError:
        raise ProviderError(f"{module} is not installed; run: pip install -e '.[{extra}]'") from None


def make_chat_model(model: str, *, max_tokens: int, temperature: float = 0.2, slots: int = 4) -> BaseChatModel:
    """Build the langchain chat model for a `provider:model` string."""
    spec = parse_model(model)
    if spec.provider != "fake" and os.environ.get("REBUTTAL_FORBID_REAL_MODELS") == "1":
        raise ProviderError(f"real model calls are disabled here (REBUTTAL_FORBID_REAL_MODELS=1): {model}")
    if spec.provider == "fake":
        from engine.llm.fake import FakeChatModel, fake_returns_logprobs, parse_fake_spec, plan_from_env

        return FakeChatModel(latency_ms=parse_fake_spec(model), plan=plan_from_env(),
                             logprobs=fake_returns_logprobs(model))
    if spec.provider == "local":
        from engine.llm import local

        return local.chat_model(spec.name, max_tokens=max_tokens, temperature=temperature, slots=slots)
    if spec.provider in ("openai", "openrouter"):
        from langchain_openai import ChatOpenAI

        if spec.provider == "openrouter":
            key, base = _require_key("OPENROUTER_API_KEY", model), OPENROUTER_URL
        else:
            base = os.environ.get("OPENAI_BASE_URL")
            key = os.environ.get("OPENAI_API_KEY") or ("none" if base else _require_key("OPENAI_API_KEY", model))
        return ChatOpenAI(
            model=spec.name, api_key=key, base_url=base, max_tokens=max_tokens,  # type: ignore[arg-type]
            temperature=temperature, max_retries=0, timeout=request_timeout(),
        )
    if spec.provider == "anthropic":
        mod = _import("langchain_anthropic", "anthropic")
        key = _require_key("ANTHROPIC_API_KEY", model)
        return mod.ChatAnthropic(
            model=spec.name, api_key=key, max_tokens=max_tokens, temperature=temperature, max_retries=0
        )
    mod = _import("langchain_ollama", "ollama")
    base = os.environ.get("OLLAMA_HOST", "http://127.0.0.1:11434")
    return mod.ChatOllama(model=spec.name, base_url=base, num_predict=max_tokens, temperature=temperature)


def _probe(url: str, headers: dict[str, str], model: str) -> None:
    req = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - fixed provider URLs
            resp.read(1)
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            raise ProviderError(f"model '{model}': the provider refused the API key (HTTP {exc.code})") from None
        raise ProviderError(f"model '{model}': endpoint {url} answered HTTP {exc.code}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ProviderError(f"model '{model}': cannot reach {url} ({reason})") from None


def preflight(model: str) -> None:
    """Fail before the run when a key is missing or the endpoint is unreachable (no tokens spent)."""
    spec = parse_model(model)
    if spec.provider == "fake" or os.environ.get("REBUTTAL_SKIP_PREFLIGHT") == "1":
        return
    if spec.provider == "local":
        from engine.llm import local

        local.model_path(local.resolve_local_name(spec.name))
        return
    if spec.provider == "openrouter":
        key = _require_key("OPENROUTER_API_KEY", model)
        _probe(f"{OPENROUTER_URL}/key", {"Authorization": f"Bearer {key}"}, model)
    elif spec.provider == "openai":
        base = os.environ.get("OPENAI_BASE_URL", "https://api.openai.com/v1").rstrip("/")
        key = os.environ.get("OPENAI_API_KEY") or ("none" if "OPENAI_BASE_URL" in os.environ else "")
        if not key:
            _require_key("OPENAI_API_KEY", model)
        _probe(f"{base}/models", {"Authorization": f"Bearer {key}"}, model)
    elif spec.provider == "anthropic":
        _import("langchain_anthropic", "anthropic")
        key = _require_key("ANTHROPIC_API_KEY", model)
        _probe("https://api.anthropic.com/v1/models", {"x-api-key": key, "anthropic-version": "2023-06-01"}, model)
    else:
        _import("langchain_ollama", "ollama")
        _probe(os.environ.get("OLLAMA_HOST", "http://127.0.0.1:11434").rstrip("/") + "/api/tags", {}, model)


CONTEXT_WINDOWS = {"openai": 128_000, "openrouter": 128_000, "anthropic": 200_000, "ollama": 8_192, "fake": 16_000}


def context_window(model: str) -> int:
    """Tokens of context a model accepts (per request); REBUTTAL_CONTEXT overrides."""
    if os.environ.get("REBUTTAL_CONTEXT"):
        return int(os.environ["REBUTTAL_CONTEXT"])
    spec = parse_model(model)
    if spec.provider == "local":
        from engine.llm import local

        return local.context_window(local.resolve_local_name(spec.name))
    return CONTEXT_WINDOWS[spec.provider]
