"""Ingest: turn a target (file, folder, git repo, diff, document) into a TargetSnapshot."""

from engine.target.evidence import check_evidence, locate_section
from engine.target.ingest import ingest
from engine.target.snapshot import TargetSnapshot, TargetView

__all__ = ["TargetSnapshot", "TargetView", "check_evidence", "ingest", "locate_section"]
