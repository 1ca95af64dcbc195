"""How the gateway classifies a failed attempt: transient (retry with backoff), cut off, or final."""

from __future__ import annotations

import asyncio

from langchain_core.messages import AIMessage

TRANSIENT_STATUS = {408, 409, 425, 429, 500, 502, 503, 504, 529}
# Exceptions that mean "the model's answer was unusable" (cut off, unparsable): repaired like a parse error.
OUTPUT_ERRORS = {"LengthFinishReasonError", "OutputParserException", "ValidationError", "JSONDecodeError"}


def cut_off_message(exc: BaseException) -> AIMessage | None:
    """The usage of an answer the SDK rejected (e.g. cut off at max_tokens), so its tokens are counted."""
    usage = getattr(getattr(exc, "completion", None), "usage", None)
    if usage is None:
        return None
    tokens = {"input_tokens": int(getattr(usage, "prompt_tokens", 0) or 0),
              "output_tokens": int(getattr(usage, "completion_tokens", 0) or 0)}
    tokens["total_tokens"] = tokens["input_tokens"] + tokens["output_tokens"]
    return AIMessage(content="", usage_metadata=tokens)  # type: ignore[arg-type]


def status_of(exc: BaseException) -> int | None:
    """The HTTP status carried by a provider exception, if any."""
    for obj in (exc, getattr(exc, "response", None)):
        code = getattr(obj, "status_code", None)
        if isinstance(code, int):
            return code
    return None


def retry_after(exc: BaseException) -> float | None:
    """Seconds from a Retry-After header, if the exception carries one."""
    headers = getattr(exc, "headers", None) or getattr(getattr(exc, "response", None), "headers", None)
    if not headers:
        return None
    try:
        value = headers.get("retry-after")
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def is_transient(exc: BaseException) -> bool:
    """Timeouts, dropped connections, 429 and 5xx are worth retrying; auth errors are not."""
    code = status_of(exc)
    if code is not None:
        return code in TRANSIENT_STATUS
    names = {c.__name__ for c in type(exc).__mro__}
    return bool(
        isinstance(exc, TimeoutError | ConnectionError | asyncio.TimeoutError)
        or names & {"APITimeoutError", "APIConnectionError", "ConnectError", "ReadTimeout", "RemoteProtocolError"}
    )
