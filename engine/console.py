"""Shared terminal output for the CLI modules: stdout/stderr consoles and the one-line error exit."""

from __future__ import annotations

import typer
from rich.console import Console

from engine.models import note_label

out = Console()
err = Console(stderr=True)


def fail(message: str, code: int = 2) -> None:
    """Print one error line and exit non-zero."""
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def print_notes(notes: list[str]) -> None:
    """A run's notes after its summary line: 'degraded:' in yellow, a check that did not apply as 'note:'."""
    for note in notes:
        label = note_label(note)
        out.print(f"[{'cyan' if label == 'Note' else 'yellow'}]{label.lower()}:[/] {note}", highlight=False)
