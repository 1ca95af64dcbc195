"""A deterministic fake chat model: every answer is a pure function of the prompt.

Used by tests, demos and benchmarks (`--model fake` or `fake:<latency_ms>`). It
reads the markers our prompt templates write (numbered target lines, abstract
labels, issue numbers) and answers schema-valid JSON that refers to them, so a
fake run exercises every stage with realistic cross-references. Faults can be
scripted (by call index or by a substring of the prompt) to test the gateway.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import re
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable, RunnableLambda
from pydantic import BaseModel, PrivateAttr

from engine.llm import fake_answers


class FakeHTTPError(Exception):
    """A scripted provider error carrying an HTTP status like the real SDKs do."""

    def __init__(self, status_code: int, message: str = "", retry_after: float | None = None):
        super().__init__(message or f"HTTP {status_code}")
        self.status_code = status_code
        self.headers = {"retry-after": str(retry_after)} if retry_after is not None else {}


class LengthFinishReasonError(Exception):
    """Like the openai SDK's: the answer hit max_tokens; carries the usage of the cut-off completion."""

    def __init__(self, prompt_tokens: int, completion_tokens: int):
        super().__init__("Could not parse response content as the length limit was reached")
        self.completion = SimpleNamespace(
            usage=SimpleNamespace(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens))


@dataclass
class Fault:
    """A scripted failure: `kind` on calls whose index is in `calls` or whose prompt contains `match`."""

    kind: str  # "429" | "500" | "timeout" | "disconnect" | "junk" | "length" | "auth" | "hang"
    calls: set[int] = field(default_factory=set)
    match: str | None = None
    times: int = 1_000_000
    retry_after: float | None = None

    def hits(self, index: int, prompt: str) -> bool:
        if self.times <= 0:
            return False
        if self.calls and index not in self.calls:
            return False
        return not (self.match is not None and self.match not in prompt)


class FaultPlan:
    """Faults plus a call counter, shareable by every fake model instance of a process."""

    def __init__(self, faults: list[Fault]):
        self.faults = faults
        self.calls = 0

    def next_fault(self, prompt: str) -> Fault | None:
        """Count one call; the first fault that hits it (its budget decremented), or None."""
        index = self.calls
        self.calls += 1
        for fault in self.faults:
            if fault.kind != "hang" and fault.hits(index, prompt):
                fault.times -= 1
                return fault
        return None

    def hangs(self, prompt: str) -> bool:
        """Whether this call hangs; a hung call counts as a call and uses up one of its fault's `times`."""
        for fault in self.faults:
            if fault.kind == "hang" and fault.hits(self.calls, prompt):
                fault.times -= 1
                self.calls += 1
                return True
        return False


_NONCE_MARKER = re.compile(r"<<<(DATA|END) [0-9a-f]{16}>>>")
CANONICAL_NONCE = "0123456789abcdef"  # every nonce reads as this one (the tests' fixed nonce: their answers stay)


def prompt_text(messages: list[BaseMessage]) -> str:
    """All message contents joined, the input of every fake answer; the per-run nonce inside the data markers is
    replaced by a constant, so two runs with the same settings get the same answers (the nonce only guards)."""
    return _NONCE_MARKER.sub(rf"<<<\1 {CANONICAL_NONCE}>>>", "\n".join(str(m.content) for m in messages))


class FakeChatModel(BaseChatModel):
    """Schema-aware deterministic fake with optional latency and scripted faults."""

    latency_ms: float = 0.0
    logprobs: bool = True  # answer `logprobs=True` with OpenAI-style token logprobs (False: like a provider without)
    faults: list[Any] = []
    plan: Any = None
    _calls: int = PrivateAttr(default=0)

    def model_post_init(self, context: Any) -> None:
        if self.plan is None:
            self.plan = FaultPlan(list(self.faults))

    @property
    def _llm_type(self) -> str:
        return "rebuttal-fake"

    @property
    def calls(self) -> int:
        return self._calls

    def _answer(self, messages: list[BaseMessage], schema_name: str | None, logprobs: bool = False) -> AIMessage:
        prompt = prompt_text(messages)
        self._calls += 1
        system = str(messages[0].content) if messages and messages[0].type == "system" else ""
        fault = self.plan.next_fault(prompt)
        if fault is not None:
            return self._message(prompt, self._fault(fault), system)
        # answers read the original request only: a repair turn (junk answer + feedback) leaves them unchanged
        first_ai = next((i for i, m in enumerate(messages) if isinstance(m, AIMessage)), len(messages))
        prompt = prompt_text(messages[:first_ai])
        if schema_name is None and fake_answers.is_yes_no(prompt):
            p = fake_answers.p_yes(prompt)
            if logprobs and self.logprobs:
                msg = self._message(prompt, "Yes" if p >= 0.5 else "No", system)
                msg.response_metadata["logprobs"] = fake_answers.logprobs_for(p)
                return msg
            return self._message(prompt, fake_answers.verbal(p), system)
        if schema_name is None:
            content = "A deterministic fake answer."
        else:
            content = json.dumps(fake_answers.answer(schema_name, prompt))
        return self._message(prompt, content, system)

    @staticmethod
    def _fault(fault: Fault) -> str:
        if fault.kind == "junk":
            return "I think the code is fine. {not json"
        if fault.kind == "timeout":
            raise TimeoutError("fake provider timed out")
        if fault.kind == "disconnect":
            raise ConnectionError("fake provider dropped the connection")
        if fault.kind == "length":
            raise LengthFinishReasonError(prompt_tokens=100, completion_tokens=600)
        if fault.kind == "auth":
            raise FakeHTTPError(401, "invalid API key")
        raise FakeHTTPError(int(fault.kind), f"fake HTTP {fault.kind}", fault.retry_after)

    @staticmethod
    def _message(prompt: str, content: str, system: str = "") -> AIMessage:
        """An answer with usage and llama.cpp-style timings: the system message counts as cached."""
        prompt_tokens, output_tokens = max(1, len(prompt) // 4), max(1, len(content) // 4)
        cached = min(len(system) // 4, prompt_tokens - 1)
        usage = {
            "input_tokens": prompt_tokens, "output_tokens": output_tokens,
            "total_tokens": prompt_tokens + output_tokens, "input_token_details": {"cache_read": cached},
        }
        timings = {"cache_n": cached, "prompt_n": prompt_tokens - cached, "prompt_ms": 10.0 * (prompt_tokens - cached),
                   "predicted_n": output_tokens, "predicted_ms": 50.0 * output_tokens}
        return AIMessage(content=content, usage_metadata=usage, response_metadata={"timings": timings})  # type: ignore[arg-type]

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        if self.plan.hangs(prompt_text(messages)):
            raise TimeoutError("fake provider hung")
        msg = self._answer(messages, kwargs.get("schema_name"), bool(kwargs.get("logprobs")))
        return ChatResult(generations=[ChatGeneration(message=msg)])

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        if self.plan.hangs(prompt_text(messages)):
            await asyncio.sleep(3600)
        if self.latency_ms:
            await asyncio.sleep(self.latency_ms / 1000)
        msg = self._answer(messages, kwargs.get("schema_name"), bool(kwargs.get("logprobs")))
        return ChatResult(generations=[ChatGeneration(message=msg)])

    def with_structured_output(  # type: ignore[override]
        self, schema: Any, *, include_raw: bool = False, **kwargs: Any
    ) -> Runnable:
        """Like the real providers: returns {raw, parsed, parsing_error} when include_raw."""
        name = schema.__name__

        def parse(msg: AIMessage) -> dict[str, Any]:
            try:
                parsed: BaseModel | None = schema.model_validate_json(str(msg.content))
                error = None
            except ValueError as exc:
                parsed, error = None, exc
            if include_raw:
                return {"raw": msg, "parsed": parsed, "parsing_error": error}
            if error:
                raise error
            return parsed  # type: ignore[return-value]

        async def aparse(msg: AIMessage) -> dict[str, Any]:  # without it, each parse would hop to a thread
            return parse(msg)

        return self.bind(schema_name=name) | RunnableLambda(parse, afunc=aparse)


@functools.lru_cache(maxsize=1)
def plan_from_env() -> FaultPlan | None:
    """One process-wide fault plan for subprocess tests: REBUTTAL_FAKE_FAULTS='[{"kind": "500", "match": "x"}]'."""
    raw = os.environ.get("REBUTTAL_FAKE_FAULTS")
    if not raw:
        return None
    try:
        items = json.loads(raw)
        return FaultPlan([Fault(kind=str(f["kind"]), calls=set(f.get("calls", [])), match=f.get("match"),
                      times=int(f.get("times", 1_000_000)), retry_after=f.get("retry_after")) for f in items])
    except (ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"REBUTTAL_FAKE_FAULTS is not a valid fault list: {exc}") from None


def parse_fake_spec(spec: str) -> float:
    """`fake` -> 0 ms, `fake:250` -> 250 ms latency (`fake:verbal`, `fake:250:verbal`: no logprobs)."""
    _, _, rest = spec.partition(":")
    parts = [x for x in rest.split(":") if x and x != "verbal"]
    if not parts:
        return 0.0
    if len(parts) > 1 or not re.fullmatch(r"\d+(\.\d+)?", parts[0]):
        raise ValueError(f"fake model latency must be milliseconds, got {rest!r}")
    return float(parts[0])


def fake_returns_logprobs(spec: str) -> bool:
    """`fake:verbal` (or `fake:<ms>:verbal`) is a fake provider that returns no token logprobs."""
    return "verbal" not in spec.split(":")[1:]
