"""The quality benchmark's scorer: matching rules, metrics and AUROC, on hand-made findings."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.conftest import load_benchmark

ROOT = Path(__file__).resolve().parent.parent
QUALITY = ROOT / "benchmarks" / "quality"


def _load():
    return load_benchmark("quality/score.py", "rebuttal_quality_score")


S = _load()
CODE = S.Defect(case="c", id="sqli", file="store.py", line_start=32, line_end=35, keywords=("injection",))
TWO_RANGES = S.Defect(case="c", id="md5", file="store.py", line_start=24, line_end=24, also=((44, 44),))
DOC_TEXT = (
    "# Design\n\n## API\n\nGET /export?account_id=1\nreads account_id from the query\n\n"
    "## Processing\n\nAll in memory.\n"
)
DOC = S.Defect(case="d", id="idor", file="design.md", sections=("API",), keywords=("authoriz", "idor"))


def found(file="store.py", a=33, b=33, title="", evidence="", fix="", truth=None):
    return S.Found(file=file, line_start=a, line_end=b, title=title, evidence=evidence, fix=fix, truth=truth)


@pytest.mark.parametrize(("f", "expected"), [
    (found(a=33, b=33), True),  # inside
    (found(a=29, b=29), True),  # 3 lines before the range
    (found(a=28, b=28), False),  # 4 lines before
    (found(a=38, b=38), True),  # 3 lines after
    (found(a=39, b=40), False),  # 4 lines after
    (found(a=10, b=60), True),  # a wide finding covering it
    (found(a=31, b=29), True),  # reversed range is normalised
    (found(file="other.py"), False),  # another file
    (found(file="./src/store.py"), True),  # a path suffix of the labelled file
    (found(file="STORE.PY"), True),
    (found(file="mystore.py"), False),  # a suffix that is not a path component
])
def test_code_matching_is_same_file_and_lines_within_three(f, expected):
    assert S.matches(f, CODE) is expected


def test_also_ranges_count_for_the_same_defect():
    assert S.matches(found(a=45, b=45), TWO_RANGES)
    assert not S.matches(found(a=35, b=35), TWO_RANGES)


def test_sections_span_to_the_next_heading():
    secs = S.sections(DOC_TEXT)
    assert [(s.title, s.start, s.end) for s in secs] == [("Design", 1, 2), ("API", 3, 7), ("Processing", 8, 10)]


@pytest.mark.parametrize(("f", "expected"), [
    (found("design.md", 5, 5, title="Missing authorization on account_id"), True),
    (found("design.md", 5, 5, title="Vague wording"), False),  # right section, no keyword
    (found("design.md", 5, 5, title="Vague wording", evidence="no authorization"), False),  # keyword only in quote
    (found("design.md", 5, 5, title="Unclear", fix="Check authorization of account_id"), True),  # keyword in fix
    (found("design.md", 9, 10, title="No authorization"), False),  # keyword, wrong section
    (found("design.md", 40, 41, title="IDOR", evidence="reads account_id from the query"), True),  # quote in section
    (found("design.md", 40, 41, title="The API section lacks authorization"), True),  # names the section
    (found("design.md", 40, 41, title="Section 'API': no authorization"), True),
    (found("design.md", 40, 41, title="Make the API require authorization"), False),  # a word, not the section
    (found("other.md", 5, 5, title="authorization"), False),
])
def test_document_matching_needs_section_and_keyword(f, expected):
    assert S.matches(f, DOC, S.sections(DOC_TEXT)) is expected


def test_keywords_the_document_already_contains_do_not_count():
    echo = S.Defect(case="d", id="mem", file="design.md", sections=("Processing",), keywords=("memory", "unbounded"))
    secs = S.sections(DOC_TEXT)  # the Processing section says "All in memory."
    assert S.new_words(echo, secs) == ["unbounded"]
    assert not S.matches(found("design.md", 9, 10, title="Keep all in memory"), echo, secs)
    assert S.matches(found("design.md", 9, 10, title="Unbounded memory use"), echo, secs)


def test_precision_recall_f1_and_one_to_one_recall():
    defects = [CODE, TWO_RANGES]
    findings = [found(a=33, b=33, truth=0.9), found(a=34, b=34, truth=0.8),  # two findings, one defect
                found(a=1, b=1, truth=0.2)]  # a false positive
    s = S.score_case("c", findings, defects)
    assert (s.defects, s.findings, s.matched_findings) == (2, 3, 2)
    assert s.found_defects == ["sqli"] and s.missed_defects == ["md5"]
    assert s.recall == pytest.approx(0.5) and s.precision == pytest.approx(2 / 3)
    assert S.f1(s.precision, s.recall) == pytest.approx(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))
    # one finding overlapping two defects covers only one of them
    near = [S.Defect(case="c", id="a", file="x.py", line_start=10, line_end=10),
            S.Defect(case="c", id="b", file="x.py", line_start=13, line_end=13)]
    assert len(S.score_case("c", [found("x.py", 11, 12)], near).found_defects) == 1
    both = S.score_case("c", [found("x.py", 11, 12), found("x.py", 13, 13)], near)
    assert both.found_defects == ["a", "b"]  # the matching reassigns the ambiguous finding


def test_empty_and_clean_cases_are_undefined_not_zero():
    clean = S.score_case("clean", [found(truth=0.5)], [])
    assert clean.recall is None and clean.precision == 0.0
    silent = S.score_case("c", [], [CODE])
    assert silent.precision is None and silent.recall == 0.0
    assert S.f1(None, 0.5) is None and S.f1(0.0, 0.0) == 0.0
    agg = S.aggregate([clean, silent])
    assert agg["recall"] == 0.0 and agg["precision"] == 0.0 and agg["clean_findings"] == 1
    assert agg["truth_auroc"] is None  # no matched finding at all


@pytest.mark.parametrize(("scored", "expected"), [
    ([(0.9, True), (0.1, False)], 1.0),
    ([(0.1, True), (0.9, False)], 0.0),
    ([(0.5, True), (0.5, False)], 0.5),  # a tie counts one half
    ([(0.8, True), (0.5, True), (0.5, False), (0.2, False)], (1 + 1 + 0.5 + 1) / 4),
    ([(0.8, True), (0.7, True)], None),  # no negatives
    ([(0.8, False)], None),  # no positives
    ([], None),
])
def test_auroc_with_ties_and_degenerate_inputs(scored, expected):
    result = S.auroc(scored)
    assert result == (pytest.approx(expected) if expected is not None else None)


def test_aggregate_pools_truths_across_cases():
    a = S.score_case("a", [found(a=33, b=33, truth=0.9)], [CODE])
    b = S.score_case("b", [found(a=1, b=1, truth=0.3)], [CODE])
    agg = S.aggregate([a, b])
    assert (agg["defects"], agg["found"], agg["findings"], agg["matched"]) == (2, 1, 2, 1)
    assert agg["truth_auroc"] == 1.0 and agg["f1"] == pytest.approx(0.5)


def test_labels_file_is_consistent_with_the_corpus():
    labels = yaml.safe_load((QUALITY / "labels.yaml").read_text(encoding="utf-8"))
    defects = S.defects_from_labels(labels)
    corpus = QUALITY / "corpus"
    assert set(defects) == {p.name for p in corpus.iterdir() if p.is_dir()}
    code_cases = [c for c, spec in labels["cases"].items() if spec["kind"] == "code"]
    docs = [c for c, spec in labels["cases"].items() if spec["kind"] == "document"]
    assert len([c for c in code_cases if defects[c]]) >= 12 and len([c for c in docs if defects[c]]) >= 4
    assert {labels["cases"][c]["language"] for c in code_cases} >= {"python", "javascript"}
    assert any(not defects[c] for c in code_cases) and any(not defects[c] for c in docs)
    for case, items in defects.items():
        assert len(items) <= 3, case
        for d in items:
            path = corpus / case / d.file
            assert path.is_file(), (case, d.file)
            lines = path.read_text(encoding="utf-8").splitlines()
            if d.sections:
                secs = S.file_sections(d.file, "\n".join(lines))
                assert set(d.sections) <= {s.title for s in secs}, (case, d.id)
                assert len(S.new_words(d, secs)) >= 2, (case, d.id)  # keywords a reviewer must add
            else:
                assert all(1 <= a <= b <= len(lines) for a, b in d.ranges), (case, d.id)
                assert 30 <= len(lines) <= 120, case


def test_strict_code_matching_also_needs_a_keyword():
    right_place_wrong_claim = found(a=33, b=33, title="Long line")
    assert S.matches(right_place_wrong_claim, CODE)
    assert not S.matches(right_place_wrong_claim, CODE, strict=True)
    assert S.matches(found(a=33, b=33, title="SQL injection via f-string"), CODE, strict=True)
    s = S.score_case("c", [right_place_wrong_claim], [CODE], strict=True)
    assert s.found_defects == [] and s.precision == 0.0


RST_TEXT = (
    "=====\nTitle\n=====\n\nIntro.\n\nLimits\n======\n\n* 60 per minute\n\nCounting\n--------\n\n"
    "Text.\n\n----\n\nNot a title\n---\n"
)


def test_rst_sections_use_underlined_titles():
    secs = S.rst_sections(RST_TEXT)
    # "---" under a longer line is no title
    assert [(s.title, s.start, s.end) for s in secs] == [("Title", 1, 6), ("Limits", 7, 11), ("Counting", 12, 20)]
    assert S.file_sections("proposal.RST", RST_TEXT) == secs
    assert [s.title for s in S.file_sections("x.md", "# A\n\n## B\n")] == ["A", "B"]


def test_plain_text_sections_are_numbered_headings_titled_without_their_number_or_capitals_lines():
    text = ("REFERRAL PRD\n\n1. WHY\n\nText.\n\n2.1 Budget limits\n\nR1. Not a heading.\n3. lower case is no heading\n"
            "\n1. The importer accepts files\n2. It validates them\n\nOPEN QUESTIONS\n\nNONE\nyet\n")
    secs = S.file_sections("prd.txt", text)
    assert [(s.title, s.start, s.end) for s in secs] == [
        ("REFERRAL PRD", 1, 2), ("WHY", 3, 6), ("Budget limits", 7, 14), ("OPEN QUESTIONS", 15, 18)]


def test_numbered_headings_with_an_indented_body_are_scorer_sections():
    text = ("PAYMENTS SERVICE DESIGN\n\n1. Introduction\n   This document describes the service.\n\n"
            "2. Requirements\n   The API must answer within 200 ms.\n")
    assert [s.title for s in S.file_sections("prd.txt", text)] == ["PAYMENTS SERVICE DESIGN", "Introduction",
                                                                    "Requirements"]


def test_a_wrapped_numbered_item_is_no_scorer_section():
    text = ("REQUIREMENTS\n\n1. A buyer can save a search from the results\n   page with one tap.\n"
            "2. Alerts must feel timely.\n")
    assert [(s.title, s.start) for s in S.file_sections("prd.txt", text)] == [("REQUIREMENTS", 1)]


def test_markdown_headings_inside_code_fences_are_not_sections():
    text = "# Design\n\n```python\n# not a heading\n```\n\n## Flow\n\n```mermaid\nflowchart LR\n```\n"
    assert [(s.title, s.start) for s in S.sections(text)] == [("Design", 1), ("Flow", 7)]


@pytest.mark.parametrize(("text", "keyword", "expected"), [
    ("No limits on uploads", "limit", True),  # a word that starts with the keyword
    ("written in Markdown", "down", False),  # the keyword inside a word does not count
    ("the service is DOWN", "down", True),
    ("use  min( capacity , x)", "min(", True),
    ("path ../etc", "../", True),
    ("unauthorized access", "authoriz", False),
    ("", "x", False),
])
def test_keywords_count_at_the_start_of_a_word(text, keyword, expected):
    assert S.contains_keyword(text, keyword) is expected


def test_held_out_rule_takes_a_third_of_each_stratum_by_name_hash():
    def case(kind, n):
        spec = {"kind": kind, "defects": [] if n == 0 else [
            {"id": "a", "file": "f", "description": "d", "line_start": 1} if kind == "code" else
            {"id": "a", "file": "f.md", "description": "d", "section": "S", "keywords": ["k"]}]}
        return spec | ({"language": "python"} if kind == "code" else {})

    cases = {f"c{i}": case("code", 1) for i in range(7)} | {f"k{i}": case("code", 0) for i in range(2)} | {
        f"d{i}": case("document", 1) for i in range(3)}
    held = S.held_out_by_rule({"cases": cases})
    assert len(held & {f"c{i}" for i in range(7)}) == 3  # ceil(7 / 3)
    assert len(held & {"k0", "k1"}) == 1 and len(held & {"d0", "d1", "d2"}) == 1
    assert held == S.held_out_by_rule({"cases": dict(reversed(cases.items()))})  # order does not matter
    flagged = {"cases": {n: spec | {"held_out": n in held} for n, spec in cases.items()}}
    assert S.held_out_cases(flagged) == held


def test_a_subject_makes_a_generic_claim_miss_the_flaw():
    text = "# PRD\n\n## Requirements\n\nR3: results within 300 ms.\n\n## Performance\n\np95 under 800 ms.\n"
    flaw = S.Defect(case="d", id="latency", file="prd.md", sections=("Requirements", "Performance"),
                    keywords=("contradict", "inconsisten"), subject=("latency", "300", "800"))
    secs = S.sections(text)
    assert not S.matches(found("prd.md", 5, 5, title="Inconsistent wording of requirements"), flaw, secs)
    assert S.matches(found("prd.md", 5, 5, title="Inconsistent latency targets", fix="Pick 300 or 800 ms"), flaw, secs)
    assert S.matches(found("prd.md", 9, 9, title="R3's 300 ms contradicts the 800 ms p95"), flaw, secs)
    with pytest.raises(ValueError, match="subject"):
        S.validate_labels({"cases": {"a": {"kind": "code", "language": "python", "defects": [
            {"id": "x", "file": "a.py", "line_start": 1, "description": "d", "subject": ["s"]}]}}})
