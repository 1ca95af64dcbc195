"""Score review findings against the labelled defects of the quality corpus (pure functions).

Matching rules (see labels.yaml):
- code: a finding matches a defect when it names the same file and its line range overlaps the
  defect's range (or one of its `also` ranges) widened by TOLERANCE lines on each side;
- document: same file, and the finding lies in one of the defect's sections (Markdown headings, or
  reStructuredText titles in .rst files; its lines overlap the section, its quote occurs in the
  section, or its title or fix says "<title> section"), and its claim (title and fix: not the quote,
  which is copied from the flawed text) contains one of the defect's keywords that the document itself
  does not contain (echoing the flawed text is not finding the flaw); when the flaw lists a `subject`
  (what it is about, words the document may contain), the claim must also name one of those, so a
  generic "inconsistent wording" does not count as finding a contradiction between two numbers;
- a keyword counts only at the start of a word ("limit" matches "limits", "down" does not match
  "markdown"), in claims and in the document alike;
- strict (reported beside the main numbers): code findings must also carry a keyword in their claim.

Metrics: precision = findings that match some defect / all findings (a duplicate of a real defect
counts as correct); recall = defects covered by a one-to-one matching of findings to defects / all
defects (one finding cannot cover two defects); F1 from both; AUROC of the truth score for
matched vs unmatched findings (ties count one half; undefined without both classes).
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from engine import paths
from engine.paths import path_key
from engine.verify.fitting import auroc  # one AUROC for the benchmark and `rebuttal calibrate`

TOLERANCE = 3
HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
FENCE = re.compile(r"^\s*(```|~~~)")
LIST_ITEM = re.compile(r"^\s*\d{1,3}[.)]\s")
TEXT_HEADING = re.compile(r"^ {0,3}(\d{1,3}(?:\.\d{1,3})*)\.?[ \t]+([A-Z][^.!?]{0,80})$")
CAPS_HEADING = re.compile(r"^ {0,3}([A-Z][A-Z0-9 &/,'()+-]{0,78}[A-Z0-9)])[ \t]*$")
RST_ADORNMENT = re.compile(r"^([=\-~^\"'`#*+:.])\1{2,}\s*$")


@dataclass(frozen=True)
class Defect:
    """One labelled defect (code: a line range; document: sections and keywords)."""

    case: str
    id: str
    file: str
    description: str = ""
    line_start: int = 0
    line_end: int = 0
    also: tuple[tuple[int, int], ...] = ()
    sections: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    subject: tuple[str, ...] = ()

    @property
    def ranges(self) -> list[tuple[int, int]]:
        return [(self.line_start, self.line_end), *self.also]


@dataclass(frozen=True)
class Found:
    """One finding of a report, reduced to what the scorer needs."""

    file: str
    line_start: int
    line_end: int
    title: str = ""
    evidence: str = ""
    fix: str = ""
    truth: float | None = None

    @property
    def text(self) -> str:
        return f"{self.title}\n{self.evidence}\n{self.fix}"

    @property
    def claim(self) -> str:
        """What the reviewer says (title and fix), without the quote copied from the target."""
        return f"{self.title}\n{self.fix}"


@dataclass(frozen=True)
class Section:
    title: str
    start: int
    end: int
    text: str


@dataclass
class CaseScore:
    """The outcome of one case: which findings matched which defects."""

    case: str
    defects: int
    findings: int
    matched_findings: int
    found_defects: list[str]
    missed_defects: list[str]
    finding_matches: list[list[str]]
    truths: list[tuple[float, bool]] = field(default_factory=list)

    @property
    def recall(self) -> float | None:
        return ratio(len(self.found_defects), self.defects)

    @property
    def precision(self) -> float | None:
        return ratio(self.matched_findings, self.findings)


def ratio(a: int, b: int) -> float | None:
    """a / b, or None when b is 0 (undefined, not zero)."""
    return a / b if b else None


def f1(precision: float | None, recall: float | None) -> float | None:
    """Harmonic mean; None when either side is undefined, 0 when both are 0."""
    if precision is None or recall is None:
        return None
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def same_file(a: str, b: str) -> bool:
    """Equal paths, or one is a path suffix of the other (`src/x.py` vs `x.py`); the engine's comparison."""
    return bool(path_key(a) and path_key(b)) and paths.same_file(a, b)


def overlaps(a_start: int, a_end: int, b_start: int, b_end: int, tolerance: int = 0) -> bool:
    """Whether [a_start, a_end] meets [b_start - tolerance, b_end + tolerance]."""
    a_lo, a_hi = sorted((a_start, a_end))
    b_lo, b_hi = sorted((b_start, b_end))
    return a_lo <= b_hi + tolerance and b_lo - tolerance <= a_hi


def sections(text: str) -> list[Section]:
    """Markdown sections: each heading runs to the line before the next heading (1-based lines).

    Lines inside fenced code blocks (a Mermaid diagram, a shell snippet) are never headings.
    """
    lines = text.splitlines()
    heads, fenced = [], False
    for i, line in enumerate(lines):
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced and (m := HEADING.match(line)):
            heads.append((i + 1, m.group(2).strip()))
    return _spans(lines, heads)


def rst_sections(text: str) -> list[Section]:
    """reStructuredText sections: a title underlined (optionally also overlined) with one punctuation
    character repeated at least as long as the title; each runs to the line before the next title."""
    lines = text.splitlines()
    heads = []
    for i in range(1, len(lines)):
        title, under = lines[i - 1].rstrip(), lines[i].rstrip()
        if (RST_ADORNMENT.match(under) and title.strip() and not RST_ADORNMENT.match(title)
                and len(under) >= len(title)):
            over = i >= 2 and RST_ADORNMENT.match(lines[i - 2]) is not None
            heads.append((i - 1 if over else i, title.strip()))
    return _spans(lines, heads)


def text_sections(text: str) -> list[Section]:
    """Plain-text sections: a numbered heading line ("3. REQUIREMENTS", "2.1 Limits") that is not an item of a
    numbered list (no numbered item on the line before or after, no indented line going on after it), titled
    without its number; or a line in
    capitals ("HOW IT WORKS") with blank lines (or the file's edge) around it."""
    lines = text.splitlines()

    def alone(i: int) -> bool:  # no numbered item beside it, and not the first line of a wrapped item
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        wrapped = nxt[:1] in (" ", "\t") and bool(nxt.strip()) and (nxt.strip()[0].islower()
                                                                    or len(lines[i].split()) >= 8)
        return not wrapped and not any(0 <= j < len(lines) and LIST_ITEM.match(lines[j]) for j in (i - 1, i + 1))

    def blank(j: int) -> bool:
        return not (0 <= j < len(lines)) or not lines[j].strip()

    heads = []
    for i, line in enumerate(lines):
        if (m := TEXT_HEADING.match(line.rstrip())) and alone(i):
            heads.append((i + 1, m.group(2).strip()))
        elif (not m and (c := CAPS_HEADING.match(line)) and sum(ch.isalpha() for ch in line) >= 3
              and blank(i - 1) and blank(i + 1)):
            heads.append((i + 1, c.group(1).strip()))
    return _spans(lines, heads)


def file_sections(name: str, text: str) -> list[Section]:
    """The sections of a document, by its file name: reStructuredText for .rst, plain-text headings for .txt, else
    Markdown."""
    low = name.lower()
    if low.endswith(".rst"):
        return rst_sections(text)
    return text_sections(text) if low.endswith(".txt") else sections(text)


def _spans(lines: list[str], heads: list[tuple[int, str]]) -> list[Section]:
    out = []
    for n, (start, title) in enumerate(heads):
        end = heads[n + 1][0] - 1 if n + 1 < len(heads) else len(lines)
        out.append(Section(title, start, end, "\n".join(lines[start - 1:end])))
    return out


def squash(text: str) -> str:
    return " ".join(text.lower().split())


def in_section(found: Found, section: Section) -> bool:
    """The finding points into the section: by lines, by its quote, or by naming it ("the API section")."""
    if overlaps(found.line_start, found.line_end, section.start, section.end):
        return True
    quote = squash(found.evidence)
    if len(quote) >= 12 and quote in squash(section.text):
        return True
    title = re.escape(section.title.lower())
    return bool(re.search(rf"\b{title}\b[\"'”]?\s+section|section\s+[\"'“]?{title}\b", found.claim.lower()))


def contains_keyword(text: str, keyword: str) -> bool:
    """Whether `keyword` occurs in `text` at the start of a word (case- and whitespace-insensitive)."""
    k = squash(keyword)
    return bool(k) and re.search(r"(?<![a-z0-9])" + re.escape(k), squash(text)) is not None


def has_keyword(text: str, keywords: Iterable[str]) -> bool:
    """Whether any keyword occurs in `text` at the start of a word."""
    return any(contains_keyword(text, k) for k in keywords)


def new_words(defect: Defect, doc_sections: Sequence[Section]) -> list[str]:
    """The defect's keywords that the document itself does not contain: a claim that only echoes the
    flawed text ("joins them in memory") shows no understanding of the flaw."""
    text = "\n".join(s.text for s in doc_sections)
    return [k for k in defect.keywords if not contains_keyword(text, k)]


def matches(found: Found, defect: Defect, doc_sections: Sequence[Section] = (), strict: bool = False) -> bool:
    """Whether a finding matches a labelled defect (code: lines ±TOLERANCE; document: section + keyword).

    strict: code findings must also contain one of the defect's keywords (the right place, the right claim).
    """
    if not same_file(found.file, defect.file):
        return False
    if defect.sections:
        wanted = {s.lower() for s in defect.sections}
        secs = [s for s in doc_sections if s.title.lower() in wanted]
        return (any(in_section(found, s) for s in secs) and has_keyword(found.claim, new_words(defect, doc_sections))
                and (not defect.subject or has_keyword(found.claim, defect.subject)))
    near = any(overlaps(found.line_start, found.line_end, a, b, TOLERANCE) for a, b in defect.ranges)
    return near and (not strict or has_keyword(found.claim, defect.keywords))


def covered(edges: list[list[int]], n_right: int) -> list[int]:
    """Right-hand nodes covered by a maximum bipartite matching (left i -> right j in edges[i]), sorted."""
    owner = [-1] * n_right

    def augment(i: int, seen: list[bool]) -> bool:  # Kuhn's augmenting path
        for j in edges[i]:
            if not seen[j]:
                seen[j] = True
                if owner[j] == -1 or augment(owner[j], seen):
                    owner[j] = i
                    return True
        return False

    for i in range(len(edges)):
        augment(i, [False] * n_right)
    return [j for j in range(n_right) if owner[j] != -1]


def score_case(case: str, findings: Sequence[Found], defects: Sequence[Defect],
               doc_sections: dict[str, list[Section]] | None = None, strict: bool = False) -> CaseScore:
    """Match one case's findings to its defects."""
    doc_sections = doc_sections or {}
    edges: list[list[int]] = []
    for f in findings:
        secs = next((v for k, v in doc_sections.items() if same_file(k, f.file)), [])
        edges.append([j for j, d in enumerate(defects) if matches(f, d, secs, strict)])
    hit = set(covered(edges, len(defects)))
    return CaseScore(
        case=case, defects=len(defects), findings=len(findings), matched_findings=sum(bool(e) for e in edges),
        found_defects=[defects[j].id for j in sorted(hit)],
        missed_defects=[d.id for j, d in enumerate(defects) if j not in hit],
        finding_matches=[[defects[j].id for j in e] for e in edges],
        truths=[(f.truth, bool(e)) for f, e in zip(findings, edges, strict=True) if f.truth is not None],
    )


def aggregate(scores: Sequence[CaseScore]) -> dict[str, Any]:
    """Micro-averaged metrics over cases, with the truth AUROC over all findings pooled."""
    defects = sum(s.defects for s in scores)
    found = sum(len(s.found_defects) for s in scores)
    findings = sum(s.findings for s in scores)
    matched = sum(s.matched_findings for s in scores)
    truths = [t for s in scores for t in s.truths]
    precision, recall = ratio(matched, findings), ratio(found, defects)
    return {
        "cases": len(scores), "defects": defects, "found": found, "findings": findings, "matched": matched,
        "clean_findings": sum(s.findings for s in scores if s.defects == 0),
        "recall": recall, "precision": precision, "f1": f1(precision, recall),
        "truth_auroc": auroc(truths),
    }


class DefectLabel(BaseModel):
    """One labelled defect in labels.yaml (code: lines; document: section and keywords)."""

    model_config = ConfigDict(extra="forbid")
    id: str
    file: str
    description: str
    line_start: int | None = None
    line_end: int | None = None
    also: list[tuple[int, int]] = []
    section: str | list[str] | None = None
    keywords: list[str] = []
    subject: list[str] = []


class CaseLabel(BaseModel):
    """One case of labels.yaml: its kind, language, held-out flag and defects (none: a clean file)."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["code", "document"]
    language: str | None = None
    held_out: bool = False
    defects: list[DefectLabel]


class LabelsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    cases: dict[str, CaseLabel]


def validate_labels(labels: Any) -> LabelsFile:
    """labels.yaml checked strictly (unknown keys, missing fields, code vs document fields); ValueError names the
    case and field."""
    from pydantic import ValidationError

    try:
        parsed = LabelsFile.model_validate(labels)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ValueError(f"labels.yaml: {'.'.join(str(x) for x in err['loc'])}: {err['msg']}") from None
    for name, case in parsed.cases.items():
        for d in case.defects:
            where = f"labels.yaml: cases.{name}.{d.id}"
            if case.kind == "code" and (d.line_start is None or d.section is not None):
                raise ValueError(f"{where}: a code defect has line_start (and no section)")
            if case.kind == "code" and d.subject:
                raise ValueError(f"{where}: `subject` is for document flaws")
            if case.kind == "document" and (d.section is None or not d.keywords or d.line_start is not None):
                raise ValueError(f"{where}: a document flaw has a section and keywords (and no lines)")
        if case.kind == "code" and not case.language:
            raise ValueError(f"labels.yaml: cases.{name}: a code case names its language")
    return parsed


def held_out_by_rule(labels: dict[str, Any]) -> set[str]:
    """The documented held-out rule: within each stratum (code or document x flawed or clean), order the
    cases by sha256 of their name and hold out the first ceil(n / 3)."""
    strata: dict[tuple[str, bool], list[str]] = {}
    for name, case in validate_labels(labels).cases.items():
        strata.setdefault((case.kind, bool(case.defects)), []).append(name)
    out: set[str] = set()
    for names in strata.values():
        ranked = sorted(names, key=lambda n: hashlib.sha256(n.encode("utf-8")).hexdigest())
        out.update(ranked[:math.ceil(len(names) / 3)])
    return out


def held_out_cases(labels: dict[str, Any]) -> set[str]:
    """The cases labels.yaml marks `held_out: true`."""
    return {name for name, case in validate_labels(labels).cases.items() if case.held_out}


def defects_from_labels(labels: dict[str, Any]) -> dict[str, list[Defect]]:
    """Parse labels.yaml's `cases` mapping (validated strictly) into Defects per case."""
    out: dict[str, list[Defect]] = {}
    for case, spec in validate_labels(labels).cases.items():
        items = []
        for d in spec.defects:
            sec = d.section or []
            start = d.line_start or 0
            items.append(Defect(
                case=case, id=d.id, file=d.file, description=d.description, line_start=start,
                line_end=d.line_end if d.line_end is not None else start, also=tuple(d.also),
                sections=tuple([sec] if isinstance(sec, str) else sec), keywords=tuple(d.keywords),
                subject=tuple(d.subject),
            ))
        out[case] = items
    return out


def found_from_report(report: dict[str, Any]) -> list[Found]:
    """The findings of a report.json as Found records."""
    return [Found(file=f["file"], line_start=int(f["line_start"]), line_end=int(f["line_end"]),
                  title=f.get("title", ""), evidence=f.get("evidence", ""), fix=f.get("fix", ""),
                  truth=(f.get("scores") or {}).get("truth"))
            for f in report.get("findings", [])]
