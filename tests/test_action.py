"""The GitHub Action: action.yml and the example workflow linted by actionlint (inputs checked against the
action's metadata, run: blocks by shellcheck), and the review step's script run for real against a
two-commit git repository with the fake model. Only the upload and comment steps (GitHub API) are not run."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SCHEMA = ROOT / "tests" / "data" / "sarif-schema-2.1.0.json"
MARKER = "<!-- rebuttal-summary -->"


def tool(name: str) -> str:
    path = shutil.which(name, path=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    if path is None:
        pytest.fail(f"{name} is not installed (it is in the test extra)")
    return path


def git(repo: Path, *args: str) -> str:
    cmd = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false", "-C", str(repo), *args]
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip()


def lint_repo(tmp_path: Path, workflow: str) -> subprocess.CompletedProcess[str]:
    """actionlint on a repository holding this action and `workflow` with the action as `uses: ./`."""
    repo = tmp_path / "lint"
    (repo / ".github" / "workflows").mkdir(parents=True)
    shutil.copy(ROOT / "action.yml", repo / "action.yml")
    (repo / ".github" / "workflows" / "review.yml").write_text(workflow)
    git(repo, "init", "-q")
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run([tool("actionlint"), "-oneline", "-shellcheck", tool("shellcheck")], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=60)


def example_as_local() -> str:
    text = (ROOT / "examples" / "github-workflow.yml").read_text()
    assert re.search(r"uses: OWNER/rebuttal@\S+", text)
    return re.sub(r"uses: OWNER/rebuttal@\S+", "uses: ./", text)


def test_actionlint_clean(tmp_path: Path) -> None:
    res = lint_repo(tmp_path, example_as_local())
    assert res.returncode == 0 and res.stdout == "", res.stdout + res.stderr


def test_actionlint_catches_a_wrong_input(tmp_path: Path) -> None:
    res = lint_repo(tmp_path, example_as_local().replace("fail-on:", "fail-onn:"))
    assert res.returncode == 1 and "fail-onn" in res.stdout


def test_scripts_pass_shellcheck() -> None:
    scripts = sorted(str(p) for p in (ROOT / "scripts").glob("action-*.sh"))
    res = subprocess.run([tool("shellcheck"), *scripts], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout


def test_action_passes_every_variable_the_script_reads() -> None:
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    step = next(s for s in action["runs"]["steps"] if s.get("id") == "review")
    read = set(re.findall(r"\$\{(REBUTTAL_[A-Z_]+)", (ROOT / "scripts" / "action-review.sh").read_text()))
    assert read - {"REBUTTAL_RUN_ID"} <= set(step["env"]), read - set(step["env"])
    for name in ("run-dir", "sarif", "summary", "review-comments", "gate", "findings"):
        assert f"steps.review.outputs.{name}" in action["outputs"][name]["value"]


@pytest.fixture
def pr_repo(tmp_path: Path) -> Path:
    """A repository with a base commit and a pull request's commit on top."""
    repo = tmp_path / "repo"
    (repo / "src").mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    (repo / "src" / "store.py").write_text("def get(d, key):\n    return d[key]\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "base")
    (repo / "src" / "store.py").write_text(
        "import pickle\n\n\ndef get(d, key):\n    return d[key]\n\n\n"
        "def load(path):\n    with open(path, 'rb') as fh:\n        return pickle.load(fh)  # trusts the file\n")
    git(repo, "commit", "-qam", "add a loader")
    return repo


def run_step(repo: Path, tmp_path: Path, fail_on: str) -> tuple[subprocess.CompletedProcess[str], dict[str, str]]:
    outputs = tmp_path / "github-output"
    outputs.write_text("")
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "PYTHONPATH": str(ROOT),
           "REBUTTAL_FORBID_REAL_MODELS": "1", "GITHUB_OUTPUT": str(outputs), "GITHUB_RUN_ID": "77",
           "REBUTTAL_BASE": git(repo, "rev-parse", "HEAD~1"), "REBUTTAL_HEAD": git(repo, "rev-parse", "HEAD"),
           "REBUTTAL_MODEL": "fake", "REBUTTAL_WORKFLOW": "debate", "REBUTTAL_BUDGET": "40",
           "REBUTTAL_FAIL_ON": fail_on, "REBUTTAL_COMMENT_ON": "truth>=0", "REBUTTAL_OUT": str(tmp_path / "out"),
           "REBUTTAL_EXTRA_ARGS": "--persona security-auditor --persona maintainer -k 1"}
    res = subprocess.run(["bash", str(ROOT / "scripts" / "action-review.sh")], cwd=repo, env=env,
                         capture_output=True, text=True, timeout=240)
    return res, dict(line.split("=", 1) for line in outputs.read_text().splitlines())


def test_review_step_writes_sarif_summary_and_comments(pr_repo: Path, tmp_path: Path) -> None:
    res, out = run_step(pr_repo, tmp_path, "severity>=critical and truth>=0.99")
    assert res.returncode == 0, res.stdout + res.stderr
    assert out["gate"] == "pass" and int(out["findings"]) >= 1
    assert Path(out["run-dir"]).name == "rebuttal-77-1"
    sarif = json.loads(Path(out["sarif"]).read_text())
    jsonschema.validate(sarif, json.loads(SCHEMA.read_text()))
    assert sarif["runs"][0]["results"]
    assert {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in sarif["runs"][0]["results"]} \
        == {"src/store.py"}
    summary = Path(out["summary"]).read_text()
    assert summary.startswith(MARKER + "\n### rebuttal: ") and "passes" in summary
    review = json.loads(Path(out["review-comments"]).read_text())
    assert review["event"] == "COMMENT" and review["comments"]
    for c in review["comments"]:
        assert c["path"] == "src/store.py" and c["side"] == "RIGHT" and 1 <= c["line"] <= 10
    assert "gate 'severity>=critical and truth>=0.99': pass" in res.stdout


def test_review_step_reports_a_tripped_gate_without_failing(pr_repo: Path, tmp_path: Path) -> None:
    res, out = run_step(pr_repo, tmp_path, "truth>=0")
    assert res.returncode == 0, res.stdout + res.stderr
    assert out["gate"] == "fail" and "**fails**" in Path(out["summary"]).read_text()


@pytest.mark.parametrize(("env", "message"), [
    ({"REBUTTAL_BASE": ""}, "REBUTTAL_BASE is empty"),
    ({"REBUTTAL_BASE": "0123456789abcdef0123456789abcdef01234567"}, "fetch-depth: 0"),
    ({"REBUTTAL_BUDGET": "lots"}, "budget must be"),
    ({"REBUTTAL_FAIL_ON": "colour>=1"}, "rebuttal review failed (exit 2)"),
])
def test_review_step_errors(pr_repo: Path, tmp_path: Path, env: dict[str, str], message: str,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    base = {"PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "PYTHONPATH": str(ROOT),
            "REBUTTAL_FORBID_REAL_MODELS": "1", "REBUTTAL_BASE": "HEAD~1", "REBUTTAL_HEAD": "HEAD",
            "REBUTTAL_MODEL": "fake", "REBUTTAL_OUT": str(tmp_path / "out")}
    res = subprocess.run(["bash", str(ROOT / "scripts" / "action-review.sh")], cwd=pr_repo,
                         env={**os.environ, **base, **env}, capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and message in res.stderr, res.stderr
