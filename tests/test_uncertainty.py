"""Which issues the debate checks first (pure)."""

from __future__ import annotations

from engine.models import Issue, Review
from engine.stages.responses import uncertain_first
from engine.stages.uncertainty import HIGH_ALONE, NOT_FOUND, ONE_RAISER, uncertain_issues


def issue(iid: str, line: int, title: str, fix: str, sev: str = "medium", status: str = "verified") -> Issue:
    return Issue(id=iid, title=title, file="a.py", line_start=line, line_end=line, evidence=f"line {line} text",
                 severity=sev, fix=fix, evidence_status=status)  # type: ignore[arg-type]


def test_corroborated_issues_are_settled_the_rest_uncertain() -> None:
    sql = ("SQL injection in lookup", "Use a parameterised query.")
    a = Review(id="R-a", persona="a", model="m", abstract="x", issues=[
        issue("R-a#1", 10, *sql), issue("R-a#2", 30, "Cache never expires", "Add a TTL.", sev="high"),
        issue("R-a#3", 50, "Division by zero on empty list", "Guard len == 0.", status="not_found")])
    b = Review(id="R-b", persona="b", model="m", abstract="y", issues=[
        issue("R-b#1", 10, "Query built with an f-string", "Parameterise the SQL query.")])
    got = uncertain_issues([a, b])
    assert "R-a#1" not in got and "R-b#1" not in got, "two reviewers, same claim, quote found: settled"
    assert got["R-a#2"] == [HIGH_ALONE]
    assert got["R-a#3"] == [ONE_RAISER, NOT_FOUND]


def test_pick_prompt_lists_reviews_with_most_uncertain_issues_first() -> None:
    order = uncertain_first({"A": "a", "B": "b", "C": "c"}, {"B": ["x", "y"], "C": ["z"]})
    assert [x for x, _, _ in order] == ["B", "C", "A"]
