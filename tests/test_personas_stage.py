"""Persona generation: near-duplicates rejected and regenerated; sanitised slugs; library fallback."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from engine.llm import fake_answers
from engine.schemas import PersonaOut
from engine.stages.personas import accept_distinct, near_duplicate
from tests.conftest import run_fake


def p(name: str, role: str, focus: list[str]) -> PersonaOut:
    return PersonaOut(name=name, role=role, perspective="", focus=focus)


def test_near_duplicate() -> None:
    a = p("Security Auditor", "security reviewer", ["injection", "secrets", "auth"])
    assert near_duplicate(a, p("Security Auditor", "x", ["y"]))
    assert near_duplicate(a, p("AppSec Auditor", "security reviewer", ["injection", "secrets", "authentication"]))
    assert not near_duplicate(a, p("Performance Engineer", "latency specialist", ["allocation", "caching"]))
    # what a small local model writes: the same role boilerplate, different focus
    sec = p("Security Risk", "Analyze the security risks of the code, including potential vulnerabilities.",
            ["SQL Injection", "XSS", "Insecure data handling"])
    perf = p("Performance Risk", "Analyze the performance of the code, including potential bottlenecks.",
             ["Slow queries", "Inefficient loops", "Memory usage"])
    assert not near_duplicate(sec, perf)


def test_accept_distinct_keeps_order_and_limit() -> None:
    c = [p("A", "alpha", ["one"]), p("A", "alpha", ["one"]), p("B", "beta", ["two"]), p("C", "gamma", ["three"])]
    assert [x.name for x in accept_distinct(c, [], 2)] == ["A", "B"]


def duplicates_then_distinct(prompt: str) -> dict[str, Any]:
    n = int(re.search(r"Propose exactly (\d+)", prompt).group(1))  # type: ignore[union-attr]
    if "already:" not in prompt:
        same = {"name": "Security Auditor", "role": "security", "perspective": "p", "focus": ["injection"]}
        return {"personas": [same] * n}
    names = ["../../Evil\x00Name", "Maintainer of Things"]
    return {"personas": [{"name": names[i % 2], "role": f"role {i}", "perspective": "p", "focus": [f"area{i}"]}
                         for i in range(n)]}


def test_duplicates_are_regenerated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(fake_answers.ANSWERS, "PersonasOut", duplicates_then_distinct)
    run_dir, report = run_fake(tmp_path, workflow="fusion", personas=3)
    assert len(report.personas) == 3
    assert len(set(report.personas)) == 3
    assert all(re.fullmatch(r"[a-z0-9-]+", s) for s in report.personas)
    assert (run_dir / "calls" / "personas--panel--round-2.json").exists()
    assert any("near-duplicate" in d for d in report.degraded)
    for f in (run_dir / "personas").iterdir():
        assert f.resolve().parent == (run_dir / "personas").resolve()
