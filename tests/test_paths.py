"""Names from models become file names: sanitised, bounded, always inside the run directory."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.artifacts import write_atomic
from engine.errors import RebuttalError
from engine.paths import inside, slugify, unique_slug

NAUGHTY = ["../../etc/passwd", "..", ".", "/", "a/b\\c", "nul\x00byte", "CON", "aux", "x" * 5000, "", "   ",
           "😀😀", "Ω≈ç√", "<script>alert(1)</script>", "$(rm -rf /)", "%2e%2e%2f", "-rf", "\n\r\t",
           "COM1", "lpt9", "..\\..\\windows", "ｆｕｌｌｗｉｄｔｈ", "a" * 47 + "/" + "b" * 10]
SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


@pytest.mark.parametrize("name", NAUGHTY)
def test_naughty_names_become_safe_slugs(tmp_path: Path, name: str) -> None:
    slug = slugify(name)
    assert SLUG.match(slug) and len(slug) <= 48
    assert slug not in {"con", "aux", "com1", "lpt9", "nul"}
    path = write_atomic(tmp_path, f"personas/{slug}.md", "x")
    assert tmp_path.resolve() in path.parents


@given(st.text(max_size=300))
def test_slugify_property(name: str) -> None:
    slug = slugify(name)
    assert SLUG.match(slug) and len(slug) <= 48
    assert slugify(slug) == slug, "idempotent"


def test_unique_slug() -> None:
    assert unique_slug("Security Auditor", {"security-auditor"}) == "security-auditor-2"


@pytest.mark.parametrize("rel", ["../x", "a/../../x", "/etc/passwd"])
def test_inside_refuses_escapes(tmp_path: Path, rel: str) -> None:
    with pytest.raises(RebuttalError, match="outside the run directory"):
        inside(tmp_path, rel)


def test_atomic_write_leaves_no_temp_files(tmp_path: Path) -> None:
    write_atomic(tmp_path, "a/b.md", "one")
    write_atomic(tmp_path, "a/b.md", "two")
    assert (tmp_path / "a" / "b.md").read_text() == "two"
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["b.md"]


def test_inside_refuses_a_symlinked_directory_that_leads_out(tmp_path: Path) -> None:
    run, outside = tmp_path / "run", tmp_path / "elsewhere"
    run.mkdir()
    outside.mkdir()
    (run / "reviews").symlink_to(outside, target_is_directory=True)
    with pytest.raises(RebuttalError, match="symlinked directory"):
        write_atomic(run, "reviews/a-review.md", "x")
    assert list(outside.iterdir()) == []
    assert inside(run, "personas/a.md") == run.resolve() / "personas" / "a.md"
