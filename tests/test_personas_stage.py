"""Persona generation: one call, the correctness reviewer kept, near-duplicates dropped, library fill."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel, ValidationError

from engine import api
from engine.errors import ConfigError
from engine.llm import fake_answers
from engine.models import Persona
from engine.schemas import PersonaOut
from engine.serve.openai_api import RequestOptions
from engine.server_graph import ServerContext
from engine.stages.personas import accept_distinct, assemble_panel, near_duplicate
from tests.conftest import EXAMPLE, run_fake


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


def all_duplicates(prompt: str) -> dict[str, Any]:
    n = int(re.search(r"Propose exactly (\d+)", prompt).group(1))  # type: ignore[union-attr]
    names = ["Security Auditor", "Security Auditor", "../../Evil\x00Name", "Correctness Reviewer"]
    return {"personas": [{"name": names[i % 4], "role": f"role {i}", "perspective": "p", "focus": [f"area{i}"]}
                         for i in range(n)]}


def lib(*slugs: str) -> dict[str, Persona]:
    return {s: Persona(slug=s, name=s.replace("-", " ").title(), role="r", perspective="", focus=[s]) for s in slugs}


@pytest.mark.parametrize(("candidates", "n", "expected"), [
    ([p("Security Auditor", "s", ["injection"]), p("Perf", "p", ["latency"])], 3,
     ["correctness-reviewer", "security-auditor", "perf"]),
    ([p("Security Auditor", "s", ["injection"]), p("Security Auditor", "s", ["injection"])], 3,
     ["correctness-reviewer", "security-auditor", "operator"]),  # the duplicate is filled from the library
    ([p("Correctness Reviewer", "c", ["logic"]), p("Perf", "p", ["latency"])], 2,
     ["correctness-reviewer", "perf"]),  # a generated twin of the base persona is dropped
    ([p("A", "a", ["one"]), p("B", "b", ["two"]), p("C", "c", ["three"])], 2, ["correctness-reviewer", "a"]),
])
def test_assemble_panel(candidates: list[PersonaOut], n: int, expected: list[str]) -> None:
    base = [lib("correctness-reviewer")["correctness-reviewer"]]
    panel, _ = assemble_panel(base, candidates, lib("correctness-reviewer", "operator", "tester"), n)
    assert [x.slug for x in panel] == expected


def test_one_call_keeps_the_correctness_reviewer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(fake_answers.ANSWERS, "PersonasOut", all_duplicates)
    run_dir, report = run_fake(tmp_path, workflow="fusion", personas=4)
    assert report.personas[0] == "correctness-reviewer"
    assert len(report.personas) == len(set(report.personas)) == 4
    assert all(re.fullmatch(r"[a-z0-9-]+", s) for s in report.personas)
    assert [f.name for f in (run_dir / "calls").glob("personas--*")] == ["personas--panel--panel.json"]
    prompt = json.loads((run_dir / "calls" / "personas--panel--panel.json").read_text())["messages"][1]["content"]
    assert "Propose exactly 5" in prompt and "- already: Correctness Reviewer" in prompt  # 3 seats + 2 surplus
    assert any("filled from the library" in d for d in report.degraded)
    for f in (run_dir / "personas").iterdir():
        assert f.resolve().parent == (run_dir / "personas").resolve()


PERSONA_FILE = """---
slug: payments-auditor
name: Payments Auditor
role: reviews money movement for double charges
perspective: every amount is moved exactly once
focus: [idempotency, rounding]
---
Check each transfer for retries that could charge twice.
"""


def test_persona_file_path_joins_the_panel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    persona = tmp_path / "mine" / "payments.md"
    persona.parent.mkdir()
    persona.write_text(PERSONA_FILE)
    monkeypatch.chdir(tmp_path)
    run_dir, report = run_fake(tmp_path, workflow="fusion", persona=["mine/payments.md", "correctness-reviewer"])
    assert report.personas == ["payments-auditor", "correctness-reviewer"]
    assert "Check each transfer for retries" in (run_dir / "personas" / "payments-auditor.md").read_text()
    stored = yaml.safe_load((run_dir / "run.yaml").read_text())["settings"]["persona_slugs"]
    assert stored == [str(persona.resolve()), "correctness-reviewer"]  # a resume from elsewhere finds the file


@pytest.mark.parametrize(("names", "message"), [
    (["nope.md"], "unknown persona(s): nope.md (--persona takes a library slug"),
    (["correctness-reviewer", "correctness-reviewer"], "names the slug correctness-reviewer twice"),
])
def test_bad_persona_names(names: list[str], message: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        api.build_settings(str(EXAMPLE), model="fake", persona=names)


@pytest.mark.parametrize("model", [RequestOptions, ServerContext])
def test_client_surfaces_take_library_slugs_only(model: type[BaseModel]) -> None:
    assert model.model_validate({"persona": ["correctness-reviewer"]}).persona == ["correctness-reviewer"]
    with pytest.raises(ValidationError):
        model.model_validate({"persona": ["/etc/secrets.md"]})
