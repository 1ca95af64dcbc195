"""Pure verify logic without a model: analyzer output parsing, hit-to-finding and hit-to-issue matching,
the analyzers review, analyzer members kept unless refuted (table-driven)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine.models import Issue, Response, ResponsePoint
from engine.stages.cluster import Member
from engine.verify.analyzers import (
    COVERAGE,
    AnalyzerRun,
    Hit,
    covered,
    language_of,
    parse_bandit,
    parse_oxlint,
    parse_ruff,
    ruff_severity,
    rule_severity,
    run_analyzers,
    run_oxlint,
)
from engine.verify.checks import Subject, Verification
from engine.verify.gather import applicability_notes, find_verification, keep_analyzer_members
from engine.verify.matching import analyzer_review, hits_at, mentions_same, raised


def hit(rule: str, line: int, message: str = "", tool: str = "ruff", severity: str = "medium",
        file: str = "app.py", end: int | None = None) -> Hit:
    return Hit(tool=tool, rule=rule, message=message, file=file, line=line, end_line=end or line,
               severity=severity)  # type: ignore[arg-type]


def issue(iid: str, line: int, title: str, fix: str = "Fix it.", end: int | None = None) -> Issue:
    return Issue(id=iid, title=title, file="app.py", line_start=line, line_end=end or line, evidence="x = 1",
                 severity="medium", fix=fix)


MUTABLE = hit("B006", 10, "Do not use mutable data structures for argument defaults")
MD5 = hit("S324", 24, "Probable use of insecure hash functions in `hashlib`: `md5`")
YAML = hit("S506", 21, "Probable use of unsafe loader `Loader` with `yaml.load`. Allows instantiation of arbitrary "
           "objects. Consider `yaml.safe_load`.")
PICKLE = hit("S301", 30, "`pickle` and modules that wrap it can be unsafe when used to deserialize untrusted data")


@pytest.mark.parametrize(
    ("file", "lo", "hi", "expected"),
    [
        ("app.py", 10, 10, ["B006"]),  # at the line
        ("app.py", 11, 12, ["B006"]),  # finding starts one line below: within ±1
        ("app.py", 8, 9, ["B006"]),  # ends one line above
        ("app.py", 12, 14, []),  # two lines off: not this finding's lines
        ("app.py", 5, 40, ["B006", "S301"]),  # a wide finding covers both
        ("other.py", 10, 10, []),  # another file
        (None, 10, 10, []),  # the finding's file is not in the target
    ],
)
def test_hits_at_a_findings_lines(file: str | None, lo: int, hi: int, expected: list[str]) -> None:
    assert [h.rule for h in hits_at([MUTABLE, PICKLE], file, lo, hi)] == expected


def test_a_multi_line_hit_counts_over_its_whole_range() -> None:
    long = hit("B006", 10, "mutable default", end=14)
    assert hits_at([long], "app.py", 15, 15) == [long]
    assert hits_at([long], "app.py", 16, 16) == []


@pytest.mark.parametrize(
    ("h", "title", "fix", "same"),
    [
        (MUTABLE, "Mutable default argument is shared", "Use None.", True),
        (MUTABLE, "Default list shared between calls", "", True),
        (MUTABLE, "Missing docstring", "Document it.", False),
        (PICKLE, "Unsafe deserialization of the cache file", "", True),
        (PICKLE, "pickle.load of a file anyone can write", "", True),
        (PICKLE, "Cache never expires", "Add a TTL.", False),
        (hit("S113", 5, "Probable use of `requests` call without timeout"), "No timeout on the HTTP call", "", True),
        (hit("S113", 5, "Probable use of `requests` call without timeout"), "Retries are unbounded", "", False),
        (hit("S105", 5, "Possible hardcoded password assigned to: \"token\""), "Hard-coded secret", "", True),
        # a rule's defect, not its subject (tuning runs: a claim that a hash is missing, or that loading a YAML file
        # may fail, was lent the weak-hash or unsafe-loader hit at its lines)
        (MD5, "Password Hashing", "Use a secure password hashing algorithm such as bcrypt or scrypt.", True),
        (MD5, "Insufficient checks", "Use a salt to hash the password.", True),
        (MD5, "Password hash not found issue", "Add a check to see if the password hash is found.", False),
        (MD5, "Bug in create method", "Store the password hash using the correct hashing algorithm.", False),
        (YAML, "Unsafe YAML loader", "Use yaml.safe_load.", True),
        (YAML, "Unhandled error when loading settings from a YAML file", "Add error handling.", False),
        # a rule without topics: its message's specific words, a generic word's plural not one of them
        (hit("PLE1142", 5, "`await` should be used within an async functions"), "Bug in `countdown` function", "",
         False),
        # code the message quotes is the subject, not the defect (a new user's run: a claim about caching was lent
        # S108 at its line by the quoted path "/tmp/api-cache.pkl")
        (hit("S108", 5, 'Probable insecure usage of temporary file or directory: "/tmp/api-cache.pkl"'),
         "Missing caching for the `get` method", "Add caching that stores API responses in a cache.", False),
        (hit("S108", 5, 'Probable insecure usage of temporary file or directory: "/tmp/api-cache.pkl"'),
         "Cache file in a shared temporary directory", "Use a private directory.", True),
    ],
)
def test_an_issue_mentions_the_same_thing(h: Hit, title: str, fix: str, same: bool) -> None:
    assert mentions_same(h, issue("R-a#1", h.line, title, fix)) is same


@pytest.mark.parametrize(
    ("fix", "same"),
    [
        # the quoted line copied into the fix (a new-user run): the claim is error handling, not unpickling
        ("self.entries = pickle.load(fh) except Exception as e: print(f'Error loading cache: {e}')", False),
        ("Load the cache with json instead of pickle.", True),  # the fix's own words name it
    ],
)
def test_the_quoted_code_copied_into_a_fix_names_nothing(fix: str, same: bool) -> None:
    lack = Issue(id="R-a#2", title="Lack of proper error handling for ResponseCache class", file="app.py",
                 line_start=30, line_end=30, evidence="self.entries = pickle.load(fh)", severity="medium", fix=fix)
    assert mentions_same(PICKLE, lack) is same
    assert raised(PICKLE, [(lack, "app.py")]) is same  # unraised: the analyzers review raises it as its own


@pytest.mark.parametrize(
    ("line", "title", "file", "is_raised"),
    [
        (10, "Mutable default argument", "app.py", True),
        (12, "Mutable default argument", "app.py", True),  # within ±2 lines
        (13, "Mutable default argument", "app.py", False),  # three lines off
        (10, "Variable naming is unclear", "app.py", False),  # right place, another subject
        (10, "Mutable default argument", None, False),  # the issue's file is not in the target
        (10, "Mutable default argument", "lib.py", False),
    ],
)
def test_raised_by_a_persona(line: int, title: str, file: str | None, is_raised: bool) -> None:
    assert raised(MUTABLE, [(issue("R-a#1", line, title), file)]) is is_raised


def test_analyzers_review_groups_a_line_and_skips_raised_and_low_hits() -> None:
    hits = [MUTABLE, PICKLE, hit("B301", 30, "Pickle can be unsafe", tool="bandit"),
            hit("B403", 1, "Consider possible security implications associated with pickle module.",
                tool="bandit", severity="low")]
    run = AnalyzerRun(tools={"ruff": "1", "bandit": "2"}, files=["app.py"], hits=hits)
    lines = {("app.py", 10): "def add(x, seen=[]):", ("app.py", 30): "    return pickle.load(fh)"}
    review = analyzer_review(run, [], lines)
    assert review is not None and review.persona == "analyzers" and review.id == "R-analyzers"
    assert [(i.id, i.line_start, i.evidence) for i in review.issues] == [
        ("R-analyzers#1", 10, "def add(x, seen=[]):"), ("R-analyzers#2", 30, "return pickle.load(fh)")]
    assert "ruff S301" in review.issues[1].fix and "bandit B301" in review.issues[1].fix
    raised_one = analyzer_review(run, [(issue("R-p#1", 10, "Mutable default list"), "app.py")], lines)
    assert raised_one is not None and [i.line_start for i in raised_one.issues] == [30]
    assert analyzer_review(AnalyzerRun(files=["app.py"]), [], {}) is None


def test_parse_ruff_and_bandit_output(tmp_path: Path) -> None:
    ruff = [{"code": "B006", "message": "Do not use mutable data structures for argument defaults",
             "filename": str(tmp_path / "pkg" / "m.py"), "location": {"row": 3, "column": 22},
             "end_location": {"row": 3, "column": 24}}]
    assert parse_ruff(ruff, tmp_path) == [hit("B006", 3, ruff[0]["message"], file="pkg/m.py")]  # type: ignore[index]
    bandit = {"results": [{"filename": "./pkg/m.py", "line_number": 9, "line_range": [9, 10], "test_id": "B301",
                           "issue_text": "Pickle ...", "issue_severity": "MEDIUM"}]}
    assert parse_bandit(bandit) == [hit("B301", 9, "Pickle ...", tool="bandit", file="pkg/m.py", end=10)]


def test_parse_oxlint_output() -> None:
    data = {"diagnostics": [
        {"message": "Checking equality with NaN will always return false", "code": "eslint(use-isnan)",
         "severity": "error", "filename": "./src/a.js", "labels": [{"span": {"offset": 28, "line": 2, "column": 13}}]},
        {"message": "The update clause in this loop moves the variable in the wrong direction",
         "code": "eslint(for-direction)", "severity": "error", "filename": "src/a.js",
         "labels": [{"span": {"line": 6, "column": 19}}, {"span": {"line": 5, "column": 27}}]},
        {"message": "Invalid listener", "code": "unicorn(no-invalid-remove-event-listener)", "severity": "error",
         "filename": "b.ts", "labels": [{"span": {"line": 3}}]},
        {"message": "Expected function name", "severity": "error", "filename": "bad.js",
         "labels": [{"span": {"line": 1, "column": 10}}]},
        {"message": "Type annotation cannot appear on a constructor declaration.", "code": "TS(1093)",
         "severity": "error", "filename": "c.ts", "labels": [{"span": {"line": 4}}]},
    ]}
    assert parse_oxlint(data) == [
        hit("use-isnan", 2, data["diagnostics"][0]["message"], tool="oxlint", file="src/a.js"),
        hit("for-direction", 5, data["diagnostics"][1]["message"], tool="oxlint", file="src/a.js", end=6),
        hit("unicorn/no-invalid-remove-event-listener", 3, "Invalid listener", tool="oxlint", file="b.ts"),
        Hit(tool="oxlint", rule="syntax", message="Expected function name", file="bad.js", line=1, end_line=1,
            severity="high"),  # a file that does not parse
        Hit(tool="oxlint", rule="syntax", message="Type annotation cannot appear on a constructor declaration.",
            file="c.ts", line=4, end_line=4, severity="high"),  # TypeScript's parser errors carry a code
    ]


def test_oxlint_that_prints_no_json_is_an_error_not_a_crash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.target.snapshot import SourceFile, TargetSnapshot
    from engine.verify import analyzers

    fake = tmp_path / "oxlint"
    fake.write_text("#!/bin/sh\necho 'No files found to lint.'\n", encoding="utf-8")
    fake.chmod(0o755)
    monkeypatch.setattr(analyzers, "oxlint_binary", lambda: str(fake))
    snap = TargetSnapshot(kind="folder", root="/r", name="r", files=[SourceFile(path="a.js", text="let x = 1;\n")])
    run = run_analyzers(snap, ["ruff", "oxlint"])
    assert run.files == ["a.js"] and run.tools == {} and not run.hits  # ruff had nothing in its language to read
    assert run.errors == ["oxlint did not run: RuntimeError: oxlint printed no JSON: No files found to lint."]


def test_oxlint_not_installed_by_pip_reports_the_binary_s_version(monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib.metadata import PackageNotFoundError

    from engine.verify import analyzers

    def missing(name: str) -> str:
        raise PackageNotFoundError(name)

    monkeypatch.setattr(analyzers, "version", missing)
    assert re.fullmatch(r"\d+\.\d+\.\d+", analyzers.tool_version("oxlint"))
    with pytest.raises(PackageNotFoundError):
        analyzers.tool_version("ruff")


def test_mixed_target_checks_say_only_what_each_tool_looked_at() -> None:
    from engine.target.snapshot import SourceFile, TargetSnapshot
    from engine.verify.gather import analyzer_findings, not_covered_reason

    snap = TargetSnapshot(kind="folder", root="/r", name="r", files=[
        SourceFile(path="app.py", text="x = 1\n"), SourceFile(path="web/app.js", text="let y = 2;\n")])
    run = AnalyzerRun(tools={"ruff": "1", "bandit": "1", "oxlint": "1"}, files=["app.py", "web/app.js"])
    for file, tools in (("app.py", {"analyzer:ruff", "analyzer:bandit"}), ("web/app.js", {"analyzer:oxlint"})):
        c = quote_cluster(Issue(id="R-x#1", title="t", file=file, line_start=1, line_end=1, evidence="x",
                                severity="low", fix=""))
        checks, na = analyzer_findings(snap, c, run, ["ruff", "bandit", "oxlint"])
        assert {ch.kind for ch in checks} == tools and not na
        assert all(ch.outcome == "inconclusive" and file in ch.detail for ch in checks)
    # a run cached before oxlint existed: its analyzers.json lists the Python files only
    assert not_covered_reason("web/app.js", ["ruff", "bandit", "oxlint"]).startswith(
        "analyzers: the run's analyzers.json predates the analyzer for javascript")
    assert not_covered_reason("lib.min.js", None) == "analyzers: the cited file is minified (not analyzed)"


def test_run_oxlint_on_a_copy(tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "a.ts").write_text("export function f(x: number): number {\n  if (x === NaN) { return 0; }\n"
                                           "  const unused = 1;\n  return x;\n}\n", encoding="utf-8")
    (tmp_path / "b.mjs").write_text("export const ok = (xs) => xs.map((x) => x * 2);\n", encoding="utf-8")
    assert [(h.file, h.rule, h.line) for h in run_oxlint(tmp_path)] == [("lib/a.ts", "use-isnan", 2)]


@pytest.mark.parametrize(("path", "tools", "yes"), [
    ("a.py", None, True), ("a.js", None, True), ("x/a.tsx", None, True), ("a.go", None, False),
    ("a.js", ["ruff", "bandit"], False), ("a.py", ["oxlint"], False), ("README.md", None, False)])
def test_covered_by_the_run_s_analyzers(path: str, tools: list[str] | None, yes: bool) -> None:
    assert covered(path, tools) is yes


@pytest.mark.parametrize(("rule", "severity"), [("PLE0101", "high"), ("F821", "high"), ("S301", "medium"),
                                                ("B006", "medium"), ("PLW0120", "low"), ("F811", "high"),
                                                ("S311", "low"), ("S110", "low"), ("SIM115", "medium")])
def test_ruff_severity(rule: str, severity: str) -> None:
    assert ruff_severity(rule) == severity


@pytest.mark.parametrize(("tool", "rule", "severity"), [
    ("bandit", "B311", "low"), ("bandit", "B301", "medium"), ("ruff", "B006", "medium"), ("ruff", "S311", "low"),
    ("oxlint", "use-isnan", "medium"), ("oxlint", "syntax", "high"),
    (None, "B311", "low"), (None, "B006", "medium"), (None, "S608", "medium"), (None, "for-direction", "medium")])
def test_a_rule_s_severity_from_its_tool_and_id_alone(tool: str | None, rule: str, severity: str) -> None:
    """What a refit replays for a stored analyzer finding: the severity each parser would give that rule."""
    assert rule_severity(tool, rule) == severity


@pytest.mark.parametrize(("path", "lang"), [("a.py", "python"), ("b/c.pyi", "python"), ("x.go", "go"),
                                            ("app.js", "javascript"), ("README.md", None), ("notes.txt", None)])
def test_language_of(path: str, lang: str | None) -> None:
    assert language_of(path) == lang


@pytest.mark.parametrize(
    ("stances", "adopted", "kept"),
    [([], False, True), (["agree"], False, True), (["disagree"], False, False), (["disagree", "agree"], False, True),
     (["disagree", "disagree", "refine"], False, False), (["disagree", "disagree", "refine"], True, True)],
)
def test_analyzer_members_kept_unless_refuted(stances: list[str], adopted: bool, kept: bool) -> None:
    iid = "R-analyzers#1"
    members = [Member(issue=issue(iid, 3, "B006"), persona="analyzers", title="B006", severity="medium",
                      kept=adopted),
               Member(issue=issue("R-p#1", 3, "x"), persona="p", title="x", severity="medium", kept=False)]
    responses = [Response(id=f"S-analyzers--r{n}", persona=f"r{n}", review_id="R-analyzers", model="m", summary="",
                          points=[ResponsePoint(issue_id=iid, stance=s, reason="")])  # type: ignore[arg-type]
                 for n, s in enumerate(stances)]
    keep_analyzer_members(members, responses)
    assert members[0].kept is kept
    assert members[1].kept is False  # persona issues are kept by their findings, not here


def test_find_verification_by_member_issue_ids() -> None:
    def v(sid: str, issues: list[str]) -> Verification:
        return Verification(subject=Subject(id=sid, title="t", file="a.py", line_start=1, line_end=1, issues=issues))

    vs = [v("C-001", ["R-a#1", "R-b#2"]), v("C-002", ["R-a#2"])]
    assert find_verification(vs, {"R-b#2", "R-a#1"}) is vs[0]
    assert find_verification(vs, ["R-a#2"]) is vs[1]
    assert find_verification(vs, {"R-a#1"}) is None
    assert find_verification([], {"R-a#1"}) is None


def test_applicability_notes_say_each_reason_once() -> None:
    subject = Subject(id="C-001", title="t", file="a.go", line_start=1, line_end=1)
    na = [f"analyzers: no analyzer installed for go ({COVERAGE})",
          "reproducer: not requested (run with --execute)"]
    notes = applicability_notes([Verification(subject=subject, not_applicable=na)] * 3)
    assert notes == [f"checks not applicable — analyzers: no analyzer installed for go ({COVERAGE}) (3 finding(s))"]


@pytest.mark.parametrize(
    ("lead", "at_lead", "detail_end"),
    [
        (("app.py", 10, 10), True, "(line 10)"),
        (("app.py", 11, 11), True, "(line 10)"),
        (("app.py", 14, 14), False, "(line 10, at R-analyzers#1)"),  # the hit is at another member's lines
        ((None, 10, 10), False, "(line 10, at R-analyzers#1)"),
    ],
)
def test_analyzer_checks_say_whether_the_hit_is_at_the_shown_issue(lead: tuple, at_lead: bool,
                                                                   detail_end: str) -> None:
    from engine.verify.matching import analyzer_checks

    [check] = analyzer_checks([(MUTABLE, "R-analyzers#1")], lead)
    assert (check.kind, check.outcome, check.data["at_lead"]) == ("analyzer:ruff", "supports", at_lead)
    assert check.detail.startswith("B006 Do not use mutable") and check.detail.endswith(detail_end)


def quote_cluster(*issues: Issue) -> object:
    from engine.stages.cluster import Cluster

    return Cluster(members=[Member(issue=i, persona=f"p{n}", title=i.title, severity="medium", kept=True)
                            for n, i in enumerate(issues)])


@pytest.mark.parametrize(
    ("file", "lo", "hi", "evidence", "outcome", "status", "location", "detail"),
    [
        ("app.py", 2, 2, "seen = []", "supports", "verified", "ok", "R-x#1: quote found at app.py:2-2"),
        ("app.py", 15, 15, "return pickle.load(fh)", "supports", "moved", "ok",
         "R-x#1: quote found at app.py:4-4, not at the cited app.py:15-15"),
        ("app.py", 2, 2, "os.system(cmd)", "refutes", "not_found", "ok",
         "R-x#1: quote not found anywhere in the target (cited app.py:2-2)"),
        ("app.py", 80, 90, "os.system(cmd)", "refutes", "not_found", "lines_out_of_range",
         "R-x#1: quote not found anywhere in the target (cited app.py:80-90, lines out of range)"),
        ("gone.py", 1, 1, "seen = []", "supports", "moved", "file_missing",
         "R-x#1: quote found at app.py:2-2, not at the cited gone.py:1-1, file missing"),
        ("app.py", 2, 2, "  ", "inconclusive", "no_quote", "ok", "R-x#1: no quote given at app.py:2-2"),
    ],
)
def test_quote_checks(file: str, lo: int, hi: int, evidence: str, outcome: str, status: str, location: str,
                      detail: str) -> None:
    from engine.target.snapshot import SourceFile, TargetSnapshot
    from engine.verify.gather import QUOTE_WEIGHT, quote_checks

    text = "def add(x):\n    seen = []\n    with open(p) as fh:\n        return pickle.load(fh)\n" + "pass\n" * 16
    snap = TargetSnapshot(kind="file", root="/r", name="app.py", files=[SourceFile(path="app.py", text=text)])
    i = Issue(id="R-x#1", title="t", file=file, line_start=lo, line_end=hi, evidence=evidence, severity="low", fix="")
    [check] = quote_checks(snap, quote_cluster(i, i.model_copy(update={"id": "R-y#1"})))  # same quote: one check
    assert (check.kind, check.outcome, check.detail) == ("quote", outcome, detail)
    assert (check.data["status"], check.data["location"]) == (status, location)
    assert check.data["weight"] == QUOTE_WEIGHT.get(status, 0.0)


@pytest.mark.parametrize(
    ("file", "kind", "tools", "execute", "expected"),
    [
        ("app.py", "folder", ["ruff", "bandit"], False, ["reproducer: not requested (run with --execute)"]),
        ("README.md", "folder", ["ruff"], False,
         ["analyzers: the cited file is not code (prose, configuration or data)",
          "reproducer: not requested (run with --execute)"]),
        ("main.go", "folder", ["ruff"], True,
         [f"analyzers: no analyzer installed for go ({COVERAGE})", "reproducer: no sandbox for go files"]),
        ("app.js", "folder", ["ruff"], False,
         ["analyzers: this workflow runs none for javascript (verify: analyzers: [ruff])",
          "reproducer: not requested (run with --execute)"]),
        ("gone.py", "folder", ["ruff"], False,
         ["analyzers: the cited file is not in the target", "reproducer: not requested (run with --execute)"]),
        ("app.py", "folder", [], True, ["analyzers: turned off in the workflow (verify: analyzers: [])"]),
        ("README.md", "document", ["ruff"], False,
         ["analyzers: the target is a document (analyzers check code)",
          "reproducer: not requested (run with --execute)"]),
    ],
)
def test_not_applicable(file: str, kind: str, tools: list[str], execute: bool, expected: list[str]) -> None:
    from engine.target.snapshot import SourceFile, TargetSnapshot
    from engine.verify.gather import subject_of, verify_cluster

    files = [SourceFile(path="app.py", text="x = 1\n"), SourceFile(path="README.md", text="# x\n"),
             SourceFile(path="main.go", text="package main\n"), SourceFile(path="app.js", text="let x = 1;\n")]
    snap = TargetSnapshot(kind=kind, root="/r", name="r", files=files)  # type: ignore[arg-type]
    run = AnalyzerRun(tools=dict.fromkeys(tools, "1"), files=["app.py"] if tools and kind != "document" else [])
    c = quote_cluster(Issue(id="R-x#1", title="t", file=file, line_start=1, line_end=1, evidence="x", severity="low",
                            fix=""))
    v = verify_cluster(snap, subject_of("C-001", c), c, run, tools, execute)  # type: ignore[arg-type]
    assert v.not_applicable == expected
    assert v.subject.issues == ["R-x#1"] and v.checks[0].kind == "quote"
