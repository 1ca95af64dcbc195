"""Reading the engine's numeric environment variables (REBUTTAL_THREADS, REBUTTAL_CONTEXT, ...) one way."""

from __future__ import annotations

import os

from engine.errors import ConfigError, RebuttalError


def positive_int(name: str, what: str = "a positive integer",
                 error: type[RebuttalError] = ConfigError) -> int | None:
    """$name as a positive integer; None when unset or blank; `error` with one line saying so otherwise."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise error(f"{name}={raw!r}: expected {what}")
    return int(raw)
