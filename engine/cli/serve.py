"""CLI commands to serve and scale reviews: `serve`, `profile save|list|show|delete`, `batch`."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.table import Table

from engine.console import err, fail, out
from engine.errors import ConfigError, RebuttalError
from engine.llm.providers import parse_model
from engine.options import SURFACES, command_line, with_options
from engine.profiles import (
    Profile,
    delete_profile,
    expand_panel,
    list_profiles,
    load_profile,
    save_profile,
)

Opt = typer.Option
API_KEY_ENV = "REBUTTAL_API_KEY"


def serve(
    host: Annotated[str, Opt(help="Address to bind; anything but loopback needs an API key.")] = "127.0.0.1",
    port: Annotated[int, Opt(help="Port to listen on.")] = 8080,
    model: Annotated[str, Opt(help="Default provider:model of the panels (a profile may name others).")] = "local",
    out_dir: Annotated[Path, Opt("--out", help="Folder for run directories.")] = Path("runs"),
    api_key: Annotated[str | None, Opt(help=f"Require 'Authorization: Bearer KEY' (or set {API_KEY_ENV}).",
                                       envvar=API_KEY_ENV, show_envvar=False)] = None,
    max_runs: Annotated[int, Opt(help="Reviews running at once; more requests wait.")] = 2,
    max_body_bytes: Annotated[int, Opt(help="Largest accepted request body.")] = 2_000_000,
) -> None:
    """Serve an OpenAI-compatible API: POST /v1/chat/completions runs a review, GET /v1/models lists them."""
    try:
        import uvicorn

        from engine.serve.app import ServeConfig, create_app, is_loopback
    except ImportError:
        fail("the server needs its extra: pip install -e '.[serve]'")
        return
    try:
        parse_model(model)
    except RebuttalError as exc:
        fail(str(exc))
    if not is_loopback(host) and not api_key:
        fail(f"binding to {host} (not loopback) needs an API key: --api-key KEY or {API_KEY_ENV}")
    cfg = ServeConfig(out_dir=out_dir, model=model, api_key=api_key or None, max_runs=max_runs,
                      max_body_bytes=max_body_bytes)
    err.print(f"rebuttal serve: http://{host}:{port}/v1 (model {model}, runs in {out_dir}, "
              f"{'API key required' if api_key else 'no API key'})", highlight=False)
    uvicorn.run(create_app(cfg), host=host, port=port, log_level="info")


profile_app = typer.Typer(help="Saved review options, used as --profile NAME and as server model profile/NAME.",
                          no_args_is_help=True)


@profile_app.command("save")
@with_options("profile-save")
def profile_save(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Profile name (lowercase letters, digits, dashes).")],
    description: Annotated[str, Opt(help="One line shown by `profile list`.")] = "",
    **options: Any,
) -> None:
    """Save (or replace) a profile in $REBUTTAL_HOME/profiles/NAME.yaml."""
    try:
        given = command_line(ctx, options, SURFACES["profile-save"])
        prof = Profile(description=description, **given.model_dump(exclude_none=True))
        path, replaced = save_profile(name, prof)
    except RebuttalError as exc:
        fail(str(exc))
        return
    out.print(f"{'replaced' if replaced else 'saved'} profile {name}: {path}", highlight=False)


@profile_app.command("list")
def profile_list() -> None:
    """List saved profiles."""
    t = Table(title=f"Profiles ({os.environ.get('REBUTTAL_HOME') or '~/.config/rebuttal'}/profiles)")
    for col in ("name", "workflow", "model", "panel", "judge", "description"):
        t.add_column(col, overflow="fold")
    for name in list_profiles():
        try:
            p = load_profile(name)
        except RebuttalError as exc:
            t.add_row(name, "", "", "", "", f"[red]invalid: {exc}[/]")
            continue
        t.add_row(name, p.workflow or "", p.model or "", ", ".join(p.panel or []), p.judge or "", p.description)
    out.print(t)


@profile_app.command("show")
def profile_show(name: Annotated[str, typer.Argument()]) -> None:
    """Print a profile as YAML, with its panel expanded."""
    try:
        p = load_profile(name)
        expanded = expand_panel(p.panel or [], (name,))
    except RebuttalError as exc:
        fail(str(exc))
        return
    print(yaml.safe_dump(p.model_dump(exclude_defaults=True, exclude_none=True), sort_keys=False).rstrip())
    if expanded != (p.panel or []):
        print(f"# panel expanded: {', '.join(expanded)}")


@profile_app.command("delete")
def profile_delete(name: Annotated[str, typer.Argument()]) -> None:
    """Delete a saved profile."""
    try:
        path = delete_profile(name)
    except RebuttalError as exc:
        fail(str(exc))
        return
    out.print(f"deleted profile {name}: {path}", highlight=False)


def batch_table(entries: list[dict[str, Any]]) -> Table:
    """The summary: target, run dir, findings, cost, status."""
    t = Table(title=f"Batch: {len(entries)} target(s)")
    for col in ("target", "run dir", "findings", "calls", "cost (USD)", "status"):
        t.add_column(col, overflow="fold")
    for e in entries:
        sp = e.get("spent") or {}
        status = e["status"] + (f": {e['error']}" if e.get("error") else "")
        color = {"complete": "green", "partial": "yellow"}.get(e["status"], "red")
        t.add_row(e["target"], e.get("run_dir") or "-", "-" if e.get("findings") is None else str(e["findings"]),
                  str(sp.get("calls", "-")), f"{sp['usd']:.4f}" if "usd" in sp else "-", f"[{color}]{status}[/]")
    return t


BATCH_HELP = {"max_calls": "Global call limit, shared fairly by the runs.",
              "max_tokens": "Global token limit, shared fairly by the runs.",
              "max_usd": "Global cost limit, shared fairly by the runs.",
              "concurrency": "Calls in flight at once within each run.",
              "profile": "Saved profile for every target (an entry's own options and profile win)."}


@with_options("batch", help=BATCH_HELP)
def batch(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Targets: one path per line (# comments) or a YAML list.")],
    out_dir: Annotated[Path, Opt("--out", help="Folder for the run directories and batch.json.")] = Path("runs"),
    jobs: Annotated[int, Opt(help="Reviews running at once.")] = 2,
    as_json: Annotated[bool, Opt("--json", help="Print the entries as JSON instead of a table.")] = False,
    quiet: Annotated[bool, Opt("--quiet", "-q", help="No line per finished target.")] = False,
    **options: Any,
) -> None:
    """Review many targets, one run directory each; run it again to resume (finished runs are skipped)."""
    from engine.batch import Batch, load_items

    def done(e: dict[str, Any]) -> None:
        if not quiet and not as_json:
            err.print(f"  {e['status']:<8} {e['target']}" + (f" ({e['error']})" if e.get("error") else ""),
                      highlight=False)

    try:
        opts = command_line(ctx, options, SURFACES["batch"])
        items = load_items(file)
        if jobs < 1:
            raise ConfigError("--jobs must be at least 1")
        entries = asyncio.run(Batch(items, out_dir, opts, jobs=jobs, on_done=done).run())
    except KeyboardInterrupt:
        err.print(f"interrupted: run the same command again to resume (state in {out_dir / 'batch.json'})")
        raise typer.Exit(130) from None
    except RebuttalError as exc:
        fail(str(exc))
        return
    if as_json:
        print(json.dumps(entries, indent=2))
    else:
        out.print(batch_table(entries))
    bad = [e for e in entries if e["status"] not in ("complete", "partial")]
    if bad:
        err.print(f"{len(bad)} of {len(entries)} target(s) failed: {', '.join(e['target'] for e in bad)}",
                  highlight=False, soft_wrap=True)
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add `serve`, `profile` and `batch` to the `rebuttal` command."""
    app.command("serve")(serve)
    app.add_typer(profile_app, name="profile")
    app.command("batch")(batch)
