"""Mechanical evidence check: verified / moved / not_found, table-driven."""

from __future__ import annotations

import pytest

from engine.target import check_evidence, locate_section
from engine.target.evidence import resolve_path
from engine.target.outline import sections
from engine.target.snapshot import SourceFile, TargetSnapshot

AUTH = "".join(f"# filler {i}\n" for i in range(1, 40)) + (
    "def login(user, password):\n"  # line 40
    "    if password == user.password:\n"  # line 41
    "        return make_token(user)\n"  # line 42
    "    return None\n"  # line 43
)
UTIL = "def make_token(user):\n    return sign({'sub': user.id}, SECRET)\n"
DOC = "# Spec\n\n## Scope\nBilling only.\n\n## Payments\n### Refunds\nRefunds within 30 days.\n"


@pytest.fixture(scope="module")
def snap() -> TargetSnapshot:
    files = [
        SourceFile(path="src/auth/login.py", text=AUTH, language="python"),
        SourceFile(path="src/auth/token.py", text=UTIL, language="python"),
        SourceFile(path="lib/token.py", text="x = 1\n", language="python"),
        SourceFile(path="docs/spec.md", text=DOC, sections=sections(DOC, "markdown")),
    ]
    return TargetSnapshot(kind="folder", root="/work/proj", name="proj", files=files)


@pytest.mark.parametrize(
    ("path", "start", "end", "quote", "expected"),
    [
        # exact location, single and multi-line, whitespace differences
        ("src/auth/login.py", 41, 41, "if password == user.password:", "verified"),
        ("src/auth/login.py", 41, 42, "if password ==   user.password:\n return make_token(user)", "verified"),
        ("src/auth/login.py", 45, 46, "return make_token(user)", "verified"),  # within ±5
        ("src/auth/login.py", 41, None, "`if password == user.password:`", "verified"),
        ("src/auth/login.py", 41, 42, "41| if password == user.password:\n42| return make_token(user)", "verified"),
        ("src/auth/login.py", None, None, "return make_token(user)", "verified"),
        # forgiving paths: suffix, basename when unique, absolute, line suffix
        ("auth/login.py", 41, 41, "if password == user.password:", "verified"),
        ("login.py", 41, 41, "if password == user.password:", "verified"),
        ("/work/proj/src/auth/login.py", 41, 41, "if password == user.password:", "verified"),
        ("src/auth/login.py:41", 41, 41, "if password == user.password:", "verified"),
        ("./src/auth/login.py", 41, 41, "if password == user.password:", "verified"),
        # a long enough fragment (the longest line, or a piece between "...") is enough
        ("src/auth/login.py", 40, 43, "def login(user, password):\n    totally invented line", "verified"),
        ("src/auth/login.py", 40, 42, "def login(user, password): ... return make_token(user)", "verified"),
        # wrong lines in the right file, or the right text in another file
        ("src/auth/login.py", 2, 3, "if password == user.password:", "moved"),
        ("src/auth/token.py", 1, 1, "if password == user.password:", "moved"),
        ("nowhere.py", 1, 1, "if password == user.password:", "moved"),
        ("token.py", 2, 2, "return sign({'sub': user.id}, SECRET)", "moved"),  # ambiguous name
        # absent
        ("src/auth/login.py", 41, 41, "if password is None: raise", "not_found"),
        ("src/auth/login.py", 41, 41, "", "not_found"),
        ("src/auth/login.py", 41, 41, "IF PASSWORD == USER.PASSWORD:", "not_found"),
        # documents: typographic quotes normalised
        ("docs/spec.md", 8, 8, "Refunds within 30 days.", "verified"),
        ("docs/spec.md", 8, 8, "“Refunds within 30 days.”", "verified"),
    ],
)
def test_check_evidence(snap, path, start, end, quote, expected) -> None:
    assert check_evidence(snap, path, start, end, quote) == expected


def test_near_is_configurable(snap: TargetSnapshot) -> None:
    quote = "return make_token(user)"
    assert check_evidence(snap, "src/auth/login.py", 50, 50, quote, near=10) == "verified"
    assert check_evidence(snap, "src/auth/login.py", 50, 50, quote, near=2) == "moved"


def test_resolve_path_prefers_exact_then_unique_suffix(snap: TargetSnapshot) -> None:
    assert resolve_path(snap, "src/auth/token.py").path == "src/auth/token.py"  # type: ignore[union-attr]
    assert resolve_path(snap, "auth/token.py").path == "src/auth/token.py"  # type: ignore[union-attr]
    assert resolve_path(snap, "token.py") is None  # two files share the name
    assert resolve_path(snap, "proj/docs/spec.md").path == "docs/spec.md"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("ref", "line"),
    [("section 2.1", 7), ("§2", 6), ("1", 3), ("Refunds", 7), ("section 9", None)],
)
def test_locate_section(snap: TargetSnapshot, ref: str, line: int | None) -> None:
    assert locate_section(snap, "docs/spec.md", ref) == line
