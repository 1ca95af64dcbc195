"""Every secret format of the corpus is redacted in text and in names, and never reaches any file of a run."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.target.secrets import redact, redact_name
from tests.conftest import run_fake
from tests.secret_corpus import CORPUS, IN_NAMES, secret_values, write_corpus

SUFFIX = {"{name} = ": "settings.py", "{name}: ": "config.yaml", "{name}=": "settings.env"}


@pytest.mark.parametrize(("name", "value", "contexts"), CORPUS, ids=[c[0] for c in CORPUS])
def test_every_format_is_redacted_in_every_context(name: str, value: str, contexts: list[str]) -> None:
    for template in contexts:
        line = template.format(name=name, v=value)
        paths = [p for prefix, p in SUFFIX.items() if template.startswith(prefix)] or ["NOTES.md", "notes.txt"]
        for path in paths:
            text, n = redact(f"# header\n{line}\nx = 1\n", path)
            assert value not in text, (path, text)
            assert n >= 1
            assert text.count("\n") == 3 + line.count("\n")  # line numbers stay real


@pytest.mark.parametrize("token", IN_NAMES)
def test_tokens_in_names_are_redacted(token: str) -> None:
    assert token not in redact_name(f"docs/notes-{token}.txt")
    assert redact_name("src/plain_name-v2.py") == "src/plain_name-v2.py"


def test_no_secret_reaches_any_file_of_the_run_directory(tmp_path: Path) -> None:
    target = tmp_path / f"project-{IN_NAMES[1]}"
    write_corpus(target)
    run_dir, report = run_fake(tmp_path, target)
    assert report.findings
    files = [p for p in run_dir.rglob("*") if p.is_file()]
    assert any(p.name.startswith("checkpoint.sqlite") for p in files)
    leaks = []
    for p in files:
        data = p.read_bytes()
        for value in secret_values():
            for form in {value, value.replace("/", "\\/")}:
                if form.encode() in data:
                    leaks.append((p.relative_to(run_dir).as_posix(), value[:12]))
    for p in run_dir.rglob("*"):
        for value in secret_values():
            assert value not in p.name
    assert not leaks, leaks


def test_a_diff_redacts_names_and_changed_text(tmp_path: Path) -> None:
    import subprocess

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    git("config", "user.name", "t")
    git("config", "user.email", "t@e")
    (tmp_path / "app.py").write_text("x = 1\n")
    git("add", "-A")
    git("commit", "-qm", "base")
    token = IN_NAMES[0]
    (tmp_path / f"notes-{token}.md").write_text(f"secrets:\n  api: {CORPUS[-1][1]}\n")
    (tmp_path / "app.py").write_text(f'x = 1\nAWS_SECRET_ACCESS_KEY = "{CORPUS[2][1]}"\n')
    git("add", "-A")
    git("commit", "-qm", "change")
    from engine.target import ingest

    dump = ingest(tmp_path, diff="HEAD~1..HEAD").model_dump_json()
    for value in (token, CORPUS[-1][1], CORPUS[2][1]):
        assert value not in dump
