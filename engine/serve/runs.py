"""POST /v1/runs/{run_id}/resume: finish a run another worker (or a crash) left interrupted.

With the checkpoints in PostgreSQL (`REBUTTAL_CHECKPOINT_DSN`) and the runs folder on shared storage,
any `rebuttal serve` worker resumes a run that any other started: it goes on after the last finished
step and replays finished calls from the run directory instead of making them again.
"""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from engine import api
from engine.errors import ConfigError, RebuttalError, RunBusyError
from engine.mcp_tools import run_dir_of
from engine.rundir import RunDir
from engine.serve import openai_api as oa


async def resume_run(request: Request) -> Response:
    """Resume the run named in the path; answers the report like a chat completion's `rebuttal` key."""
    from engine.serve.app import check_auth, error_response  # the app module imports this one

    cfg = request.app.state.cfg
    try:
        check_auth(cfg, request)
        try:
            run_dir = run_dir_of(cfg.out_dir, request.path_params["run_id"])
        except ConfigError as exc:
            raise oa.ApiError(404, str(exc), code="run_not_found") from None
        try:
            async with cfg.slots():
                report = await api.resume(run_dir)
        except RunBusyError as exc:
            raise oa.ApiError(409, str(exc), code="run_busy") from None
        except RebuttalError as exc:
            raise oa.ApiError(500, f"resuming {run_dir.name} failed: {exc}", type_="server_error",
                              code="run_failed") from None
    except oa.ApiError as exc:
        return error_response(exc)
    run = RunDir(run_dir)
    md, calls = await asyncio.to_thread(lambda: (run.report_markdown(), run.ledger_lines()))
    return JSONResponse({"content": md, "rebuttal": oa.extra(report, str(run_dir), calls)})
