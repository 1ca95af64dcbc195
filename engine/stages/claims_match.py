"""Do two review issues make the same claim? A cheap, deterministic similarity of what they say.

Compile merges two issues only when they point at the same place *and* make the same claim. "The same
claim" is decided here from the title and the fix (what the reviewer says), never from the quoted line
alone: two reviewers quoting `cursor.execute(f"...")` may claim an injection and a leaked connection.
Each text is reduced to word stems and to defect concepts (injection, race, bounds, ...); issues that
name disjoint concepts are different claims, issues that share a concept or most of their words are the
same claim, and the rest is `unsure` (compile may ask the model about those pairs; unasked, they stay apart).
"""

from __future__ import annotations

import re
from typing import Literal

Verdict = Literal["same", "different", "unsure"]
SAME_AT = 0.45
DIFFERENT_AT = 0.2
STEM = 6

STOPWORDS = frozenset([
    "a", "an", "the", "is", "are", "was", "were", "be", "been", "being", "of", "in", "on", "at", "to", "for",
    "from", "by", "with", "without", "into", "onto", "as", "and", "or", "but", "if", "then", "than", "this", "that",
    "these", "those", "it", "its", "it's", "there", "here", "which", "who", "whom", "what", "when", "where", "why",
    "how", "can", "could", "may", "might", "should", "would", "will", "shall", "must", "do", "does", "did", "not",
    "no", "nor", "so", "such", "any", "all", "each", "every", "some", "more", "most", "less", "very", "too", "also",
    "only", "just", "use", "used", "uses", "using", "make", "makes", "made", "instead", "rather", "like", "line",
    "lines", "code", "function", "method", "value", "values", "call", "calls", "called", "file", "issue", "problem",
    "potential", "possible", "possibly", "improper", "incorrect", "wrong", "bad", "missing", "lack", "lacks",
    "lacking", "proper", "properly", "ensure", "consider", "add", "adding", "avoid", "need", "needs", "check",
])

# defect concepts: a claim names one when one of its stems starts with one of these prefixes
CONCEPTS: dict[str, tuple[str, ...]] = {
    "injection": ("sql", "inject", "concat", "interpol", "sanitiz", "parametri", "placehol", "escap", "fstring",
                  "shell", "command"),
    "concurrency": ("race", "lock", "thread", "concurr", "atomic", "synchro", "mutex", "parallel"),
    "resource": ("close", "leak", "handle", "context", "cleanup", "release", "descrip"),
    "deserialize": ("pickle", "unpickl", "deseria", "marshal", "serializ"),
    "secret": ("secret", "apikey", "password", "credent", "token", "expos", "print", "logged", "logging",
               "plaintex"),
    "bounds": ("offbyon", "bound", "index", "range", "last", "first", "length", "len", "fencepo", "skip",
               "ceil", "floor", "round", "overflo"),
    "zero": ("zero", "divis", "divid", "zerodiv"),
    "null": ("none", "null", "undefin", "nil", "keyerro", "attribu", "initial", "uninit"),
    "validation": ("validat", "negativ", "invalid", "sanity", "clamp", "quantit"),
    "errors": ("except", "error", "raise", "swallow", "ignore", "handl", "catch", "fail"),
    "retry": ("retry", "retries", "timeout", "backoff", "idempot"),
    "mutable": ("mutable", "default", "shared"),
    "time": ("timezon", "utc", "naive", "datetim", "clock", "expir", "expiry"),
    "precision": ("float", "decimal", "precisi", "rounding", "money", "currenc", "cent"),
    "auth": ("auth", "permiss", "access", "authori", "admin", "role", "privile"),
    "path": ("path", "travers", "director", "filenam", "symlink"),
    "html": ("html", "xss", "script", "markup"),
    "performance": ("perform", "slow", "complex", "quadrat", "ineffic", "cache", "memory", "scal"),
    "style": ("naming", "readab", "docstri", "comment", "style", "format", "document"),
    "persistence": ("save", "write", "persist", "durab", "crash", "partial", "corrupt"),
}


def stems(text: str) -> set[str]:
    """Lower-case word stems of a claim (identifiers split on `_` and camelCase), stopwords dropped."""
    text = re.sub(r"([a-z])([A-Z])", r"\1 \2", text)
    text = text.replace("off-by-one", "offbyone").replace("f-string", "fstring").replace("api key", "apikey")
    words = re.findall(r"[a-z0-9]+", text.lower().replace("_", " "))
    return {stem(w) for w in words if len(w) >= 3 and w not in STOPWORDS}


def stem(word: str) -> str:
    """A crude stem: a plural or verb ending dropped, then the first STEM letters."""
    for suffix in ("ing", "ed", "es", "s", "ly"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    return word[:STEM]


def concepts(words: set[str]) -> set[str]:
    """The defect concepts a set of stems names."""
    return {name for name, prefixes in CONCEPTS.items()
            if any(w.startswith(prefixes) or (len(w) >= 5 and any(p.startswith(w) for p in prefixes)) for w in words)}


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a | b else 0.0


def claim_similarity(a: str, b: str) -> float:
    """0..1: how much two claims (title + fix) say the same thing."""
    wa, wb = stems(a), stems(b)
    words = jaccard(wa, wb)
    ca, cb = concepts(wa), concepts(wb)
    if not ca or not cb:
        return round(words, 3)
    shared = ca & cb
    if not shared:
        return round(min(words, DIFFERENT_AT), 3)  # they name different kinds of defect
    return round(max(words, min(1.0, 0.3 + 0.7 * len(shared) / len(ca | cb))), 3)


def verdict(similarity: float) -> Verdict:
    """same / different / unsure, from the similarity thresholds."""
    if similarity >= SAME_AT:
        return "same"
    if similarity <= DIFFERENT_AT:
        return "different"
    return "unsure"
