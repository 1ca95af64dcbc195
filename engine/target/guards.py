"""Guards on what a snapshot records: no secret in any name, no run directory or output folder read back."""

from __future__ import annotations

from pathlib import Path

from engine.rundir import RunDir
from engine.target.builder import Builder
from engine.target.secrets import redact_name
from engine.target.snapshot import TargetSnapshot

RUN_DIR_REASON = "rebuttal run directory or output folder (never reviewed: earlier prompts would feed back)"


def looks_like_run_dir(folder: Path) -> bool:
    """A run directory: run.yaml beside ledger.jsonl or a calls/ folder."""
    return RunDir(folder).looks_like_run()


def excluded(folder: Path, exclude: tuple[Path, ...]) -> bool:
    """Whether a folder is the output folder (or another excluded one) or a run directory."""
    return folder.resolve() in exclude or looks_like_run_dir(folder)


def skip_run_dirs(b: Builder, root: Path, paths: list[str], exclude: tuple[Path, ...]) -> list[str]:
    """The listed paths outside excluded folders; each excluded folder is recorded as skipped once."""
    verdict: dict[str, bool] = {}
    recorded: set[str] = set()
    keep = []
    for rel in paths:
        parts = rel.split("/")[:-1]
        hit = None
        for i in range(1, len(parts) + 1):
            prefix = "/".join(parts[:i])
            if prefix not in verdict:
                verdict[prefix] = excluded(root / prefix, exclude)
            if verdict[prefix]:
                hit = prefix
                break
        if hit is None:
            keep.append(rel)
        elif hit not in recorded:
            recorded.add(hit)
            b.skip_folder(hit, RUN_DIR_REASON)
    return keep


def redact_names(snap: TargetSnapshot) -> TargetSnapshot:
    """The snapshot with secrets replaced in every name it records (paths, root, branch, symbols)."""
    data = snap.model_dump()
    for key in ("root", "name"):
        data[key] = redact_name(data[key])
    for key in ("files", "file_map", "skipped", "notes", "changes"):
        for item in data[key]:
            item["path"] = redact_name(item["path"])
            if item.get("old_path"):
                item["old_path"] = redact_name(item["old_path"])
            if "symbols" in item:
                item["symbols"] = [redact_name(x) for x in item["symbols"]]
            if "reason" in item:
                item["reason"] = redact_name(item["reason"])
    data["redacted_files"] = [redact_name(p) for p in data["redacted_files"]]
    if data.get("git"):
        data["git"] = {k: redact_name(v) if isinstance(v, str) else v for k, v in data["git"].items()}
    return TargetSnapshot.model_validate(data)
