"""The one gateway every LLM call goes through.

It records the ledger and the full prompt/response of each call, enforces the
budget before each call, bounds concurrency, times out, retries transient
errors with exponential backoff and jitter (honouring Retry-After), never
retries auth errors, repairs invalid structured output by feeding the
validation error back a bounded number of times, and replays finished calls
from `calls/<call-id>.json` so a resumed run never repeats one.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from pydantic import BaseModel

from engine.artifacts import write_atomic
from engine.config import RunSettings
from engine.errors import BudgetExceeded, ModelOutputError, ProviderError
from engine.llm.ledger import Ledger, LedgerLine, read_ledger
from engine.llm.llamacpp import server_timings, until_stalled
from engine.llm.logprobs import JudgeAnswer, judge_answer
from engine.llm.providers import ServerHooks, parse_model, price_of, server_hooks
from engine.llm.retry import OUTPUT_ERRORS, cut_off_message, is_transient, retry_after, status_of
from engine.paths import slugify
from engine.rundir import RunDir
from engine.tokens import estimate_tokens

T = TypeVar("T", bound=BaseModel)
ModelFactory = Callable[[str, int], BaseChatModel]
WARM_STAGE = "warm"  # ledger stage of prefix-warming calls (engine overhead, outside the budget)
# one attempt of a call: (raw answer, parsed record or None, parse error or None)
Call = Callable[[list[BaseMessage]], Awaitable[tuple[AIMessage | None, Any, BaseException | None]]]


def call_id(stage: str, persona: str, subject: str) -> str:
    """Deterministic id of a logical call: same stage, persona and subject -> same id."""
    return "--".join(slugify(x, "none") for x in (stage, persona, subject))


@dataclass
class Usage:
    calls: int = 0
    tokens: int = 0
    usd: float = 0.0


@dataclass
class Gateway:
    """Budgeted, recorded, retried, cached access to chat models for one run."""

    run_dir: Path
    settings: RunSettings
    factory: ModelFactory
    on_call_done: Callable[[str], None] = lambda stage: None
    sleep: Callable[[float], Any] = asyncio.sleep
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    used: Usage = field(default_factory=Usage)
    reserved: Usage = field(default_factory=Usage)
    stopped: str | None = None

    def __post_init__(self) -> None:
        self.ledger = Ledger(RunDir(self.run_dir).ledger)
        self._ok_calls: set[str] = set()
        for line in read_ledger(self.ledger.path):
            if line.stage != WARM_STAGE:  # warming is the engine's own overhead, not a call of the budget
                self._account(line.prompt_tokens + line.completion_tokens, line.cost_usd or 0.0)
            if line.outcome == "ok":
                self._ok_calls.add(line.call_id)
        self._sem = asyncio.Semaphore(self.settings.concurrency)
        self._models: dict[tuple[str, int], BaseChatModel] = {}
        self._hooks: dict[str, ServerHooks | None] = {}
        self._warmed: dict[str, asyncio.Future[None]] = {}

    def hooks(self, model: str) -> ServerHooks | None:
        """The model server's warming and progress hooks (embedded local model only), looked up once."""
        if model not in self._hooks:
            self._hooks[model] = server_hooks(model)
        return self._hooks[model]

    async def warm(self, model: str, system: str) -> None:
        """Evaluate a new shared prefix once and copy it to every idle slot before calls that share it run.

        The first call with a new system prompt does it while the others with the same prefix wait; each
        warm is one ledger line (stage `warm`) and outside the budget. A failed warm is recorded, and the
        calls then evaluate the prefix themselves.
        """
        hooks = self.hooks(model)
        if hooks is None:
            return
        key = hashlib.sha256(f"{hooks.server or model}\n{system}".encode()).hexdigest()
        if key in self._warmed:
            await asyncio.shield(self._warmed[key])
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._warmed[key] = done
        started, t0 = datetime.now(UTC).isoformat(timespec="seconds"), time.monotonic()
        try:
            info = await asyncio.to_thread(hooks.warm, system)
            outcome = "ok" if "skipped" not in info else f"skipped: {info['skipped']}"
        except Exception as exc:  # recorded in the ledger; the calls go on without a warm prefix
            info, outcome = {}, f"error: {type(exc).__name__}: {str(exc)[:200]}"
        finally:
            done.set_result(None)
        evaluated, cached = int(info.get("evaluated") or 0), int(info.get("cached") or 0)
        self.ledger.append(LedgerLine(
            call_id=f"warm--{key[:12]}", attempt=1, stage=WARM_STAGE, persona="panel", model=model,
            prompt_tokens=evaluated + cached, completion_tokens=1 if outcome == "ok" else 0, cost_usd=0.0,
            latency_s=round(time.monotonic() - t0, 3), outcome=outcome, started=started, prompt_cached=cached,
            slot=(info.get("slots") or [None])[0],
        ))

    def _account(self, tokens: int, usd: float) -> None:
        self.used.calls += 1
        self.used.tokens += tokens
        self.used.usd += usd

    def model(self, name: str, max_tokens: int) -> BaseChatModel:
        """The chat model for a name and output limit, built once."""
        key = (name, max_tokens)
        if key not in self._models:
            self._models[key] = self.factory(name, max_tokens)
        return self._models[key]

    def estimate_usd(self, model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
        """Cost of a call at the model's price (providers.price_of); None when the price is unknown."""
        price = price_of(model, self.settings.prices)
        if price is None:
            return None
        return (prompt_tokens * price[0] + completion_tokens * price[1]) / 1_000_000

    def _reserve(self, model: str, est_prompt: int, max_tokens: int) -> tuple[int, float]:
        b = self.settings.budget
        tokens = est_prompt + max_tokens
        usd = self.estimate_usd(model, est_prompt, max_tokens) or 0.0
        reason = None
        if b.max_calls is not None and self.used.calls + self.reserved.calls + 1 > b.max_calls:
            reason = f"max_calls={b.max_calls} reached"
        elif b.max_tokens is not None and self.used.tokens + self.reserved.tokens + tokens > b.max_tokens:
            reason = f"max_tokens={b.max_tokens} would be exceeded"
        elif b.max_usd is not None and self.used.usd + self.reserved.usd + usd > b.max_usd:
            reason = f"max_usd={b.max_usd} would be exceeded"
        if reason:
            self.stopped = self.stopped or f"budget: {reason}"
            raise BudgetExceeded(self.stopped)
        self.reserved.calls += 1
        self.reserved.tokens += tokens
        self.reserved.usd += usd
        return tokens, usd

    def _release(self, tokens: int, usd: float) -> None:
        self.reserved.calls -= 1
        self.reserved.tokens -= tokens
        self.reserved.usd -= usd

    def _cached(self, cid: str, sha: str, schema: type[T]) -> T | None:
        data = RunDir(self.run_dir).call_record(cid)
        if data is None:
            return None
        if data.get("prompt_sha") != sha or data.get("parsed") is None:
            return None
        return schema.model_validate(data["parsed"])

    async def structured(
        self, *, stage: str, persona: str, subject: str, model: str, schema: type[T],
        system: str, user: str, max_tokens: int,
    ) -> T:
        """One logical structured call: cached, budgeted, retried, recorded."""
        method = parse_model(model).structured_method

        async def call(messages: list[BaseMessage]) -> tuple[AIMessage | None, Any, BaseException | None]:
            # built on first use, not before the replay check: a resumed run never starts a model it does not call
            runnable = self.model(model, max_tokens).with_structured_output(schema, method=method, include_raw=True)
            out = await runnable.ainvoke(messages)
            return out["raw"], out["parsed"], out["parsing_error"]

        def repair(error: BaseException) -> str:
            return (f"That answer did not validate against the JSON schema: {str(error)[:500]}\n"
                    "Answer again with only valid JSON for the schema.")

        return await self._logical(stage, persona, subject, model, schema, schema.__name__, system, user,
                                   max_tokens, call, repair)

    async def yes_no(
        self, *, stage: str, persona: str, subject: str, model: str, system: str, user: str, max_tokens: int,
    ) -> JudgeAnswer:
        """One yes/no question: P(yes) from the first answer token's logprobs where the provider returns them
        (asked with `logprobs=True, top_logprobs=10`), else the verbal answer; cached, budgeted, retried,
        recorded like every call. A provider that refuses the logprobs option (HTTP 400) is asked again
        without it."""
        asks_logprobs = {"on": parse_model(model).logprobs}

        async def call(messages: list[BaseMessage]) -> tuple[AIMessage | None, Any, BaseException | None]:
            base = self.model(model, max_tokens)
            bound = base.bind(logprobs=True, top_logprobs=10) if asks_logprobs["on"] else base
            raw = await bound.ainvoke(messages)
            parsed = judge_answer(str(raw.content), raw.response_metadata.get("logprobs"))
            return raw, parsed, None if parsed is not None else ValueError(f"not yes/no/unsure: {raw.content!r}")

        def repair(error: BaseException) -> str:
            return "Answer with exactly one word: yes, no or unsure."

        def refused(error: BaseException) -> bool:
            if asks_logprobs["on"] and status_of(error) == 400:
                asks_logprobs["on"] = False
                return True
            return False

        return await self._logical(stage, persona, subject, model, JudgeAnswer, "JudgeAnswer:yes-no", system, user,
                                   max_tokens, call, repair, refused)

    async def _logical(
        self, stage: str, persona: str, subject: str, model: str, schema: type[T], kind: str, system: str,
        user: str, max_tokens: int, call: Call, repair: Callable[[BaseException], str],
        refused: Callable[[BaseException], bool] = lambda exc: False,
    ) -> T:
        """Replay a finished call from calls/, or make it (with attempts) and record it there."""
        cid = call_id(stage, persona, subject)
        sha = hashlib.sha256(f"{model}\n{kind}\n{system}\n{user}".encode()).hexdigest()
        hit = self._cached(cid, sha, schema)
        if hit is not None:
            self._recover_ledger_line(cid)
            self.on_call_done(stage)
            return hit
        if self.stopped:
            raise BudgetExceeded(self.stopped)
        self.model(model, max_tokens)  # a local model's server starts here, before its prefix is warmed
        await self.warm(model, system)
        messages: list[BaseMessage] = [SystemMessage(system), HumanMessage(user)]
        record: dict[str, Any] = {
            "call_id": cid, "stage": stage, "persona": persona, "model": model, "subject": subject,
            "schema": kind.split(":")[0], "prompt_sha": sha,
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
            "attempts": [], "parsed": None,
        }
        try:
            result = await self._attempts(cid, stage, persona, model, call, repair, refused, messages, max_tokens,
                                          record)
        finally:
            if record["parsed"] is None:  # a failed call: its attempts are kept for inspection
                await self._save(cid, record)
        self.on_call_done(stage)
        return result

    async def _save(self, cid: str, record: dict[str, Any]) -> None:
        """Write calls/<cid>.json (encoded here in C, no indent: ~10x faster; written and fsynced off the loop)."""
        text = json.dumps(record, ensure_ascii=False) + "\n"
        # shielded: a Ctrl-C here would otherwise cancel the write while it still waits in the thread pool's
        # queue, and a paid call would be made again on resume; shielded, the executor's shutdown awaits it
        await asyncio.shield(asyncio.to_thread(write_atomic, self.run_dir, RunDir.call_file(cid), text))

    def _recover_ledger_line(self, cid: str) -> None:
        """A replayed call whose `ok` ledger line a kill -9 cut off (after its record was saved): add it once."""
        if cid in self._ok_calls:
            return
        line = json.loads((self.run_dir / RunDir.call_file(cid)).read_text(encoding="utf-8")).get("ledger")
        if line is not None:
            entry = LedgerLine.model_validate(line)
            self._account(entry.prompt_tokens + entry.completion_tokens, entry.cost_usd or 0.0)
            self.ledger.append(entry)
        self._ok_calls.add(cid)

    async def _attempts(
        self, cid: str, stage: str, persona: str, model: str, call: Call, repair: Callable[[BaseException], str],
        refused: Callable[[BaseException], bool], messages: list[BaseMessage], max_tokens: int,
        record: dict[str, Any],
    ) -> Any:
        transient_left, parse_left, attempt = self.settings.max_retries, self.settings.parse_retries, 0
        while True:
            attempt += 1
            est_prompt = sum(estimate_tokens(str(m.content)) for m in messages)
            reserved = self._reserve(model, est_prompt, max_tokens)
            started = datetime.now(UTC).isoformat(timespec="seconds")
            t0 = time.monotonic()
            raw: AIMessage | None = None
            try:
                async with self._sem:
                    t0 = time.monotonic()
                    hooks = self.hooks(model)
                    if hooks is None:
                        raw, parsed, error = await asyncio.wait_for(call(messages), self.settings.timeout_s)
                    else:  # a local call is alive while its server advances: no fixed deadline
                        raw, parsed, error = await until_stalled(call(messages), hooks.progress,
                                                                 self.settings.timeout_s)
                if parsed is None and error is None:
                    error = ValueError("the model returned no structured output")
                outcome = "ok" if error is None else "parse_error"
            except asyncio.CancelledError:
                self._release(*reserved)
                raise
            except Exception as exc:  # classified below; anything unknown is re-raised
                parsed, error = None, exc
                raw = cut_off_message(exc)
                if type(exc).__name__ in OUTPUT_ERRORS:
                    outcome = "parse_error"
                else:
                    outcome = f"error: {type(exc).__name__}: {str(exc)[:200] or 'no message'}"
            latency = time.monotonic() - t0
            self._release(*reserved)
            p_tok, c_tok, estimated = self._tokens(raw, messages)
            cost = self.estimate_usd(model, p_tok, c_tok)
            self._account(p_tok + c_tok, cost or 0.0)
            line = LedgerLine(
                call_id=cid, attempt=attempt, stage=stage, persona=persona, model=model,
                prompt_tokens=p_tok, completion_tokens=c_tok, cost_usd=cost, latency_s=round(latency, 3),
                outcome=outcome, tokens_estimated=estimated, started=started, **server_timings(raw),
            )
            record["attempts"].append({
                "attempt": attempt, "outcome": outcome, "latency_s": round(latency, 3),
                "raw": str(raw.content) if raw is not None else None,
            })
            if outcome == "ok":
                # the record resume replays is durable before the ledger says the call is done: a kill at any
                # instant repeats only the calls still in flight (a record without its line gets it on resume)
                record["parsed"], record["ledger"] = parsed.model_dump(), line.model_dump()
                await self._save(cid, record)
                self.ledger.append(line)
                self._ok_calls.add(cid)
                return parsed
            self.ledger.append(line)
            if outcome == "parse_error":
                if parse_left <= 0:
                    raise ModelOutputError(f"{stage}/{persona}: the model kept returning invalid output ({error})")
                parse_left -= 1
                if type(error).__name__ == "LengthFinishReasonError":
                    feedback = ("Your answer was cut off at the length limit. Answer again, much shorter: "
                                "fewer items and one short sentence per reason, as valid JSON for the schema.")
                else:
                    feedback = repair(error)
                previous = [AIMessage(str(raw.content))] if raw is not None and raw.content else []
                messages = [*messages, *previous, HumanMessage(feedback)]
                continue
            assert error is not None
            if refused(error):  # the provider refused an option of the call: asked again without it
                record["attempts"][-1]["outcome"] += " (asked again without logprobs)"
                continue
            if not is_transient(error):
                code = status_of(error)
                if code in (401, 403):
                    raise ProviderError(f"{model}: the provider refused the call (HTTP {code}: auth)") from None
                if code is not None:
                    raise ProviderError(f"{model}: the provider refused the call (HTTP {code})") from None
                raise error
            if transient_left <= 0:
                raise ProviderError(f"{model}: gave up after {attempt} attempts ({outcome[7:]})") from None
            transient_left -= 1
            await self.sleep(self.backoff(attempt, retry_after(error)))

    def backoff(self, attempt: int, hint: float | None) -> float:
        """Exponential backoff with full jitter, at least the provider's Retry-After."""
        base = min(60.0, 1.0 * 2 ** (attempt - 1))
        delay = self.rng.uniform(base / 2, base)
        return max(delay, hint or 0.0)

    @staticmethod
    def _tokens(raw: AIMessage | None, messages: list[BaseMessage]) -> tuple[int, int, bool]:
        if raw is None:  # the provider failed before answering: nothing was consumed
            return 0, 0, False
        usage = getattr(raw, "usage_metadata", None)
        if usage:
            return int(usage.get("input_tokens", 0)), int(usage.get("output_tokens", 0)), False
        prompt = sum(estimate_tokens(str(m.content)) for m in messages)
        return prompt, estimate_tokens(str(raw.content)), True
