"""Responder selection: anonymised labels and the coverage repair (pure, table-driven + properties)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.stages.selection import anonymise, labels, repair_assignments, shortlists


def authors_for(readers: list[str]) -> dict[str, str]:
    return {f"R-{r}": r for r in readers}


def check(readers: list[str], out: dict[str, list[str]], k: int) -> None:
    authors = authors_for(readers)
    if k <= 0:
        assert all(v == [] for v in out.values())
        return
    for r, picks in out.items():
        assert all(authors[rid] != r for rid in picks), "a reader answers its own review"
        assert len(picks) == len(set(picks)), "duplicate pick"
        assert len(picks) <= k + 1
    if len(readers) > 1:
        for rid in authors:
            assert any(rid in v for v in out.values()), f"{rid} has no responder"
        over = [r for r, v in out.items() if len(v) > k]
        assert len(over) <= max(0, len(readers) - 1)


CASES = [
    # (readers, picks, k, expected)
    (["a"], {"a": []}, 3, {"a": []}),
    (["a", "b"], {}, 3, {"a": ["R-b"], "b": ["R-a"]}),
    (["a", "b"], {"a": ["R-a", "R-b"]}, 1, {"a": ["R-b"], "b": ["R-a"]}),
    (["a", "b", "c"], {"a": ["R-b"], "b": ["R-a"], "c": ["R-a"]}, 1, {"a": ["R-b"], "b": ["R-c"], "c": ["R-a"]}),
    (["a", "b", "c"], {}, 5, {"a": ["R-b", "R-c"], "b": ["R-a", "R-c"], "c": ["R-a", "R-b"]}),
    (["a", "b", "c"], {"a": ["R-b"], "b": ["R-a"], "c": ["R-b"]}, 0, {"a": [], "b": [], "c": []}),
    (["a", "b", "c", "d"], {r: ["R-a"] for r in "bcd"} | {"a": ["R-b"]}, 1,
     {"a": ["R-b"], "b": ["R-c"], "c": ["R-d"], "d": ["R-a"]}),
]


@pytest.mark.parametrize(("readers", "picks", "k", "expected"), CASES)
def test_repair_table(readers: list[str], picks: dict[str, list[str]], k: int, expected: dict[str, list[str]]) -> None:
    out = repair_assignments(readers, authors_for(readers), picks, k)
    assert out == expected
    check(readers, out, k)


def test_repair_keeps_valid_choices() -> None:
    readers = ["a", "b", "c", "d", "e"]
    picks = {"a": ["R-c", "R-b"], "b": ["R-a", "R-c"], "c": ["R-d", "R-e"], "d": ["R-e", "R-a"], "e": ["R-b", "R-d"]}
    out = repair_assignments(readers, authors_for(readers), picks, 2)
    assert out == picks


def test_repair_ignores_unknown_and_own() -> None:
    out = repair_assignments(["a", "b"], authors_for(["a", "b"]), {"a": ["R-zzz", "R-a"], "b": ["R-a"]}, 1)
    assert out == {"a": ["R-b"], "b": ["R-a"]}


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(min_value=1, max_value=12),
    k=st.integers(min_value=0, max_value=6),
    data=st.data(),
)
def test_repair_properties(n: int, k: int, data: st.DataObject) -> None:
    readers = [f"p{i}" for i in range(n)]
    ids = list(authors_for(readers))
    picks = {r: data.draw(st.lists(st.sampled_from(ids), max_size=8)) for r in readers}
    out = repair_assignments(readers, authors_for(readers), picks, k)
    check(readers, out, k)
    assert out == repair_assignments(readers, authors_for(readers), picks, k), "not deterministic"


def test_labels_and_anonymise() -> None:
    assert labels(3) == ["A", "B", "C"]
    assert labels(28)[-2:] == ["AA", "AB"]
    a = anonymise("reader-1", ["R-x", "R-y", "R-z"], seed=0)
    b = anonymise("reader-2", ["R-x", "R-y", "R-z"], seed=0)
    assert sorted(a.values()) == ["R-x", "R-y", "R-z"]
    assert a == anonymise("reader-1", ["R-z", "R-y", "R-x"], seed=0), "same reader, same order"
    assert any(a != anonymise(f"reader-{i}", ["R-x", "R-y", "R-z"], seed=0) for i in range(2, 8)) or a != b


def test_small_panels_see_every_other_abstract() -> None:
    authors = [f"p{i}" for i in range(13)]
    offered = shortlists(authors, seed=1, size=12)
    assert all(sorted(v) == sorted(a for a in authors if a != k) for k, v in offered.items())


@settings(max_examples=60, deadline=None)
@given(n=st.integers(2, 80), size=st.integers(1, 16), seed=st.integers(0, 9))
def test_shortlists_are_bounded_balanced_and_never_own(n: int, size: int, seed: int) -> None:
    authors = [f"persona-{i}" for i in range(n)]
    offered = shortlists(authors, seed, size)
    assert set(offered) == set(authors)
    offers: dict[str, int] = dict.fromkeys(authors, 0)
    for reader, shown in offered.items():
        assert reader not in shown and len(shown) == len(set(shown)) == min(size, n - 1)
        for a in shown:
            offers[a] += 1
    assert set(offers.values()) == {min(size, n - 1)}, "every review is offered to the same number of readers"
    assert shortlists(authors, seed, size) == offered, "deterministic"
