"""Where a run's LangGraph checkpoints live: `checkpoint.sqlite` in the run directory (the default), or a
PostgreSQL database shared by several processes (`REBUTTAL_CHECKPOINT_DSN`), so a run interrupted in one
`rebuttal serve` worker resumes in another. The choice is made when the run is created and recorded in
run.yaml (`checkpoints: postgres`); the run directory itself (artifacts, the call cache) must then be on
storage every worker sees.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Literal

import aiosqlite
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from engine.errors import ConfigError
from engine.rundir import RunDir

DSN_ENV = "REBUTTAL_CHECKPOINT_DSN"
Backend = Literal["sqlite", "postgres"]
SETUP_LOCK = 0x72656275  # pg_advisory_lock key: one process at a time runs the checkpoint migrations


def configured_backend() -> Backend:
    """The backend new runs use: postgres when REBUTTAL_CHECKPOINT_DSN is set, else sqlite."""
    return "postgres" if os.environ.get(DSN_ENV) else "sqlite"


def run_backend(run_dir: Path) -> Backend:
    """The backend a run was created with (run.yaml `checkpoints`, absent for sqlite)."""
    run = RunDir(run_dir)
    value = run.info().get("checkpoints", "sqlite")
    if value not in ("sqlite", "postgres"):
        raise ConfigError(f"{run.run_yaml}: checkpoints must be sqlite or postgres, got {value!r}")
    return value  # type: ignore[no-any-return]


def redact_dsn(dsn: str) -> str:
    """A DSN fit for an error message: no password."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", dsn)


@contextlib.asynccontextmanager
async def open_saver(run_dir: Path, serde: Any) -> AsyncIterator[Any]:
    """The checkpointer of a run, open for the duration of one execution."""
    if run_backend(run_dir) == "sqlite":
        async with aiosqlite.connect(str(RunDir(run_dir).checkpoint)) as conn:
            # WAL + NORMAL: no fsync per checkpoint write; a power cut may drop the last writes, which resume
            # re-runs from calls/*.json without repeating a model call
            await conn.execute("PRAGMA journal_mode=WAL")
            await conn.execute("PRAGMA synchronous=NORMAL")
            yield AsyncSqliteSaver(conn, serde=serde)
        return
    dsn = os.environ.get(DSN_ENV)
    if not dsn:
        raise ConfigError(f"run {run_dir.name} keeps its checkpoints in PostgreSQL: set {DSN_ENV} to its database")
    import psycopg
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

    try:
        async with AsyncPostgresSaver.from_conn_string(dsn, serde=serde) as saver:
            async with saver.conn.cursor() as cur:  # concurrent first setups would race on the migrations table
                await cur.execute("SELECT pg_advisory_lock(%s)", (SETUP_LOCK,))
                try:
                    await saver.setup()
                finally:
                    await cur.execute("SELECT pg_advisory_unlock(%s)", (SETUP_LOCK,))
            yield saver
    except psycopg.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"PostgreSQL checkpoint store {redact_dsn(dsn)}: {first}") from None
