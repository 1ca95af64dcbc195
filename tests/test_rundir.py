"""The run directory type, and the one reader of front matter, one path comparison and one token estimate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine import frontmatter, rundir
from engine.claims.crosscheck import touches
from engine.claims.model import Hit
from engine.config import split_front_matter
from engine.errors import ConfigError
from engine.paths import clean_path, path_key, same_file
from engine.rundir import RunDir
from engine.tokens import estimate_tokens


@pytest.mark.parametrize(("text", "meta", "body"), [
    ("---\nid: R-a\nkind: review\n---\n# Title\n", {"id": "R-a", "kind": "review"}, "# Title\n"),
    ("---\nid: x\n---\n\n\nbody", {"id": "x"}, "body"),
    ("---  \nid: x\n---\nbody", {"id": "x"}, "body"),
    ("# no front matter\n---\nid: x\n---\n", {}, "# no front matter\n---\nid: x\n---\n"),
    ("---\n- a list\n---\nbody", {}, "body"),
    ("---\nid: x\n", {}, "---\nid: x\n"),  # never closed: no block
])
def test_front_matter_meta_and_body(text: str, meta: dict[str, Any], body: str) -> None:
    assert frontmatter.meta(text) == meta
    assert frontmatter.body(text) == body


@pytest.mark.parametrize(("text", "message"), [
    ("no block", "missing YAML front matter"),
    ("---\nname: [unclosed\n---\nbody", "invalid YAML front matter"),
    ("---\n- a\n---\nbody", "must be a mapping"),
])
def test_persona_files_get_one_line_errors_from_the_same_reader(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        split_front_matter(text, "p.md")
    assert split_front_matter("---\nslug: a\n---\n  brief  \n", "p.md") == ({"slug": "a"}, "brief")


@pytest.mark.parametrize(("a", "b", "same"), [
    ("src/x.py", "x.py", True),
    ("./src/x.py", "SRC/X.py", True),
    ("src\\x.py", "src/x.py", True),
    ("/repo/src/x.py", "src/x.py", True),
    ("./.github/workflows/ci.yml", ".github/workflows/ci.yml", True),
    (".github/workflows/ci.yml", "github/workflows/ci.yml", False),  # the dot is part of the name
    ("src/ax.py", "x.py", False),
    ("", "x.py", False),
])
def test_one_path_comparison(a: str, b: str, same: bool) -> None:
    assert same_file(a, b) is same and same_file(b, a) is same


def test_clean_path_keeps_case_and_leading_dots() -> None:
    assert clean_path(" ././.github/CI.yml ") == ".github/CI.yml"
    assert clean_path("a\\B.py") == "a/B.py"
    assert path_key("./A/B.py") == path_key("/A/B.py") == "a/b.py"


def test_claim_hits_on_a_dot_folder_touch_its_findings() -> None:
    hit = Hit(rule="conflicting-values", claims=["CL-001"], file=".github/README.md", lines=[10], title="t", detail="d",
              evidence="e")
    assert touches(hit, "./.github/README.md", 9, 11)
    assert not touches(hit, "github/README.md", 9, 11)


@pytest.mark.parametrize(("text", "tokens"), [("", 0), ("a", 1), ("abcdefg", 2), ("x" * 35, 10), ("x" * 36, 11)])
def test_one_token_estimate(text: str, tokens: int) -> None:
    assert estimate_tokens(text) == tokens


def test_run_dir_names_its_files() -> None:
    run = RunDir(Path("runs/r1"))
    assert run.report_md == Path("runs/r1/review-findings.md") and run.ledger == Path("runs/r1/ledger.jsonl")
    assert (run.run_yaml.name, run.report_json.name, run.triage.name, run.checkpoint.name, run.lock.name) == (
        "run.yaml", "report.json", "triage.yaml", "checkpoint.sqlite", "run.lock")
    assert RunDir.call_file("abc") == "calls/abc.json"
    assert RunDir.review_file("sec") == "reviews/sec-review.md"
    assert RunDir.review_file("sec", 3) == "reviews/sec-review-r3.md"
    assert RunDir.verification_file("F-001") == "verifications/F-001-verification.md"
    assert RunDir.reproducer_stem("../F 1") == "verifications/-F-1-reproducer"


def test_what_kind_of_folder(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "r")
    run.path.mkdir()
    assert run.unstarted() and not run.is_run()
    run.write(rundir.TARGET, "{}")
    assert run.unstarted()
    run.save_info({"run_id": "r"})
    assert run.is_run() and not run.unstarted() and not run.looks_like_run()
    run.write(RunDir.call_file("c1"), '{"parsed": {"a": 1}}')
    assert run.looks_like_run() and run.info() == {"run_id": "r"}
    assert run.call_record("c1") == {"parsed": {"a": 1}} and run.call_record("c2") is None


def test_missing_or_broken_records_are_one_line_errors(tmp_path: Path) -> None:
    run = RunDir(tmp_path)
    assert run.info() == {} and run.optional_json(rundir.CLAIMS_JSON) is None and run.ledger_lines() == []
    with pytest.raises(ConfigError, match="has no report.json.*rebuttal resume"):
        run.report()
    run.write(rundir.RUN, "a: [unclosed\n")
    with pytest.raises(ConfigError, match="run.yaml: not valid YAML"):
        run.info()
    run.write_json(rundir.REPORT_JSON, {"run_id": "x"})
    with pytest.raises(ConfigError, match="does not match the report format"):
        run.report()


def test_report_markdown_without_front_matter_and_artifacts(tmp_path: Path) -> None:
    run = RunDir(tmp_path)
    run.write(rundir.REPORT_MD, "---\nid: report\nkind: report\n---\n# Review findings\n")
    run.write("reviews/a-review.md", "---\nid: R-a\nderived_from: [P-a]\n---\nbody\n")
    run.write("notes.md", "no front matter\n")
    assert run.report_markdown() == "# Review findings\n"
    assert [(p.name, m["id"]) for p, m in run.artifacts()] == [("review-findings.md", "report"),
                                                               ("a-review.md", "R-a")]
