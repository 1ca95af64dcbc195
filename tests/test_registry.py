"""The provider registry, table-driven: each provider's parse, context window, price, chat model and preflight."""

from __future__ import annotations

import ast
import importlib.util
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from engine.errors import ConfigError, ProviderError, RebuttalError
from engine.llm import catalog, local
from engine.llm.providers import (
    PROVIDERS,
    ModelSpec,
    context_window,
    make_chat_model,
    parse_model,
    preflight,
    price_of,
    server_hooks,
)
from engine.llm.registry import OPENROUTER_URL

LLM_DIR = Path(__file__).resolve().parent.parent / "engine" / "llm"

# text -> (provider, name, free, logprobs, structured method)
PARSED = {
    "local": ("local", "", True, True, "json_schema"),
    "local:0.5b": ("local", "0.5b", True, True, "json_schema"),
    "fake": ("fake", "", True, True, "json_schema"),
    "fake:250:verbal": ("fake", "250:verbal", True, True, "json_schema"),
    " openai:gpt-4o-mini ": ("openai", "gpt-4o-mini", False, True, "json_schema"),
    "openrouter:anthropic/claude-sonnet-4.5": ("openrouter", "anthropic/claude-sonnet-4.5", False, True,
                                               "json_schema"),
    "anthropic:claude-sonnet-4-5": ("anthropic", "claude-sonnet-4-5", False, False, "function_calling"),
    "ollama:qwen2.5-coder:7b": ("ollama", "qwen2.5-coder:7b", True, False, "json_schema"),
}
BAD_MODELS = {
    "gemini:pro": "unknown model provider 'gemini' in 'gemini:pro' (use one of: local, fake, openai, openrouter, "
                  "anthropic, ollama)",
    "openai": "model 'openai' needs a name after the colon, e.g. openai:<model>",
    "anthropic:": "model 'anthropic:' needs a name after the colon",
    "fake:600001": "the fake model's latency must be milliseconds from 0 to 600000",
    "fake:fast": "the fake model's latency must be milliseconds",
    "local:1.5b@2.5": "model 'local:1.5b@2.5': the temperature after @ must be from 0 to 2",
}
# model -> context window the engine budgets for, where it does not depend on the catalog's data
FIXED_WINDOWS = {
    "local": local.LOCAL_MODELS[local.DEFAULT_LOCAL_MODEL].context_per_slot,
    "local:0.5b": local.LOCAL_MODELS["qwen2.5-coder-0.5b"].context_per_slot,
    "fake": 16_000,
    "ollama:qwen2.5-coder:7b": 8_192,
    "openai:my-own-finetune": 128_000,  # not in the catalog: the provider's default
    "openrouter:someone/unknown-model": 128_000,
    "anthropic:claude-unknown": 200_000,
    "anthropic:claude-sonnet-4-5": 200_000,
    "anthropic:claude-opus-4-6": 200_000,  # the catalog's 1M may need a beta header the engine does not send
}
# model -> (catalog provider, catalog model) whose stated context window the engine uses
CATALOG_WINDOWS = {
    "openai:gpt-4o-mini": ("openai", "gpt-4o-mini"),
    "openai:gpt-4.1": ("openai", "gpt-4.1"),
    "openai:gpt-5-mini": ("openai", "gpt-5-mini"),
}
# model -> price with no override: free providers cost 0, hosted ones the catalog's base rate, None when unknown
PRICES = {
    "local": (0.0, 0.0),
    "fake:200": (0.0, 0.0),
    "ollama:llama3.3": (0.0, 0.0),
    "openai:gpt-4o-mini": (0.15, 0.60),
    "openai:gpt-4o": (2.50, 10.00),
    "anthropic:claude-sonnet-4-5": (3.00, 15.00),
    "openrouter:openai/gpt-4o-mini": (0.15, 0.60),
    "openai:no-such-model": None,
    "anthropic:claude-no-such-model": None,
}


@pytest.fixture(autouse=True)
def _no_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENROUTER_API_KEY", "ANTHROPIC_API_KEY", "OLLAMA_HOST",
                "REBUTTAL_PRICES", "REBUTTAL_SKIP_PREFLIGHT", "REBUTTAL_CONTEXT"):
        monkeypatch.delenv(var, raising=False)


def test_every_provider_has_rows_in_the_tables() -> None:
    """A new provider is not done until each table below names it."""
    for table in (PARSED, FIXED_WINDOWS, PRICES, PREFLIGHT_CASES):
        assert {parse_model(m.split("|")[0]).provider for m in table} == set(PROVIDERS), table


@pytest.mark.parametrize("text", PARSED)
def test_parse(text: str) -> None:
    spec = parse_model(text)
    assert (spec.provider, spec.name, spec.free, spec.logprobs, spec.structured_method) == PARSED[text]
    assert spec.impl is PROVIDERS[spec.provider] and spec.impl.id == spec.provider
    assert parse_model(spec.text) == spec


def test_parse_runs_once_per_string_and_passes_a_spec_through() -> None:
    first = parse_model("openai:gpt-4o-mini")
    assert parse_model("openai:gpt-4o-mini") is first
    assert parse_model(first) is first
    assert isinstance(first, ModelSpec)


@pytest.mark.parametrize("text", BAD_MODELS)
def test_bad_model_strings_are_one_line_errors(text: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_model(text)
    assert BAD_MODELS[text] in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("model", FIXED_WINDOWS)
def test_context_window(model: str) -> None:
    assert context_window(model) == FIXED_WINDOWS[model]
    assert context_window(parse_model(model)) == FIXED_WINDOWS[model]


@pytest.mark.parametrize("model", CATALOG_WINDOWS)
def test_context_window_comes_from_the_catalog(model: str) -> None:
    entry = catalog.lookup(*CATALOG_WINDOWS[model])
    assert entry is not None and entry.context_window
    assert context_window(model) == entry.context_window


def test_not_every_openai_model_has_128k() -> None:
    assert len({context_window(m) for m in CATALOG_WINDOWS}) > 1


@pytest.mark.parametrize(("raw", "expected"), [("4096", 4096), (" 100000 ", 100_000), ("lots", None), ("0", None),
                                               ("-5", None)])
def test_rebuttal_context_overrides_every_provider(raw: str, expected: int | None,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REBUTTAL_CONTEXT", raw)
    for model in FIXED_WINDOWS:
        if expected is None:
            with pytest.raises(ConfigError, match="REBUTTAL_CONTEXT"):
                context_window(model)
        else:
            assert context_window(model) == expected


@pytest.mark.parametrize("model", PRICES)
def test_price(model: str) -> None:
    assert price_of(model, {}) == PRICES[model]


@pytest.mark.parametrize(("prices", "env", "model", "expected"), [
    ({"openai:gpt-4o-mini": (1.0, 2.0)}, None, "openai:gpt-4o-mini", (1.0, 2.0)),  # --prices beats the catalog
    ({}, '{"openai:gpt-4o-mini": [3, 4]}', "openai:gpt-4o-mini", (3.0, 4.0)),  # so does REBUTTAL_PRICES
    ({"openai:gpt-4o-mini": (1.0, 2.0)}, '{"openai:gpt-4o-mini": [3, 4]}', "openai:gpt-4o-mini", (1.0, 2.0)),
    ({"fake": (40.0, 40.0)}, None, "fake", (40.0, 40.0)),  # a free provider priced on purpose (budget tests)
    ({"openai:my-model": (5.0, 6.0)}, None, "openai:my-model", (5.0, 6.0)),  # a model the catalog lacks
    ({"openai:gpt-4o-mini": (1.0, 2.0)}, None, "openrouter:openai/gpt-4o-mini", (1.0, 2.0)),
])
def test_overrides(prices: dict[str, tuple[float, float]], env: str | None, model: str,
                   expected: tuple[float, float], monkeypatch: pytest.MonkeyPatch) -> None:
    if env is not None:
        monkeypatch.setenv("REBUTTAL_PRICES", env)
    assert price_of(model, prices) == expected
    assert price_of(parse_model(model), prices) == expected


@pytest.mark.parametrize("raw", ["not json", "[1, 2]", '{"openai:x": [1]}', '{"openai:x": ["a", "b"]}'])
def test_bad_rebuttal_prices_is_one_line(raw: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REBUTTAL_PRICES", raw)
    with pytest.raises(ConfigError, match="REBUTTAL_PRICES must be JSON"):
        price_of("openai:gpt-4o-mini", {})


def test_a_price_lookup_never_touches_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a price lookup opened a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    catalog.lookup.cache_clear()
    assert price_of("anthropic:claude-sonnet-4-5", {}) == (3.0, 15.0)
    assert context_window("openai:gpt-5-mini") > 128_000


class _Refuse(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the http.server hook's name
        self.send_response(401)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def refusing_server() -> Iterator[str]:
    """An endpoint on loopback that answers every request with HTTP 401."""
    server = HTTPServer(("127.0.0.1", 0), _Refuse)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


# "model|case" -> (environment, the one-line error's text; None: passes). {refusing} / {closed}: loopback URLs.
PREFLIGHT_CASES: dict[str, tuple[dict[str, str], str | None]] = {
    "fake|no key needed": ({}, None),
    "local:9b|unknown local model": ({}, "unknown local model '9b'"),
    "openai:gpt-4o-mini|no key": ({}, "model 'openai:gpt-4o-mini' needs the environment variable OPENAI_API_KEY"),
    "openai:gpt-4o-mini|key refused": ({"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": "{refusing}/v1"},
                                       "model 'openai:gpt-4o-mini': the provider refused the API key (HTTP 401)"),
    "openai:qwen|compatible server down": ({"OPENAI_BASE_URL": "{closed}/v1"},
                                           "model 'openai:qwen': cannot reach {closed}/v1/models"),
    "openai:qwen|not a URL": ({"OPENAI_BASE_URL": "localhost:8000"}, "endpoint localhost:8000/models is not an http"),
    "openrouter:openai/gpt-4o-mini|no key": ({}, "needs the environment variable OPENROUTER_API_KEY"),
    "anthropic:claude-sonnet-4-5|no key": ({}, "needs the environment variable ANTHROPIC_API_KEY"
                                           if _has("langchain_anthropic") else "langchain_anthropic is not installed"),
    "ollama:llama3.3|not running": ({"OLLAMA_HOST": "{closed}"}, "cannot reach {closed}/api/tags"
                                    if _has("langchain_ollama") else "langchain_ollama is not installed"),
}


@pytest.mark.parametrize("case", PREFLIGHT_CASES)
def test_preflight_errors_are_one_line(case: str, refusing_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    model = case.split("|")[0]
    env, expected = PREFLIGHT_CASES[case]
    urls = {"refusing": refusing_server, "closed": f"http://127.0.0.1:{closed_port()}"}
    for var, value in env.items():
        monkeypatch.setenv(var, value.format(**urls))
    if expected is None:
        preflight(model)
        return
    with pytest.raises(ProviderError) as err:
        preflight(model)
    assert expected.format(**urls) in str(err.value) and "\n" not in str(err.value), str(err.value)


def test_skip_preflight(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REBUTTAL_SKIP_PREFLIGHT", "1")
    preflight("openai:gpt-4o-mini")  # no key, not probed


@pytest.mark.parametrize(("model", "env", "base_url"), [
    ("openai:gpt-4o-mini", {"OPENAI_API_KEY": "k"}, None),
    ("openai:qwen", {"OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}, "http://127.0.0.1:9/v1"),  # no key needed
    ("openrouter:openai/gpt-4o-mini", {"OPENROUTER_API_KEY": "k"}, OPENROUTER_URL),
])
def test_openai_compatible_chat_models(model: str, env: dict[str, str], base_url: str | None,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from langchain_openai import ChatOpenAI

    monkeypatch.delenv("REBUTTAL_FORBID_REAL_MODELS")
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    chat = make_chat_model(model, max_tokens=123)
    assert isinstance(chat, ChatOpenAI) and chat.model_name == parse_model(model).name
    assert chat.openai_api_base == base_url and chat.max_tokens == 123 and chat.max_retries == 0


def test_the_fake_chat_model() -> None:
    from engine.llm.fake import FakeChatModel

    chat = make_chat_model("fake:250:verbal", max_tokens=10)  # allowed while real models are forbidden
    assert isinstance(chat, FakeChatModel) and chat.latency_ms == 250 and chat.logprobs is False


@pytest.mark.parametrize("model", ["local", "openai:gpt-4o-mini", "openrouter:a/b", "anthropic:c", "ollama:d"])
def test_real_models_are_refused_where_forbidden(model: str) -> None:
    with pytest.raises(ProviderError, match="REBUTTAL_FORBID_REAL_MODELS=1"):
        make_chat_model(model, max_tokens=10)


@pytest.mark.parametrize("model", ["fake", "openai:gpt-4o-mini", "openrouter:a/b", "anthropic:c", "ollama:d"])
def test_only_the_embedded_model_has_server_hooks(model: str) -> None:
    assert server_hooks(model) is None


def test_errors_are_rebuttal_errors() -> None:
    assert issubclass(ConfigError, RebuttalError) and issubclass(ProviderError, RebuttalError)


def _imports(path: Path) -> set[str]:
    """The engine.llm modules a file imports, at the top or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        found |= {n.removeprefix("engine.llm.") for n in names if n.startswith("engine.llm.")}
    return found & {p.stem for p in LLM_DIR.glob("*.py")}


def test_engine_llm_has_no_import_cycle() -> None:
    graph = {p.stem: _imports(p) for p in LLM_DIR.glob("*.py")}
    assert "providers" not in graph["local"] and "local" not in graph["llamacpp"]

    def visit(module: str, path: tuple[str, ...]) -> None:
        assert module not in path, f"import cycle: {' -> '.join((*path, module))}"
        for dep in graph[module]:
            visit(dep, (*path, module))

    for module in graph:
        visit(module, ())


@pytest.mark.parametrize(("text", "temperature"), [("local:1.5b@0.9", 0.9), ("openai:gpt-4o-mini@0", 0.0),
                                                  ("fake@1", 1.0), ("local:0.5b", None)])
def test_a_temperature_after_at_belongs_to_that_model(text: str, temperature: float | None) -> None:
    spec = parse_model(text)
    assert spec.temperature == temperature and "@" not in spec.name and parse_model(spec.text) == spec


def test_the_chat_model_samples_at_the_models_temperature(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.delenv("REBUTTAL_FORBID_REAL_MODELS", raising=False)  # building a client calls nothing
    assert make_chat_model("openai:gpt-4o-mini@0.9", max_tokens=10).temperature == 0.9  # type: ignore[attr-defined]
    assert make_chat_model("openai:gpt-4o-mini", max_tokens=10).temperature == 0.2  # type: ignore[attr-defined]
    assert make_chat_model("fake:5:verbal@0.9", max_tokens=10).latency_ms == 5  # type: ignore[attr-defined]
    assert price_of("openai:gpt-4o-mini@0.9", {"openai:gpt-4o-mini": (1.0, 2.0)}) == (1.0, 2.0)
