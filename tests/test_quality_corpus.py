"""The quality corpus is consistent with its labels: files, line ranges, held-out split, documents' keywords.

Corpus programs are only parsed (compile() on the text, `node --check`), never imported or run.
"""

from __future__ import annotations

import math
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import load_benchmark

ROOT = Path(__file__).resolve().parent.parent
QUALITY = ROOT / "benchmarks" / "quality"
CORPUS = QUALITY / "corpus"
S = load_benchmark("quality/score.py", "rebuttal_quality_score")
LABELS = yaml.safe_load((QUALITY / "labels.yaml").read_text(encoding="utf-8"))
CASES = S.validate_labels(LABELS).cases
DEFECTS = S.defects_from_labels(LABELS)


def _lines(case: str, file: str) -> list[str]:
    return (CORPUS / case / file).read_text(encoding="utf-8").splitlines()


def _files(case: str) -> list[Path]:
    return sorted(p for p in (CORPUS / case).rglob("*") if p.is_file())


def test_every_case_folder_has_labels_and_every_label_a_folder():
    folders = {p.name for p in CORPUS.iterdir() if p.is_dir()}
    assert folders == set(CASES)
    assert all(_files(case) for case in CASES)


def test_corpus_size_and_mix():
    code = [c for c, spec in CASES.items() if spec.kind == "code"]
    docs = [c for c, spec in CASES.items() if spec.kind == "document"]
    assert len([c for c in code if DEFECTS[c]]) >= 30
    assert len([c for c in code if not DEFECTS[c]]) >= 8
    assert len(docs) >= 12 and len([c for c in docs if not DEFECTS[c]]) >= 2
    python = [c for c in code if CASES[c].language == "python"]
    assert {CASES[c].language for c in code} == {"python", "javascript"}
    assert 0.6 <= len(python) / len(code) <= 0.75  # about two thirds Python
    suffixes = {p.suffix for c in docs for p in _files(c)}
    assert {".md", ".rst"} <= suffixes
    texts = [p.read_text(encoding="utf-8") for c in docs for p in _files(c)]
    assert any("```mermaid" in t for t in texts) and any("|---|" in t for t in texts)


@pytest.mark.parametrize("case", sorted(CASES))
def test_defects_point_at_real_lines_and_sections(case):
    spec = CASES[case]
    assert len(DEFECTS[case]) <= 3
    assert len({d.id for d in DEFECTS[case]}) == len(DEFECTS[case])
    for d in DEFECTS[case]:
        assert (CORPUS / case / d.file).is_file(), (case, d.file)
        lines = _lines(case, d.file)
        if spec.kind == "code":
            for a, b in d.ranges:
                assert 1 <= a <= b <= len(lines), (case, d.id, a, b)
                assert all(lines[i - 1].strip() for i in range(a, b + 1)), (case, d.id, "blank line in range")
        else:
            secs = S.file_sections(d.file, "\n".join(lines))
            assert set(d.sections) <= {s.title for s in secs}, (case, d.id)


@pytest.mark.parametrize("case", sorted(c for c, spec in CASES.items() if spec.kind == "document"))
def test_document_keywords_name_the_flaw_not_echo_the_text(case):
    for path in _files(case):
        text = path.read_text(encoding="utf-8")
        assert 30 <= len(text.splitlines()) <= 200, path.name
        for d in DEFECTS[case]:
            if d.file == path.name:
                echoed = [k for k in d.keywords if S.contains_keyword(text, k)]
                assert not echoed, (case, d.id, echoed)
                assert len(d.keywords) >= 3, (case, d.id)


@pytest.mark.parametrize("case", sorted(c for c, spec in CASES.items() if spec.kind == "code"))
def test_code_files_parse_and_have_a_realistic_size(case):
    for path in _files(case):
        text = path.read_text(encoding="utf-8")
        assert 25 <= len(text.splitlines()) <= 120, path.name
        if path.suffix == ".py":
            compile(text, str(path), "exec")  # parse only: corpus code is never imported or run
        elif path.suffix == ".js" and shutil.which("node"):
            check = subprocess.run(["node", "--check", str(path)], capture_output=True, text=True, timeout=30)
            assert check.returncode == 0, check.stderr


def test_held_out_flags_follow_the_documented_rule_and_cover_a_third():
    held = S.held_out_cases(LABELS)
    assert held == S.held_out_by_rule(LABELS)
    for kind in ("code", "document"):
        for clean in (True, False):
            stratum = [c for c, spec in CASES.items() if spec.kind == kind and (not DEFECTS[c]) is clean]
            assert len(held & set(stratum)) == math.ceil(len(stratum) / 3), (kind, clean)
        names = [c for c, spec in CASES.items() if spec.kind == kind]
        assert len(held & set(names)) * 3 >= len(names), kind


def test_labels_are_validated_strictly():
    ok = {"cases": {"a": {"kind": "code", "language": "python", "defects": [
        {"id": "x", "file": "a.py", "line_start": 3, "line_end": 4, "description": "d"}]}}}
    S.validate_labels(ok)
    bad_case = {"cases": {"a": {**ok["cases"]["a"], "heldout": True}}}
    with pytest.raises(ValueError, match=r"cases\.a\.heldout"):
        S.validate_labels(bad_case)
    bad_defect = {"cases": {"a": {**ok["cases"]["a"], "defects": [{**ok["cases"]["a"]["defects"][0], "line": 3}]}}}
    with pytest.raises(ValueError, match="line"):
        S.validate_labels(bad_defect)
    doc_with_lines = {"cases": {"d": {"kind": "document", "defects": [
        {"id": "y", "file": "d.md", "line_start": 1, "description": "d", "keywords": ["k"]}]}}}
    with pytest.raises(ValueError, match="a document flaw has a section"):
        S.validate_labels(doc_with_lines)
    with pytest.raises(ValueError, match="names its language"):
        S.validate_labels({"cases": {"a": {"kind": "code", "defects": []}}})
