"""Per-run dependencies handed to every node through LangGraph's Runtime context."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from engine.config import RunSettings, Workflow
from engine.llm.gateway import Gateway
from engine.target.snapshot import TargetSnapshot


@dataclass
class Progress:
    """Counts of finished calls per stage, with expected totals; the CLI renders it."""

    totals: dict[str, int] = field(default_factory=dict)
    done: dict[str, int] = field(default_factory=dict)
    listener: Callable[[str, int, int], None] = lambda stage, done, total: None

    def expect(self, stage: str, total: int) -> None:
        """Set the number of calls a stage will make."""
        self.totals[stage] = total
        self.listener(stage, self.done.get(stage, 0), total)

    def advance(self, stage: str) -> None:
        """One call of a stage finished (or was replayed from the run directory)."""
        self.done[stage] = self.done.get(stage, 0) + 1
        self.totals[stage] = max(self.totals.get(stage, 0), self.done[stage])
        self.listener(stage, self.done[stage], self.totals[stage])


@dataclass
class RunContext:
    """Everything a stage may use besides the state: settings, target, run dir, gateway."""

    settings: RunSettings
    workflow: Workflow
    target: TargetSnapshot
    run_dir: Path
    gateway: Gateway
    nonce: str
    progress: Progress
    clock: Callable[[], str]
