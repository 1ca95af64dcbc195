"""Score review findings against the labelled defects of the quality corpus (pure functions).

Matching rules (see labels.yaml):
- code: a finding matches a defect when it names the same file and its line range overlaps the
  defect's range (or one of its `also` ranges) widened by TOLERANCE lines on each side;
- document: same file, and the finding lies in one of the defect's sections (its lines overlap the
  section, its quote occurs in the section, or its title or fix says "<title> section"), and its claim
  (title and fix: not the quote, which is copied from the flawed text) contains one of the defect's
  keywords that the document itself does not contain (echoing the flawed text is not finding the flaw);
- strict (reported beside the main numbers): code findings must also carry a keyword in their claim.

Metrics: precision = findings that match some defect / all findings (a duplicate of a real defect
counts as correct); recall = defects covered by a one-to-one matching of findings to defects / all
defects (one finding cannot cover two defects); F1 from both; AUROC of the truth score for
matched vs unmatched findings (ties count one half; undefined without both classes).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

TOLERANCE = 3
HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")


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


def norm_path(path: str) -> str:
    """Forward slashes, no leading ./ or /, lowercase."""
    p = path.strip().replace("\\", "/")
    while p.startswith("./"):
        p = p[2:]
    return p.lstrip("/").lower()


def same_file(a: str, b: str) -> bool:
    """Equal paths, or one is a path suffix of the other (`src/x.py` vs `x.py`)."""
    x, y = norm_path(a), norm_path(b)
    return bool(x and y) and (x == y or x.endswith("/" + y) or y.endswith("/" + x))


def overlaps(a_start: int, a_end: int, b_start: int, b_end: int, tolerance: int = 0) -> bool:
    """Whether [a_start, a_end] meets [b_start - tolerance, b_end + tolerance]."""
    a_lo, a_hi = sorted((a_start, a_end))
    b_lo, b_hi = sorted((b_start, b_end))
    return a_lo <= b_hi + tolerance and b_lo - tolerance <= a_hi


def sections(text: str) -> list[Section]:
    """Markdown sections: each heading runs to the line before the next heading (1-based lines)."""
    lines = text.splitlines()
    heads = [(i + 1, m.group(2).strip()) for i, line in enumerate(lines) if (m := HEADING.match(line))]
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


def has_keyword(text: str, keywords: Iterable[str]) -> bool:
    """Case-insensitive substring match of any keyword."""
    low = squash(text)
    return any(squash(k) in low for k in keywords if k.strip())


def new_words(defect: Defect, doc_sections: Sequence[Section]) -> list[str]:
    """The defect's keywords that the document itself does not contain: a claim that only echoes the
    flawed text ("joins them in memory") shows no understanding of the flaw."""
    text = squash("\n".join(s.text for s in doc_sections))
    return [k for k in defect.keywords if squash(k) not in text]


def matches(found: Found, defect: Defect, doc_sections: Sequence[Section] = (), strict: bool = False) -> bool:
    """Whether a finding matches a labelled defect (code: lines ±TOLERANCE; document: section + keyword).

    strict: code findings must also contain one of the defect's keywords (the right place, the right claim).
    """
    if not same_file(found.file, defect.file):
        return False
    if defect.sections:
        wanted = {s.lower() for s in defect.sections}
        secs = [s for s in doc_sections if s.title.lower() in wanted]
        return any(in_section(found, s) for s in secs) and has_keyword(found.claim, new_words(defect, doc_sections))
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


def auroc(scored: Iterable[tuple[float, bool]]) -> float | None:
    """P(score of a positive > score of a negative), ties one half; None without both classes."""
    items = list(scored)
    pos = [s for s, y in items if y]
    neg = [s for s, y in items if not y]
    if not pos or not neg:
        return None
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


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


def defects_from_labels(labels: dict[str, Any]) -> dict[str, list[Defect]]:
    """Parse labels.yaml's `cases` mapping into Defects per case."""
    out: dict[str, list[Defect]] = {}
    for case, spec in labels["cases"].items():
        items = []
        for d in spec.get("defects") or []:
            sec = d.get("section") or []
            items.append(Defect(
                case=case, id=str(d["id"]), file=str(d["file"]), description=str(d.get("description", "")),
                line_start=int(d.get("line_start", 0)), line_end=int(d.get("line_end", d.get("line_start", 0))),
                also=tuple((int(a), int(b)) for a, b in d.get("also", [])),
                sections=tuple([sec] if isinstance(sec, str) else sec),
                keywords=tuple(str(k) for k in d.get("keywords", [])),
            ))
        out[case] = items
    return out


def found_from_report(report: dict[str, Any]) -> list[Found]:
    """The findings of a report.json as Found records."""
    return [Found(file=f["file"], line_start=int(f["line_start"]), line_end=int(f["line_end"]),
                  title=f.get("title", ""), evidence=f.get("evidence", ""), fix=f.get("fix", ""),
                  truth=(f.get("scores") or {}).get("truth"))
            for f in report.get("findings", [])]
