"""The `rebuttal mcp` command: serve the engine to coding agents over the Model Context Protocol."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

Opt = typer.Option


def register(app: typer.Typer) -> None:
    """Add `mcp` to the `rebuttal` app."""

    @app.command("mcp")
    def mcp_cmd(
        model: Annotated[str, Opt(help="provider:model used when a review names none.")] = "local",
        out_dir: Annotated[Path, Opt("--out", help="Folder for run directories (tools and resources see only "
                                                   "this one).")] = Path("runs"),
        http_port: Annotated[int | None, Opt("--http-port", help="Serve streamable HTTP on 127.0.0.1:PORT "
                                                               "instead of stdio.")] = None,
    ) -> None:
        """Serve review, resume, estimate, trace, findings and triage as MCP tools (stdio by default)."""
        from engine.mcp_server import serve

        serve(out_dir, model=model, http_port=http_port)
