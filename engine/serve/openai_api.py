"""OpenAI chat-completions shapes for the server: requests, model names, responses, chunks, errors (pure).

Model names: `rebuttal/<workflow>` (every workflow file) and `profile/<name>` (every saved profile).
Extra request options go under the body key `rebuttal` (the openai client's `extra_body`); extra
response data goes under the key `rebuttal` of the completion and of the last stream chunk.
"""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from engine.config import workflow_library
from engine.llm.ledger import LedgerLine
from engine.models import Report
from engine.options import RunOptions, options_model, run_options
from engine.profiles import list_profiles

WORKFLOW_PREFIX = "rebuttal/"
PROFILE_PREFIX = "profile/"


class ApiError(Exception):
    """An error answered as `{"error": {...}}` with an HTTP status, the way OpenAI does."""

    def __init__(self, status: int, message: str, *, type_: str = "invalid_request_error",
                 param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = status, message, type_, param, code

    def body(self) -> dict[str, Any]:
        """The JSON error body."""
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


# Per-request options under the body key `rebuttal` (all optional): the run options of SURFACES["request"] (a
# request can never ask for the unsandboxed opt-out) and the file name of the text.
RequestOptions = options_model("RequestOptions", "request", "Per-request options under the body key `rebuttal`.",
                               filename=(str | None, Field(None, description="File name of the text under review.")))


class ChatRequest(BaseModel):
    """The fields we use of a chat-completions request; other OpenAI fields are accepted and ignored."""

    model_config = ConfigDict(extra="allow")
    model: str
    messages: list[dict[str, Any]] = Field(min_length=1)
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    n: int = 1
    rebuttal: RequestOptions = Field(default_factory=RequestOptions)


def parse_request(data: Any) -> ChatRequest:
    """Validate a decoded body; the first problem becomes a 400 naming the parameter."""
    if not isinstance(data, dict):
        raise ApiError(400, "the request body must be a JSON object")
    try:
        req = ChatRequest.model_validate(data)
    except ValidationError as exc:
        e = exc.errors()[0]
        param = ".".join(str(p) for p in e["loc"])
        code = "missing_required_parameter" if e["type"] == "missing" else "invalid_value"
        raise ApiError(400, f"'{param}': {e['msg']}", param=param, code=code) from None
    if req.n != 1:
        raise ApiError(400, "'n' must be 1: one review per request", param="n", code="invalid_value")
    return req


def run_layers(options: BaseModel, workflow: str | None, profile: str | None,
               default_model: str) -> tuple[RunOptions, RunOptions]:
    """The request's options (with the workflow or profile its model name picks), then the server's default model:
    the layers `engine.api.resolve` orders."""
    return (run_options(options).model_copy(update={"workflow": workflow, "profile": profile}),
            RunOptions(model=default_model))


def model_ids() -> list[str]:
    """Every model name the server answers to."""
    return [f"{WORKFLOW_PREFIX}{w}" for w in workflow_library()] + [f"{PROFILE_PREFIX}{p}" for p in list_profiles()]


def resolve_model(name: str) -> tuple[str | None, str | None]:
    """(workflow, profile) selected by a model name; 404 when unknown."""
    if name.startswith(WORKFLOW_PREFIX) and name[len(WORKFLOW_PREFIX):] in workflow_library():
        return name[len(WORKFLOW_PREFIX):], None
    if name.startswith(PROFILE_PREFIX) and name[len(PROFILE_PREFIX):] in list_profiles():
        return None, name[len(PROFILE_PREFIX):]
    raise ApiError(404, f"The model '{name}' does not exist (GET /v1/models lists them)", param="model",
                   code="model_not_found")


def model_list(created: int = 0) -> dict[str, Any]:
    """The body of GET /v1/models."""
    return {"object": "list", "data": [model_card(m, created) for m in model_ids()]}


def model_card(name: str, created: int = 0) -> dict[str, Any]:
    """One model object."""
    return {"id": name, "object": "model", "created": created, "owned_by": "rebuttal"}


def usage(report: Report) -> dict[str, int]:
    """Summed tokens of every call of the run, judge included."""
    t = report.total
    p, c = (t.prompt_tokens, t.completion_tokens) if t else (0, 0)
    return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}


def extra(report: Report, run_dir: str, calls: list[LedgerLine]) -> dict[str, Any]:
    """The `rebuttal` key: run id and directory, judge, completeness, costs by stage, model and call."""
    dump = report.model_dump(mode="json")
    return {
        "run_id": report.run_id, "run_dir": run_dir, "workflow": report.workflow, "judge": report.judge,
        "models": report.models, "personas": report.personas, "findings": len(report.findings),
        "complete": report.complete, "partial_reason": report.partial_reason, "degraded": report.degraded,
        "cost_by_stage": dump["cost_by_stage"], "cost_by_model": dump["cost_by_model"], "total": dump["total"],
        "calls": [c.model_dump(mode="json") for c in calls],
    }


def completion(model: str, content: str, report: Report, rebuttal: dict[str, Any],
               created: int | None = None) -> dict[str, Any]:
    """A whole `chat.completion` object."""
    return {
        "id": f"chatcmpl-{report.run_id}", "object": "chat.completion", "created": created or int(time.time()),
        "model": model, "system_fingerprint": None,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content, "refusal": None},
                     "logprobs": None, "finish_reason": "stop"}],
        "usage": usage(report), "rebuttal": rebuttal,
    }


def chunk(cid: str, model: str, created: int, delta: dict[str, Any] | None, finish: str | None = None,
          **extra_keys: Any) -> dict[str, Any]:
    """One `chat.completion.chunk`; `delta=None` gives the usage-only chunk (no choices)."""
    choices = [] if delta is None else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]
    return {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
            "system_fingerprint": None, "choices": choices, **extra_keys}


def progress_line(stage: str, done: int, total: int) -> str:
    """The progress text streamed when a stage finishes its calls."""
    return f"> {stage}: {done}/{total} call{'s' if total != 1 else ''} done\n"
