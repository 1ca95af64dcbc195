"""Graph shape per workflow, snapshot-tested as mermaid."""

from __future__ import annotations

import pytest

from engine.config import workflow_library
from engine.graph import build_graph
from tests.snapshot import assert_snapshot


@pytest.mark.parametrize("name", sorted(workflow_library()))
def test_graph_shape(name: str) -> None:
    graph = build_graph(workflow_library()[name]).compile()
    assert_snapshot(f"graph-{name}.mmd", graph.get_graph().draw_mermaid())


def test_debate_graph_has_every_stage() -> None:
    nodes = set(build_graph(workflow_library()["debate"]).compile().get_graph().nodes)
    assert {"personas", "write_review", "pick_reviews", "write_response", "write_rebuttal", "write_findings",
            "compile"} <= nodes
