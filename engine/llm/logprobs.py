"""Read a yes/no answer: P(yes) from token log-probabilities, or a verbal label (pure functions).

OpenAI-compatible servers (llama.cpp's included) return, per generated token, its log-probability and
the `top_logprobs` alternatives at that position (langchain-openai puts them in the AIMessage's
`response_metadata["logprobs"]["content"]`). The judge's score is P(yes) = softmax over the yes and no
alternatives of the first answer token (the first token that is not blank or punctuation): variants
such as "Yes", " yes" and "YES" are summed. When neither appears there, there is no log-prob score.
"""

from __future__ import annotations

import math
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Verbal = Literal["yes", "no", "unsure"]
VERBAL_P: dict[str, float] = {"yes": 0.9, "no": 0.1, "unsure": 0.5}  # a verbal answer as a probability
_STRIP = re.compile(r"[\W_]+", re.UNICODE)


def word(token: str) -> str:
    """A token reduced to its lowercase letters and digits ('▁Yes', ' **No' -> 'yes', 'no')."""
    return _STRIP.sub("", token.replace("▁", " ").replace("Ġ", " ")).lower()


def first_answer_position(content: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The first generated token that carries a word (skipping blanks, quotes, asterisks)."""
    for pos in content:
        if isinstance(pos, dict) and word(str(pos.get("token", ""))):
            return pos
    return None


def p_yes_from_logprobs(logprobs: Any) -> float | None:
    """P(yes) over {yes, no} at the first answer token; None when the logprobs are missing or name neither."""
    if not isinstance(logprobs, dict):
        return None
    content = logprobs.get("content")
    if not isinstance(content, list):
        return None
    pos = first_answer_position(content)
    if pos is None:
        return None
    alternatives = list(pos.get("top_logprobs") or [])
    if not any(a.get("token") == pos.get("token") for a in alternatives if isinstance(a, dict)):
        alternatives.append({"token": pos.get("token", ""), "logprob": pos.get("logprob")})
    mass = {"yes": 0.0, "no": 0.0}
    for alt in alternatives:
        if not isinstance(alt, dict):
            continue
        w, lp = word(str(alt.get("token", ""))), alt.get("logprob")
        if w in mass and isinstance(lp, int | float) and math.isfinite(lp):
            mass[w] += math.exp(lp)
    total = mass["yes"] + mass["no"]
    if total <= 0:
        return None
    return mass["yes"] / total


def verbal_answer(text: str) -> Verbal | None:
    """The first word of an answer when it is yes, no or unsure (also 'true'/'false', 'correct'); else None."""
    words = [word(w) for w in str(text).split()]
    words = [w for w in words if w]
    if not words:
        return None
    first = words[0]
    table: dict[str, Verbal] = {"yes": "yes", "true": "yes", "correct": "yes", "no": "no", "false": "no",
                                "incorrect": "no", "unsure": "unsure", "uncertain": "unsure", "unknown": "unsure",
                                "maybe": "unsure"}
    return table.get(first)


class JudgeAnswer(BaseModel):
    """The judge's answer to one yes/no question, as the gateway records and replays it."""

    model_config = ConfigDict(extra="forbid")
    mode: Literal["logprob", "verbal"]
    p_yes: float = Field(ge=0, le=1)
    answer: str = ""  # the answer's first word as generated ("" when the text named none)


def judge_answer(content: str, logprobs: Any) -> JudgeAnswer | None:
    """P(yes) from logprobs when they name yes/no, else the verbal label; None when neither can be read."""
    said = verbal_answer(content)
    p = p_yes_from_logprobs(logprobs)
    if p is not None:
        return JudgeAnswer(mode="logprob", p_yes=round(p, 6), answer=said or "")
    if said is None:
        return None
    return JudgeAnswer(mode="verbal", p_yes=VERBAL_P[said], answer=said)
