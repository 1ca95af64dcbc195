"""Structure of a file: document sections ("section 3.2" -> line), code symbols, PDF text."""

from __future__ import annotations

import ast
import io
import re
import threading

from engine.target.snapshot import Section

MAX_SYMBOLS = 20
_AST_LOCK = threading.Lock()
_ATX = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_RST_ADORN = re.compile(r"^([=\-~^\"'`#*+:.])\1{2,}[ \t]*$")
_NUMBERED = re.compile(r"^(?:(?:section|§)\s*)?(\d{1,3}(?:\.\d{1,3})*)[.):]?[ \t]+(\S.*)$", re.I)
_LIST_ITEM = re.compile(r"^\s*\d{1,3}[.)]\s")
_TEXT_HEADING = re.compile(r"^ {0,3}(\d{1,3}(?:\.\d{1,3})*)\.?[ \t]+([A-Z][^.!?]{0,80})$")
_CAPS_HEADING = re.compile(r"^ {0,3}[A-Z][A-Z0-9 &/,'()+-]{0,78}[A-Z0-9)][ \t]*$")
_CODE_SYMBOL = re.compile(
    r"^(?:export\s+)?(?:default\s+)?(?:pub(?:\([\w:]+\))?\s+)?(?:async\s+)?(?:abstract\s+)?"
    r"(?:def|class|function\*?|func|fn|interface|struct|enum|trait|module|object)\s+"
    r"(?:\([^)]*\)\s*)?([A-Za-z_$][\w$]*)",
    re.M,
)


def _number_headings(heads: list[tuple[int, str, int]]) -> list[Section]:
    """Number (level, title, line) headings 1, 1.1, 2...; explicit numbers in titles win."""
    if not heads:
        return []
    levels = [h[0] for h in heads]
    top = min(levels)
    # A single top-level heading that opens the document is its title: number "".
    has_title = len(heads) > 1 and levels.count(top) == 1 and levels[0] == top and not _NUMBERED.match(heads[0][1])
    base = min(levels[1:]) if has_title else top
    out: list[Section] = []
    counters: list[int] = []
    for i, (level, title, line) in enumerate(heads):
        if has_title and i == 0:
            out.append(Section(number="", title=title, level=level, line=line))
            continue
        depth = max(level - base + 1, 1)
        m = _NUMBERED.match(title)
        if m:
            number, title = m.group(1), m.group(2).strip()
            counters = [int(x) for x in number.split(".")]
        else:
            counters = (counters + [0] * depth)[:depth]
            counters[-1] += 1
            number = ".".join(str(c) for c in counters)
        out.append(Section(number=number, title=title, level=level, line=line))
    return out


def _markdown_headings(lines: list[str]) -> list[tuple[int, str, int]]:
    heads: list[tuple[int, str, int]] = []
    fence: str | None = None
    start = 0
    if lines and lines[0].strip() == "---":  # YAML front matter
        end = next((i for i in range(1, len(lines)) if lines[i].strip() in ("---", "...")), 0)
        start = end + 1 if end else 0
    for i in range(start, len(lines)):
        line = lines[i]
        m = _FENCE.match(line)
        if m:
            mark = m.group(1)[0]
            fence = None if fence == mark else (fence or mark)
            continue
        if fence:
            continue
        m = _ATX.match(line)
        if m:
            heads.append((len(m.group(1)), m.group(2), i + 1))
        elif i > start and _SETEXT.match(line) and lines[i - 1].strip():
            prev = lines[i - 1].strip()
            if not _ATX.match(lines[i - 1]) and not prev.startswith(("-", "*", ">", "|")):
                heads.append((1 if line.strip()[0] == "=" else 2, prev, i))
    return heads


def _rst_headings(lines: list[str]) -> list[tuple[int, str, int]]:
    heads: list[tuple[int, str, int]] = []
    styles: list[tuple[str, bool]] = []
    for i in range(1, len(lines)):
        m = _RST_ADORN.match(lines[i])
        title = lines[i - 1].strip()
        if not m or not title or _RST_ADORN.match(lines[i - 1]) or len(m.group(0).strip()) < len(title):
            continue
        over = i >= 2 and lines[i - 2].strip() == lines[i].strip()
        style = (m.group(1), over)
        if style not in styles:
            styles.append(style)
        heads.append((styles.index(style) + 1, title, i))
    return heads


def in_list(lines: list[str], i: int) -> bool:
    """Whether line i sits next to an item of a numbered list, or goes on in an indented line ('1. A buyer can
    save a search from the results' / '   page with one tap.'): an item of a list, not a heading."""
    nxt = lines[i + 1] if i + 1 < len(lines) else ""
    goes_on = nxt[:1] in (" ", "\t") and bool(nxt.strip()) and (nxt.strip()[0].islower() or len(lines[i].split()) >= 8)
    return any(0 <= j < len(lines) and _LIST_ITEM.match(lines[j]) for j in (i - 1, i + 1)) or goes_on


def caps_heading(lines: list[str], i: int) -> bool:
    """An unnumbered plain-text heading: a line in capitals ('HOW IT WORKS', 'OPEN QUESTIONS') with a blank line
    (or the file's edge) above and below, so a shouted word inside a paragraph is not one."""
    line = lines[i]
    return (bool(_CAPS_HEADING.match(line)) and sum(c.isalpha() for c in line) >= 3
            and (i == 0 or not lines[i - 1].strip()) and (i + 1 == len(lines) or not lines[i + 1].strip()))


def _text_headings(lines: list[str]) -> list[tuple[int, str, int]]:
    """Heading lines of plain text: numbered ones ('3. REQUIREMENTS', '2.1 Limits'), except the items of a
    numbered list ('1. The importer ...' next to '2. It validates ...'), and unnumbered lines in capitals set
    apart by blank lines. A capitals line that opens the file is its title (numbered "")."""
    heads = []
    first = next((i for i, line in enumerate(lines) if line.strip()), -1)
    for i, line in enumerate(lines):
        m = _TEXT_HEADING.match(line.rstrip())
        if m and not in_list(lines, i):
            heads.append((m.group(1).count(".") + 1, line.strip(), i + 1))
        elif not m and caps_heading(lines, i):
            heads.append((0 if i == first else 1, line.strip(), i + 1))
    return heads


def sections(text: str, language: str | None) -> list[Section]:
    """Headings of a document with hierarchical numbers ("3.2") and real line numbers."""
    lines = text.split("\n")
    if language == "markdown":
        heads = _markdown_headings(lines)
    elif language == "rst":
        heads = _rst_headings(lines)
    elif language in ("text", "pdf"):
        heads = _text_headings(lines)
    else:
        return []
    return _number_headings(heads)


def parse_python(text: str) -> tuple[ast.Module | None, str | None]:
    """(tree, None), or (None, why) when the parser cannot build one; never raises, one parse at a time.

    A 60,000-line expression overflows the parser (RecursionError, MemoryError), and `ast.parse` in
    several threads at once can fail with SystemError (CPython gh-106905), so parses are serialised."""
    with _AST_LOCK:
        try:
            return ast.parse(text), None
        except (SyntaxError, ValueError):
            return None, None  # not valid Python: the text outline is the honest one
        except (RecursionError, MemoryError, SystemError) as exc:
            return None, f"outline by text match: nested too deeply for the Python parser ({type(exc).__name__})"


def symbols(text: str, language: str | None, secs: list[Section] | None = None,
            notes: list[str] | None = None) -> list[str]:
    """Top-level symbols of a code file (Python via ast, others and unparsable Python via a cheap regex);
    why the parser was not used, when it failed, is appended to `notes`."""
    if secs:
        return [f"{s.number} {s.title}".strip() for s in secs if s.level <= 2][:MAX_SYMBOLS]
    if language == "python":
        tree, why = parse_python(text)
        if why and notes is not None:
            notes.append(why)
        if tree is not None:
            kinds = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
            return [n.name for n in tree.body if isinstance(n, kinds)][:MAX_SYMBOLS]
    if language in (None, "text", "json", "yaml", "toml", "ini", "xml", "markdown", "rst"):
        return []
    found = dict.fromkeys(m.group(1) for m in _CODE_SYMBOL.finditer(text))
    return list(found)[:MAX_SYMBOLS]


def pdf_text(data: bytes) -> str:
    """The text of a PDF, page by page, each page opened by a `[page N]` line."""
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted:
        reader.decrypt("")
    parts = []
    for n, page in enumerate(reader.pages, 1):
        body = (page.extract_text() or "").replace("\r\n", "\n").replace("\r", "\n")
        parts.append(f"[page {n}]\n{body.strip()}\n")
    return "\n".join(parts)
