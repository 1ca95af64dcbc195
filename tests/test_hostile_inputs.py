"""Hostile input: targets, persona files and workflows crafted to break a run, and names from the model
that try to escape the run directory. Each bad input is one `error:` line with exit code 2, or a
documented skip; never a traceback, never a file outside the run directory, never a 200 MB read."""

from __future__ import annotations

import json
import os
import re
import shutil
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from engine.cli import app
from engine.errors import TargetError
from engine.llm import fake_answers
from engine.target import ingest
from tests.conftest import EXAMPLE, run_fake

BIG = 200 * 1024 * 1024
MANY = 100_000
SAFE_NAME = re.compile(r"^[A-Za-z0-9._-]+$")
NAUGHTY = [
    "../../etc/passwd", "..", ".", "/", "/etc/shadow", "a/b\\c", "..\\..\\windows\\system32", "nul\x00byte",
    "CON", "aux", "COM1", "lpt9", "NUL.txt", "x" * 5000, "", "   ", "\n\r\t", "😀😀", "Ω≈ç√", "ｆｕｌｌｗｉｄｔｈ",
    "<script>alert(1)</script>", "$(rm -rf /)", "`reboot`", "%2e%2e%2f%2e%2e%2f", "-rf", "~root", "$HOME/.ssh",
    "file:///etc/passwd", "\u202eevil\u202d", "Robert'); DROP TABLE personas;--", "{{ 7*7 }}", "{% raw %}",
    "---\nslug: evil\n---", "a" * 47 + "/" + "b" * 10, ".git/config", "C:\\Windows",
]


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def assert_one_error_line(args: list[str], message: str) -> None:
    code, out, err = invoke(*args)
    assert code == 2, (out, err)
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    assert message in lines[0], err
    assert "Traceback" not in out + err


def review(target: Path | str, tmp_path: Path, *extra: str) -> list[str]:
    return ["review", str(target), "--model", "fake", "--out", str(tmp_path / "runs"), *extra]


def peak_memory(fn: Callable[[], Any]) -> tuple[Any, int]:
    """fn() and the peak bytes Python allocated meanwhile (a 200 MB read would show)."""
    tracemalloc.start()
    try:
        return fn(), tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.fixture
def unreadable(monkeypatch: pytest.MonkeyPatch) -> Callable[[Path], Path]:
    """Make a file unreadable: chmod 000, simulated as well since root reads through chmod."""
    blocked: set[Path] = set()
    original = Path.open

    def open_(self: Path, *args: Any, **kwargs: Any) -> Any:
        if self.resolve() in blocked:
            raise PermissionError(13, "Permission denied", str(self))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", open_)

    def block(path: Path) -> Path:
        path.chmod(0)
        blocked.add(path.resolve())
        return path

    return block


@pytest.fixture(scope="module")
def many_files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, float]]:
    """A folder of 100,000 small files and the seconds it took to create them.

    The files are hard links to a few sources (no inode each, so about a second instead of several);
    to the target they are 100,000 distinct paths all the same.
    """
    base = tmp_path_factory.mktemp("many")
    root = base / "target"
    root.mkdir()
    sources = []
    for s in range(4):  # a file has at most ~65,000 links
        sources.append(base / f"source{s}.py")
        sources[-1].write_text(f"value = {s}\n", encoding="utf-8")
    t0 = time.monotonic()
    for i in range(MANY):
        os.link(sources[i % len(sources)], root / f"m{i:06d}.py")
    yield root, time.monotonic() - t0
    shutil.rmtree(base)  # 100,000 entries are not left behind in the kept temp folders


# -- bad targets ---------------------------------------------------------------------------------------------------


def test_empty_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.py"
    empty.touch()
    assert_one_error_line(review(empty, tmp_path), "empty file (0 bytes)")
    assert not (tmp_path / "runs").exists(), "no run directory for a target that cannot be reviewed"


def test_folder_of_empty_files(tmp_path: Path) -> None:
    folder = tmp_path / "proj"
    folder.mkdir()
    for name in ("a.py", "b.md", "c.txt"):
        (folder / name).touch()
    assert_one_error_line(review(folder, tmp_path), "no reviewable text")


def test_200_mb_file_is_refused_without_reading_it(tmp_path: Path) -> None:
    big = tmp_path / "huge.py"
    with big.open("wb") as fh:
        fh.truncate(BIG)  # sparse: no real disk use
    _, peak = peak_memory(lambda: assert_one_error_line(review(big, tmp_path), "209.7 MB, over the 1.0 MB per-file"))
    assert peak < 20 * 1024 * 1024, f"peak memory {peak} bytes"


def test_200_mb_file_in_a_folder_is_a_documented_skip(tmp_path: Path) -> None:
    folder = tmp_path / "proj"
    folder.mkdir()
    (folder / "main.py").write_text("def main():\n    return compute_the_answer(42)\n", encoding="utf-8")
    for name in ("huge.py", "huge.pdf", "huge.md"):
        with (folder / name).open("wb") as fh:
            fh.truncate(BIG)
    snap, peak = peak_memory(lambda: ingest(folder))
    assert [f.path for f in snap.files] == ["main.py"]
    reasons = {s.path: s.reason for s in snap.skipped}
    assert set(reasons) == {"huge.py", "huge.pdf", "huge.md"}
    assert all(r.startswith("too large: 209.7 MB over the") for r in reasons.values()), reasons
    assert peak < 20 * 1024 * 1024, f"peak memory {peak} bytes"


def test_folder_of_100k_files_is_refused_quickly(tmp_path: Path, many_files: tuple[Path, float]) -> None:
    folder, made_in = many_files
    assert made_in < 30, f"creating {MANY} files took {made_in:.1f}s"
    t0 = time.monotonic()
    assert_one_error_line(review(folder, tmp_path), "has more than 20,000 files to review (max_files=20000)")
    assert time.monotonic() - t0 < 15
    assert not (tmp_path / "runs").exists()


def test_file_count_limit_is_a_parameter(tmp_path: Path) -> None:
    for i in range(11):
        (tmp_path / f"f{i}.py").write_text(f"value_{i} = compute({i})\n", encoding="utf-8")
    assert len(ingest(tmp_path, max_files=11).files) == 11
    with pytest.raises(TargetError, match=r"more than 10 files to review \(max_files=10\)"):
        ingest(tmp_path, max_files=10)


def test_unreadable_file(tmp_path: Path, unreadable: Callable[[Path], Path]) -> None:
    secret = tmp_path / "locked.py"
    secret.write_text("x = read_the_secret_value()\n", encoding="utf-8")
    unreadable(secret)
    assert_one_error_line(review(secret, tmp_path), "unreadable: Permission denied")


def test_unreadable_file_in_a_folder_is_a_documented_skip(tmp_path: Path, unreadable: Callable[[Path], Path]) -> None:
    (tmp_path / "ok.py").write_text("def ok():\n    return compute_the_answer(42)\n", encoding="utf-8")
    (tmp_path / "locked.py").write_text("x = read_the_secret_value()\n", encoding="utf-8")
    unreadable(tmp_path / "locked.py")
    snap = ingest(tmp_path)
    assert [f.path for f in snap.files] == ["ok.py"]
    assert [(s.path, s.reason) for s in snap.skipped] == [("locked.py", "unreadable: Permission denied")]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode; simulated in the tests above")
def test_unreadable_folder_really_chmod_000(tmp_path: Path) -> None:
    (tmp_path / "ok.py").write_text("def ok():\n    return compute_the_answer(42)\n", encoding="utf-8")
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "a.py").write_text("x = 1\n", encoding="utf-8")
    locked.chmod(0)
    try:
        snap = ingest(tmp_path)
    finally:
        locked.chmod(0o755)
    assert [f.path for f in snap.files] == ["ok.py"]
    assert any(s.path == "locked/" and s.reason.startswith("unreadable folder") for s in snap.skipped)


def test_special_files_and_broken_links(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    assert_one_error_line(review(fifo, tmp_path), "is neither a regular file nor a folder")
    link = tmp_path / "dangling.py"
    link.symlink_to(tmp_path / "gone.py")
    assert_one_error_line(review(link, tmp_path), "broken symlink")


# -- bad persona files and workflows -------------------------------------------------------------------------------


BAD_PERSONAS = {
    "invalid YAML": ("---\nslug: bad\nname: [unclosed\n---\nBrief.\n", "invalid YAML front matter at line"),
    "no front matter": ("Just a brief.\n", "missing YAML front matter"),
    "unknown field": ("---\nslug: bad\nname: B\nrole: r\nperspective: p\nfocus: [x]\nshell: rm\n---\n",
                      "field 'shell': Extra inputs are not permitted"),
    "unsafe slug": ("---\nslug: ../../evil\nname: B\nrole: r\nperspective: p\nfocus: [x]\n---\n", "field 'slug'"),
    "not UTF-8": (b"---\nslug: bad\nname: \xff\xfe\n---\n", "cannot read persona file"),
}


@pytest.mark.parametrize("case", BAD_PERSONAS)
def test_bad_persona_file_in_the_library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str) -> None:
    text, message = BAD_PERSONAS[case]
    lib = tmp_path / "personas"
    lib.mkdir()
    path = lib / "bad.md"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    monkeypatch.setenv("REBUTTAL_PERSONAS_DIR", str(lib))
    assert_one_error_line(["personas"], f"{path}: {message}")
    assert_one_error_line(review(EXAMPLE, tmp_path, "--persona", "bad"), message)


def test_persona_folder_that_does_not_exist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REBUTTAL_PERSONAS_DIR", str(tmp_path / "nowhere"))
    assert_one_error_line(["personas"], "REBUTTAL_PERSONAS_DIR is not a folder")


def test_persona_folder_from_the_environment_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lib = tmp_path / "personas"
    lib.mkdir()
    (lib / "cfo.md").write_text("---\nslug: cfo\nname: Chief Money\nrole: finance\nperspective: cost\n"
                                "focus: [spend]\n---\nWatches the money.\n", encoding="utf-8")
    monkeypatch.setenv("REBUTTAL_PERSONAS_DIR", str(lib))
    code, out, _ = invoke("personas")
    assert code == 0 and "cfo" in out and "security-auditor" not in out


BAD_WORKFLOWS = {
    "cycle": ("name: loop\ndescription: d\nstages: [personas, reviews, responses, reviews, compile]\n",
              "field 'stages.3': stage 'reviews' appears twice (a cycle)"),
    "unknown stage": ("name: x\ndescription: d\nstages: [personas, reviews, brainstorm, compile]\n",
                      "field 'stages.2.stage': Input should be"),
    "missing prerequisite": ("name: x\ndescription: d\nstages: [personas, rebuttals, compile]\n",
                             "field 'stages.1': stage 'rebuttals' needs 'responses' before it"),
    "compile not last": ("name: x\ndescription: d\nstages: [personas, reviews]\n",
                         "field 'stages': must start with 'personas' and end with 'compile'"),
    "invalid YAML": ("name: x\nstages: [personas, reviews\n", "invalid YAML"),
    "not a mapping": ("- personas\n- compile\n", "a workflow file must be a mapping"),
    "unknown field": ("name: x\ndescription: d\nstages: [personas, reviews, compile]\nexec: rm -rf /\n",
                      "field 'exec': Extra inputs are not permitted"),
    "no stages": ("name: x\ndescription: d\nstages: []\n", "field 'stages'"),
}


@pytest.mark.parametrize("case", BAD_WORKFLOWS)
def test_bad_workflow_file(tmp_path: Path, case: str) -> None:
    text, message = BAD_WORKFLOWS[case]
    path = tmp_path / "wf.yaml"
    path.write_text(text, encoding="utf-8")
    assert_one_error_line(review(EXAMPLE, tmp_path, "--workflow", str(path)), f"{path}: {message}")
    assert not (tmp_path / "runs").exists()


def test_bad_prices_file(tmp_path: Path) -> None:
    prices = tmp_path / "prices.yaml"
    prices.write_text("fake: [oops\n", encoding="utf-8")
    assert_one_error_line(review(EXAMPLE, tmp_path, "--prices", str(prices)), "prices must be a YAML mapping")


# -- names and paths from the model ---------------------------------------------------------------------------------


def naughty_personas(prompt: str) -> dict[str, Any]:
    # names are cut to the schema's 60 characters: a longer one is invalid output, retried then refused
    return {"personas": [{"name": name[:60], "role": f"kind{i}", "perspective": name[:300],
                          "focus": [name[:60], f"area{i}"]} for i, name in enumerate(NAUGHTY)]}


def naughty_review(prompt: str) -> dict[str, Any]:
    out = fake_answers.review(prompt)
    for i, issue in enumerate(out["issues"]):
        issue["file"] = NAUGHTY[i % len(NAUGHTY)]
        issue["line_start"], issue["line_end"] = [(-5, 0), (10**12, 3), (0, 0)][i % 3]
    out["issues"].append({"title": "../../x", "file": "../../../../etc/passwd", "line_start": 1, "line_end": 2,
                          "evidence": "root:x:0:0", "severity": "critical", "fix": "$(rm -rf /)"})
    return out


def naughty_scores(prompt: str) -> dict[str, Any]:
    out = fake_answers.scores(prompt)
    out["scores"] += [{"finding": name, "truth": 10, "truth_reason": name, "usefulness": 10,
                       "usefulness_reason": name} for name in NAUGHTY[:8]]
    return out


def assert_all_written_inside(tmp_path: Path, run_dir: Path) -> None:
    root = run_dir.resolve()
    assert [p.name for p in tmp_path.iterdir()] == ["runs"]
    assert [p.name for p in (tmp_path / "runs").iterdir()] == [run_dir.name]
    files = list(run_dir.rglob("*"))
    assert files
    for path in files:
        assert root in path.resolve().parents, path
        assert not path.is_symlink(), path
        rel = path.relative_to(run_dir)
        assert all(SAFE_NAME.match(part) and part not in ("..", ".") for part in rel.parts), rel
        assert len(path.name) <= 120, path


def test_naughty_persona_names_from_the_model_stay_inside_the_run(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(fake_answers.ANSWERS, "PersonasOut", naughty_personas)
    run_dir, report = run_fake(tmp_path, personas=len(NAUGHTY), k=1)
    assert report.complete and len(report.personas) == len(NAUGHTY)
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", s) and len(s) <= 48 for s in report.personas)
    assert len(set(report.personas)) == len(report.personas)
    assert not {"con", "aux", "com1", "lpt9", "nul"} & set(report.personas)
    assert len(list((run_dir / "personas").glob("*.md"))) == len(NAUGHTY)
    assert (run_dir / "responses").is_dir() and (run_dir / "rebuttals").is_dir()
    assert_all_written_inside(tmp_path, run_dir)


def test_naughty_paths_and_labels_from_the_model_are_only_data(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(fake_answers.ANSWERS, "ReviewOut", naughty_review)
    monkeypatch.setitem(fake_answers.ANSWERS, "ScoresOut", naughty_scores)
    run_dir, report = run_fake(tmp_path, personas=3, k=1)
    assert report.complete and report.findings
    assert all(f.line_start >= 1 and f.line_end >= f.line_start for f in report.findings)
    issues = [i for r in json.loads((run_dir / "debate.json").read_text(encoding="utf-8"))["reviews"]
              for i in r["issues"]]
    outside = [i for i in issues if i["file"] == "../../../../etc/passwd"]
    assert len(outside) == 3 and {i["evidence_status"] for i in outside} == {"not_found"}, "never read outside"
    passwd = Path("/etc/passwd")
    if passwd.is_file():  # no line of a file outside the target reaches a prompt
        lines = [x for x in passwd.read_text(encoding="utf-8", errors="replace").splitlines()[1:] if len(x) > 8]
        prompts = "\n".join(p.read_text(encoding="utf-8") for p in (run_dir / "calls").iterdir())
        assert not [x for x in lines if x in prompts]
    assert_all_written_inside(tmp_path, run_dir)
