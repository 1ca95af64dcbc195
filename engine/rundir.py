"""A run directory: the one place that names its files and reads and writes the records the engine keeps there.

```
runs/<run-id>/
  run.yaml  target.json  workflow.yaml  calibration.json     what the run was started with (resume reads them)
  personas/ reviews/ responses/ rebuttals/ findings/ critiques/   markdown artifacts with YAML front matter
  verifications/<finding>-verification.md                   the checks behind a finding's truth
  claims.md claims.json debate.json                          claims (documents) and the debate record
  review-findings.md  report.json  report.html               the report
  ledger.jsonl  calls/<call-id>.json                         one line per call attempt; finished calls (replay)
  triage.yaml                                                a user's accept / dismiss per finding
  checkpoint.sqlite  run.lock                                LangGraph checkpoints; held while the run executes
```
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from engine import frontmatter, yamlio
from engine.artifacts import read_front_matter, write_atomic
from engine.errors import ConfigError

if TYPE_CHECKING:
    from engine.llm.ledger import LedgerLine
    from engine.models import Report

RUN = "run.yaml"
TARGET = "target.json"
WORKFLOW = "workflow.yaml"  # the workflow as it was when the run started; resume reads this copy
CALIBRATION = "calibration.json"  # the run's own calibration: resuming it later scores the same way
REPORT_MD = "review-findings.md"
REPORT_JSON = "report.json"
REPORT_HTML = "report.html"
DEBATE = "debate.json"
CLAIMS_MD = "claims.md"
CLAIMS_JSON = "claims.json"
LEDGER = "ledger.jsonl"
CALLS = "calls"
TRIAGE = "triage.yaml"
VERIFICATIONS = "verifications"
CHECKPOINT = "checkpoint.sqlite"
LOCK = "run.lock"
SETUP_LOG = f"{VERIFICATIONS}/setup.log"  # the sandbox setup's output (with --execute)
EARLY = (TARGET, WORKFLOW, CALIBRATION)  # what run creation writes before run.yaml (nothing paid for)


@dataclass(frozen=True)
class RunDir:
    """A run directory by path: its files' paths, and the readers and writers of the engine's records."""

    path: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))

    def __truediv__(self, relative: str) -> Path:
        return self.path / relative

    def __str__(self) -> str:
        return str(self.path)

    # -- paths -------------------------------------------------------------------------------------------------
    @property
    def run_yaml(self) -> Path:
        return self.path / RUN

    @property
    def target_json(self) -> Path:
        return self.path / TARGET

    @property
    def workflow_yaml(self) -> Path:
        return self.path / WORKFLOW

    @property
    def calibration(self) -> Path:
        return self.path / CALIBRATION

    @property
    def report_md(self) -> Path:
        return self.path / REPORT_MD

    @property
    def report_json(self) -> Path:
        return self.path / REPORT_JSON

    @property
    def report_html(self) -> Path:
        return self.path / REPORT_HTML

    @property
    def ledger(self) -> Path:
        return self.path / LEDGER

    @property
    def calls(self) -> Path:
        return self.path / CALLS

    @property
    def triage(self) -> Path:
        return self.path / TRIAGE

    @property
    def checkpoint(self) -> Path:
        return self.path / CHECKPOINT

    @property
    def lock(self) -> Path:
        return self.path / LOCK

    @staticmethod
    def call_file(call_id: str) -> str:
        """The relative path of a finished call's record."""
        return f"{CALLS}/{call_id}.json"

    @staticmethod
    def persona_file(slug: str) -> str:
        """The relative path of a panel persona."""
        return f"personas/{slug}.md"

    @staticmethod
    def review_file(persona: str, round: int = 1) -> str:
        """The relative path of a persona's review (a revision's carries its round)."""
        return f"reviews/{persona}-review{'' if round == 1 else f'-r{round}'}.md"

    @staticmethod
    def response_file(author: str, responder: str) -> str:
        """The relative path of a response to `author`'s review."""
        return f"responses/{author}--{responder}-response.md"

    @staticmethod
    def rebuttal_file(author: str, responder: str) -> str:
        """The relative path of `author`'s rebuttal of a response."""
        return f"rebuttals/{author}--{responder}-rebuttal.md"

    @staticmethod
    def findings_file(persona: str) -> str:
        """The relative path of a persona's findings."""
        return f"findings/{persona}-findings.md"

    @staticmethod
    def critique_file(persona: str, round: int) -> str:
        """The relative path of a self-review critique."""
        return f"critiques/{persona}-critique-r{round}.md"

    @staticmethod
    def verification_file(subject_id: str) -> str:
        """The relative path of a finding's verification artifact."""
        return f"{VERIFICATIONS}/{subject_id}-verification.md"

    @staticmethod
    def reproducer_stem(subject_id: str) -> str:
        """The relative path (without suffix) of a finding's reproducer files."""
        return f"{VERIFICATIONS}/" + re.sub(r"[^A-Za-z0-9._-]", "-", subject_id).lstrip(".") + "-reproducer"

    # -- what kind of folder -----------------------------------------------------------------------------------
    def is_run(self) -> bool:
        """Whether the folder has a run.yaml (a run that was created completely)."""
        return self.run_yaml.is_file()

    def looks_like_run(self) -> bool:
        """run.yaml beside a ledger or a calls/ folder: a run that made calls (never reviewed as a target)."""
        return self.is_run() and (self.ledger.exists() or self.calls.is_dir())

    def unstarted(self) -> bool:
        """Whether the folder holds only what run creation writes before run.yaml (nothing paid for)."""
        return self.path.is_dir() and not self.run_yaml.exists() and all(
            p.name in EARLY or p.name.endswith(".tmp") for p in self.path.iterdir())

    # -- writing -----------------------------------------------------------------------------------------------
    def write(self, relative: str, text: str, durable: bool = True) -> Path:
        """Write a file inside the run directory atomically (see artifacts.write_atomic)."""
        return write_atomic(self.path, relative, text, durable=durable)

    def write_json(self, relative: str, data: Any) -> Path:
        """Atomic JSON write (indented, non-ASCII kept)."""
        return self.write(relative, json.dumps(data, indent=2, ensure_ascii=False) + "\n")

    def save_info(self, info: dict[str, Any]) -> None:
        """Write run.yaml (settings, target metadata, nonce) atomically."""
        self.write(RUN, yaml.safe_dump(info, sort_keys=False, allow_unicode=True))

    # -- reading -----------------------------------------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        """run.yaml as a dict (empty when absent); a broken file is one ConfigError line."""
        if not self.run_yaml.exists():
            return {}
        try:
            data = yamlio.load(self.run_yaml.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise ConfigError(f"{self.run_yaml}: not valid YAML ({type(exc).__name__})") from None
        return data if isinstance(data, dict) else {}

    def read_json(self, name: str) -> dict[str, Any]:
        """A JSON record the run writes when it compiles (report.json, debate.json); a clear error when absent."""
        path = self.path / name
        if not path.exists():
            raise ConfigError(f"{self.path} has no {name} (the run has not compiled yet; try `rebuttal resume "
                              f"{self.path}`)")
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return data

    def optional_json(self, name: str) -> dict[str, Any] | None:
        """A JSON record of the run, or None when the run has none (claims.json of a code target)."""
        path = self.path / name
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None

    def report_data(self) -> dict[str, Any]:
        """report.json as a dict."""
        return self.read_json(REPORT_JSON)

    def report(self) -> Report:
        """report.json as a Report record, with one clear error when it is missing or malformed."""
        from engine.models import Report

        try:
            return Report.model_validate(self.report_data())
        except ValueError as exc:
            raise ConfigError(f"{self.report_json} does not match the report format: {exc}") from None

    def report_markdown(self) -> str:
        """review-findings.md without its front matter."""
        return frontmatter.body(self.report_md.read_text(encoding="utf-8"))

    def ledger_lines(self) -> list[LedgerLine]:
        """The ledger's lines (a torn last line, left by a kill, is skipped)."""
        from engine.llm.ledger import read_ledger

        return read_ledger(self.ledger)

    def call_record(self, call_id: str) -> dict[str, Any] | None:
        """A finished call's record, or None when it is absent or unreadable (the call is made again)."""
        path = self.path / self.call_file(call_id)
        if not path.exists():
            return None
        try:
            data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data

    def artifacts(self) -> Iterator[tuple[Path, dict[str, Any]]]:
        """(path, front matter) of every markdown artifact of the run with an id, in path order."""
        for path in sorted(self.path.rglob("*.md")):
            meta = read_front_matter(path)
            if "id" in meta:
                yield path, meta
