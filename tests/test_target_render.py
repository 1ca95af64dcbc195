"""Rendering views within a context budget: format, map, relevance, truncation."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from engine.target import ingest
from engine.target.render import render_map, render_view
from engine.target.snapshot import FileEntry, SourceFile, TargetSnapshot
from engine.tokens import CHARS_PER_TOKEN

HEADER = re.compile(r"^=== FILE: (.+) \(lines (\d+)-(\d+)\) ===$")
NUMBERED = re.compile(r"^ *(\d+)\| (.*)$")


def blocks(text: str) -> dict[str, list[tuple[int, str]]]:
    """Parse FILE blocks the way the prompt contract describes: path -> [(line, text)]."""
    out: dict[str, list[tuple[int, str]]] = {}
    current: list[tuple[int, str]] | None = None
    for line in text.split("\n"):
        m = HEADER.match(line)
        if m:
            current = out.setdefault(m.group(1), [])
            continue
        n = NUMBERED.match(line)
        if n and current is not None:
            current.append((int(n.group(1)), n.group(2)))
        elif not line or line.startswith("==="):
            current = None
    return out


def snap_of(files: dict[str, str], kind: str = "folder") -> TargetSnapshot:
    srcs = [SourceFile(path=p, text=t) for p, t in files.items()]
    entries = [FileEntry(path=f.path, size=len(f.text), lines=len(f.lines)) for f in srcs]
    return TargetSnapshot(kind=kind, root="/x", name="x", files=srcs, file_map=entries)  # type: ignore[arg-type]


def test_format_is_exact_when_everything_fits() -> None:
    snap = snap_of({"a.py": "x = 1\n\ny = 2\n", "b/c.md": "".join(f"l{i}\n" for i in range(1, 12))})
    view = render_view(snap, 10_000, [])
    assert view.text.split("\n")[:5] == [
        "=== FILE: a.py (lines 1-3) ===",
        "1| x = 1",
        "2| ",
        "3| y = 2",
        "",
    ]
    assert "=== FILE: b/c.md (lines 1-11) ===\n 1| l1\n" in view.text
    assert view.included == ["a.py", "b/c.md"] and view.omitted == [] and not view.has_map
    assert view.tokens == -(-len(view.text) // CHARS_PER_TOKEN)


def test_single_file_larger_than_budget_is_cut_with_marker() -> None:
    snap = snap_of({"big.txt": "".join(f"row {i}\n" for i in range(1, 2001))}, kind="document")
    view = render_view(snap, 500, [])
    shown = blocks(view.text)["big.txt"]
    assert shown[0] == (1, "row 1")
    assert all(text == f"row {n}" for n, text in shown)
    assert re.search(r"\.\.\. \[truncated: lines \d+-2000 not shown", view.text)
    assert view.truncated == ["big.txt"] and view.tokens <= 500


def test_map_folds_into_folders_when_large() -> None:
    entries = [FileEntry(path=f"pkg{i // 100}/mod{i}.py", size=10, lines=3, symbols=["f"]) for i in range(1000)]
    full = render_map(entries, 10**9)
    assert "pkg0/mod0.py (3 lines): f" in full
    folded = render_map(entries, 600)
    assert "pkg0/ (100 files, 300 lines)" in folded and len(folded) <= 600
    tiny = render_map(entries, 150)
    assert "more entries)" in tiny


@pytest.fixture(scope="module")
def monorepo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git monorepo of 2,000 small files; the billing package talks about payments."""
    root = tmp_path_factory.mktemp("mono")
    for p in range(40):
        pkg = "billing" if p == 7 else f"pkg{p:02d}"
        for m in range(50):
            path = root / "packages" / pkg / f"mod{m:02d}.py"
            path.parent.mkdir(parents=True, exist_ok=True)
            body = f"def func_{m}(x):\n    return x + {m}\n\n\nclass Model{m}:\n    pass\n"
            if pkg == "billing" and m < 3:
                body += "# payment refund logic\n" * (m + 1)
            path.write_text(body)
    env = {"GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1", "PATH": "/usr/bin:/bin"}
    for args in (["init", "-q"], ["add", "-A"]):
        subprocess.run(["git", *args], cwd=root, check=True, env=env)
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "init"],
        cwd=root,
        check=True,
        env=env,
    )
    return root


def test_monorepo_budget_view_has_map_and_deterministic_relevant_files(monorepo: Path) -> None:
    snap = ingest(monorepo)
    assert snap.kind == "git" and len(snap.files) == 2000
    view = snap.view(8_000, ["payments", "refund"])
    assert view.has_map and view.text.startswith("=== MAP ===\n# 2000 files")
    assert view.tokens <= 8_000
    assert view.included[:3] == [
        "packages/billing/mod02.py",
        "packages/billing/mod01.py",
        "packages/billing/mod00.py",
    ]
    assert len(view.included) + len(view.omitted) == 2000 and len(view.omitted) > 1000
    # the rest follow in path order (ties), and the choice is the same every time
    assert view.included[3:6] == [
        "packages/billing/mod03.py",
        "packages/billing/mod04.py",
        "packages/billing/mod05.py",
    ]
    assert snap.view(8_000, ["payments", "refund"]) == view
    assert ingest(monorepo).view(8_000, ["payments", "refund"]).text == view.text
    shown = blocks(view.text)
    assert list(shown) == view.included
    for path, lines in shown.items():
        f = snap.file(path)
        assert f is not None
        assert lines == list(enumerate(f.lines, 1))  # whole files, real line numbers


def test_other_focus_picks_other_files(monorepo: Path) -> None:
    snap = ingest(monorepo)
    view = snap.view(3_000, ["pkg13 Model7"])
    assert view.included[0].startswith("packages/pkg13/")


def test_document_view_has_an_outline(tmp_path: Path) -> None:
    doc = tmp_path / "prd.md"
    doc.write_text("# PRD\n\n## Goals\ntext\n### Latency\n## Risks\n")
    view = ingest(doc).view()
    assert view.text.startswith("=== OUTLINE: prd.md ===\nPRD (line 1)\n  1 Goals (line 3)\n")
    assert "    1.1 Latency (line 5)" in view.text
    assert "=== FILE: prd.md (lines 1-6) ===" in view.text


def test_diff_view_over_budget_cuts_the_top_hunks_not_the_file_start() -> None:
    text = "".join(f"row {i}\n" for i in range(1, 3001))
    f = SourceFile(path="big.py", text=text, changed=[(1500, 1500), (2500, 2500)])
    snap = TargetSnapshot(kind="diff", root="/x", name="x", files=[f], file_map=[])
    view = render_view(snap, 200, [])
    shown = blocks(view.text)["big.py"]
    assert shown[0] == (1490, "row 1490")
    assert all(text == f"row {n}" for n, text in shown)
    assert "... [truncated: changes after line" in view.text and view.truncated == ["big.py"]
