"""The findings stage keeps what a persona stands by: each kept point resolved to the issue it names."""

from __future__ import annotations

from engine.models import Issue
from engine.stages.findings import plain_title, resolve


def candidates() -> list[dict]:
    def issue(n: int, title: str) -> Issue:
        return Issue(id=f"R-a#{n}", title=title, file="paginate.py", line_start=25, line_end=27, evidence="x",
                     severity="high", fix="y")
    titles = ["Incorrect handling of zero or negative page size", "Page size above the total",
              "Incorrect handling of zero or negative page size"]
    own = [{"label": f"own-{n}", "issue": issue(n, t)} for n, t in enumerate(titles, 1)]
    return own + [{"label": "adopt-1", "issue": issue(9, "SQL Injection")}]


def kept(points: list[tuple[str, str]]) -> list[str | None]:
    seen: set[str] = set()
    out = []
    for source, title in points:
        c = resolve(source, title, candidates(), seen)
        out.append(c["label"] if c else None)
    return out


def test_a_point_is_resolved_by_its_label() -> None:
    assert kept([("own-2", "anything"), ("[ADOPT-1]", ""), ("own-2", "again")]) == ["own-2", "adopt-1", None]


def test_a_point_whose_label_is_a_file_name_is_resolved_by_its_title() -> None:
    """The embedded 1.5B wrote "paginate.py" as every point's source: before, nothing survived the debate."""
    got = kept([("paginate.py", "Incorrect handling of zero or negative page size"),
                ("paginate.py", "Page size above the total (paginate.py:30-32)"),
                ("paginate.py", "incorrect handling of zero  or negative page size"),
                ("paginate.py", "Incorrect handling of zero or negative page size"),
                ("paginate.py", "A point nobody raised")])
    assert got == ["own-1", "own-2", "own-3", None, None]


def test_plain_title_drops_only_a_trailing_location() -> None:
    assert plain_title("Logical Error in clamp (paginate.py:35-37)") == "logical error in clamp"
    assert plain_title("Off by one (in the loop)") == "off by one (in the loop)"
