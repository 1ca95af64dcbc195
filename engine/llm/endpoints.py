"""What the providers share about reaching an HTTP endpoint: API keys, optional SDKs, timeouts, a probe."""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from typing import Any

from engine.errors import ProviderError


def request_timeout(seconds: float | None = 600) -> Any:
    """An httpx.Timeout: unhashable, so langchain-openai builds a client per model instead of sharing a
    process-wide cached one bound to the first event loop (which fails in a second `asyncio.run`)."""
    import httpx

    return httpx.Timeout(seconds)


def require_key(var: str, model: str) -> str:
    """The API key in environment variable `var`; a one-line ProviderError naming it when unset."""
    key = os.environ.get(var)
    if not key:
        raise ProviderError(f"model '{model}' needs the environment variable {var} (an API key)")
    return key


def import_extra(module: str, extra: str) -> Any:
    """Import an optional provider SDK; a one-line ProviderError with the install command when missing."""
    try:
        return __import__(module, fromlist=["_"])
    except ImportError:
        raise ProviderError(f"{module} is not installed; run: pip install -e '.[{extra}]'") from None


def probe(url: str, headers: dict[str, str], model: str) -> None:
    """GET url (first byte only): a one-line ProviderError when the key is refused or the endpoint unreachable."""
    if not url.startswith(("http://", "https://")):
        raise ProviderError(f"model '{model}': endpoint {url} is not an http(s) URL")
    try:
        req = urllib.request.Request(url, headers=headers)
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - http(s) only, checked above
            resp.read(1)
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            raise ProviderError(f"model '{model}': the provider refused the API key (HTTP {exc.code})") from None
        raise ProviderError(f"model '{model}': endpoint {url} answered HTTP {exc.code}") from None
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ProviderError(f"model '{model}': cannot reach {url} ({reason})") from None
