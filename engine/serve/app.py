"""The OpenAI-compatible HTTP API (Starlette): POST /v1/chat/completions, GET /v1/models, GET /health.

Each request is one review run: the last user message (and attached text files) is written under
`<out>/_inputs/`, ingested with secret redaction, and run through `engine.api` into its own run
directory under `<out>`. The answer's content is the report in markdown; `usage` sums every call's
tokens; the key `rebuttal` carries the run id and directory, the judge and the cost breakdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from engine import api
from engine.errors import ProviderError, RebuttalError
from engine.models import Report
from engine.rundir import RunDir
from engine.serve import openai_api as oa
from engine.serve.inputs import InputError, ingest_texts, remove_inputs, target_files

KEEPALIVE_S = 15.0
DISCONNECT_POLL_S = 0.5  # how often a non-streaming request checks that its client is still there


@dataclass
class ServeConfig:
    """Server options: where runs go, the panel's default model, the API key, limits."""

    out_dir: Path = Path("runs")
    model: str = "local"
    api_key: str | None = None
    max_runs: int = 2
    max_body_bytes: int = 2_000_000
    check_providers: bool = True
    _slots: asyncio.Semaphore | None = field(default=None, repr=False)

    def slots(self) -> asyncio.Semaphore:
        """Runs in flight at once across all requests (made in the server's event loop)."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.max_runs)
        return self._slots


def is_loopback(host: str) -> bool:
    """Whether a bind address only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def error_response(exc: oa.ApiError) -> JSONResponse:
    """An OpenAI-style error body with its status."""
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return JSONResponse(exc.body(), status_code=exc.status, headers=headers)


def check_auth(cfg: ServeConfig, request: Request) -> None:
    """401 unless the bearer token matches, when the server has an API key."""
    if not cfg.api_key:
        return
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), cfg.api_key.encode()):
        raise oa.ApiError(401, "Incorrect or missing API key (send 'Authorization: Bearer <key>')",
                          type_="authentication_error", code="invalid_api_key")


async def read_json(request: Request, limit: int) -> Any:
    """The decoded body; 413 past `limit` bytes (checked on the header and while reading)."""
    too_big = oa.ApiError(413, f"request body over {limit} bytes", code="request_too_large")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise too_big
    body = bytearray()
    async for part in request.stream():
        body += part
        if len(body) > limit:
            raise too_big
    try:
        return json.loads(body)
    except ValueError:
        raise oa.ApiError(400, "the request body is not valid JSON") from None
    except RecursionError:
        raise oa.ApiError(400, "the request body is nested too deeply") from None


def prepare_run(cfg: ServeConfig, req: oa.ChatRequest) -> api.PreparedRun:
    """Resolve the model name, write and ingest the target, create the run directory (sync: runs in a thread)."""
    workflow, profile = oa.resolve_model(req.model)
    try:
        files = target_files(req.messages, req.rebuttal.filename)
    except InputError as exc:
        raise oa.ApiError(400, str(exc), param="messages") from None
    folder = None
    try:
        layers = oa.run_layers(req.rebuttal, workflow, profile, cfg.model)
        target, snap = ingest_texts(cfg.out_dir, files)
        folder = Path(target) if Path(target).is_dir() else Path(target).parent
        settings = api.build_settings(target, *layers)
        prep = api.prepare(settings, cfg.out_dir, check_providers=cfg.check_providers, snapshot=snap)
        folder = None  # the run uses it: keep it
        return prep
    except ProviderError as exc:
        raise oa.ApiError(502, public(cfg, exc), type_="api_error", code="provider_unavailable") from None
    except RebuttalError as exc:
        raise oa.ApiError(400, public(cfg, exc)) from None
    finally:
        if folder is not None:  # a rejected request leaves no input folder behind
            remove_inputs(folder)


def public(cfg: ServeConfig, exc: Exception) -> str:
    """An error message without the server's own paths (the output folder is shown as `<out>`)."""
    text = str(exc)
    for path in sorted({str(cfg.out_dir.resolve()), str(cfg.out_dir.absolute()), str(cfg.out_dir)}, key=len,
                       reverse=True):
        if path not in (".", ""):
            text = text.replace(path, "<out>")
    return text


def answer(prep: api.PreparedRun, report: Report) -> tuple[str, dict[str, Any]]:
    """(markdown content, the `rebuttal` extra key) of a finished run."""
    run = RunDir(prep.run_dir)
    return run.report_markdown(), oa.extra(report, str(prep.run_dir), run.ledger_lines())


async def chat_completions(request: Request) -> Response:
    """POST /v1/chat/completions: one review per request; streamed when `stream` is true."""
    cfg: ServeConfig = request.app.state.cfg
    try:
        check_auth(cfg, request)
        req = oa.parse_request(await read_json(request, cfg.max_body_bytes))
        prep = await asyncio.to_thread(prepare_run, cfg, req)
    except oa.ApiError as exc:
        return error_response(exc)
    if req.stream:
        include_usage = bool((req.stream_options or {}).get("include_usage"))
        return StreamingResponse(stream_run(cfg, req.model, prep, include_usage), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    try:
        async with cfg.slots():
            report = await unless_disconnected(request, api.execute(prep))
        md, extra = await asyncio.to_thread(answer, prep, report)
    except ClientGone:  # nobody to answer: the run stopped spending and stays resumable
        return Response(status_code=499)
    except RebuttalError as exc:
        return error_response(run_failed(prep, exc))
    return JSONResponse(oa.completion(req.model, md, report, extra))


class ClientGone(Exception):
    """The client of a non-streaming request disconnected before its run finished."""


async def unless_disconnected(request: Request, coro: Any) -> Report:
    """Await a run, cancelling it (its directory stays resumable) when the client disconnects."""
    task = asyncio.ensure_future(coro)
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=DISCONNECT_POLL_S)
            if done:
                return task.result()
            if await request.is_disconnected():
                raise ClientGone
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, RebuttalError):  # shielded: see stream_run
                await asyncio.shield(task)


def run_failed(prep: api.PreparedRun, exc: Exception) -> oa.ApiError:
    """A 500 (502 for a provider) that names the run directory to resume."""
    status, type_ = (502, "api_error") if isinstance(exc, ProviderError) else (500, "server_error")
    return oa.ApiError(status, f"run {prep.settings.run_id} failed: {exc} (resume it with: rebuttal resume "
                       f"{prep.run_dir})", type_=type_, code="run_failed")


def sse(data: Any) -> str:
    """One server-sent event."""
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"


async def stream_run(cfg: ServeConfig, model: str, prep: api.PreparedRun, include_usage: bool) -> AsyncIterator[str]:
    """SSE chunks: role, a progress line per finished stage, the report, a final chunk, [DONE]."""
    cid, created = f"chatcmpl-{prep.settings.run_id}", int(time.time())
    queue: asyncio.Queue[str] = asyncio.Queue()
    finished: set[tuple[str, int]] = set()

    def listen(stage: str, done: int, total: int) -> None:
        if total and done >= total and (stage, total) not in finished:
            finished.add((stage, total))
            queue.put_nowait(oa.progress_line(stage, done, total))

    async def run() -> Report:
        async with cfg.slots():
            return await api.execute(prep, listener=listen)

    s = prep.settings
    yield sse(oa.chunk(cid, model, created, {"role": "assistant", "content": ""}))
    yield sse(oa.chunk(cid, model, created, {"content": f"> run {s.run_id}: workflow {s.workflow}, "
                                                        f"{s.personas} personas, judge {s.judge_model}, "
                                                        f"~{prep.estimate.calls} calls\n"}))
    task = asyncio.create_task(run())
    try:
        while not task.done() or not queue.empty():
            getter = asyncio.ensure_future(queue.get())
            done, _ = await asyncio.wait({getter, task}, timeout=KEEPALIVE_S, return_when=asyncio.FIRST_COMPLETED)
            if getter in done:
                yield sse(oa.chunk(cid, model, created, {"content": getter.result()}))
            else:
                getter.cancel()
                if not done:
                    yield ": keep-alive\n\n"
        report = task.result()
        md, extra = await asyncio.to_thread(answer, prep, report)
    except RebuttalError as exc:
        yield sse(run_failed(prep, exc).body())
        yield "data: [DONE]\n\n"
        return
    finally:
        if not task.done():  # the client went away: stop spending; the run directory stays resumable
            task.cancel()
            # shielded: when this generator is itself being cancelled, awaiting the task bare would cancel it
            # a second time, mid-cleanup, leaving its checkpoint connection open and the database locked
            with contextlib.suppress(asyncio.CancelledError, RebuttalError):
                await asyncio.shield(task)
    yield sse(oa.chunk(cid, model, created, {"content": "\n" + md}))
    yield sse(oa.chunk(cid, model, created, {}, "stop", rebuttal=extra))
    if include_usage:
        yield sse(oa.chunk(cid, model, created, None, usage=oa.usage(report)))
    yield "data: [DONE]\n\n"


async def list_models(request: Request) -> Response:
    """GET /v1/models: workflows and saved profiles."""
    try:
        check_auth(request.app.state.cfg, request)
        return JSONResponse(await asyncio.to_thread(oa.model_list))
    except oa.ApiError as exc:
        return error_response(exc)
    except RebuttalError as exc:
        return error_response(oa.ApiError(500, str(exc), type_="server_error"))


async def get_model(request: Request) -> Response:
    """GET /v1/models/{model}: one model, or 404."""
    name = request.path_params["model"]
    try:
        check_auth(request.app.state.cfg, request)
        await asyncio.to_thread(oa.resolve_model, name)
    except oa.ApiError as exc:
        return error_response(exc)
    return JSONResponse(oa.model_card(name))


async def health(request: Request) -> Response:
    """GET /health: liveness, no key needed."""
    return JSONResponse({"ok": True})


async def http_error(request: Request, exc: Exception) -> Response:
    """Unknown paths, wrong methods and unexpected crashes, answered OpenAI-style."""
    if not isinstance(exc, HTTPException):  # a bug: the details go to the server log, not to the client
        return error_response(oa.ApiError(500, f"internal server error ({type(exc).__name__})", type_="server_error"))
    status = exc.status_code
    return error_response(oa.ApiError(status, f"{request.method} {request.url.path}: {exc}", code="not_found"
                                      if status == 404 else None))


def create_app(cfg: ServeConfig) -> Starlette:
    """The ASGI application."""
    from engine.serve.runs import resume_run
    app = Starlette(routes=[
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        Route("/v1/models", list_models, methods=["GET"]),
        Route("/v1/models/{model:path}", get_model, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
        Route("/v1/runs/{run_id}/resume", resume_run, methods=["POST"]),
    ], exception_handlers={HTTPException: http_error, Exception: http_error})  # any crash: an OpenAI-shaped 500
    app.state.cfg = cfg
    return app
