"""Token counts the engine estimates itself (no tokenizer): one constant for every estimate."""

from __future__ import annotations

import math

CHARS_PER_TOKEN = 3.5  # a conservative average for code and English with BPE tokenizers


def estimate_tokens(text: str) -> int:
    """Estimated tokens of a text: characters / CHARS_PER_TOKEN, rounded up."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def chars_for(tokens: float) -> float:
    """How many characters a budget of tokens holds."""
    return tokens * CHARS_PER_TOKEN
