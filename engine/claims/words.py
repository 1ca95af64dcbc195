"""Content words of a claim, crudely stemmed, for telling whether two sentences are about the same thing."""

from __future__ import annotations

import re

STOP = {
    "the", "and", "for", "with", "that", "this", "are", "is", "be", "of", "to", "in", "on", "at", "by", "or", "a", "an",
    "it", "its", "as", "we", "our", "will", "must", "shall", "should", "can", "each", "every", "all", "when", "then",
    "than", "more", "less", "most", "least", "within", "after", "before", "from", "into", "per", "one", "two", "three",
    "max", "maximum", "minimum", "limit", "under", "over", "about", "once", "times", "time", "second", "seconds",
    "minute", "minutes", "hours", "days", "which", "their", "there", "they", "them", "have", "has", "does", "not",
    "no", "up", "any", "new", "also", "only", "other", "same", "until", "while", "what", "where", "who",
    "everyone", "everything", "customer", "customers", "user", "users", "system", "service", "team", "teams",
}


def stem(word: str) -> str:
    """A crude stem: plural and tense endings off, a final "e" off, then the first five letters (retries, retried ->
    retry; files, file; stores, stored; boxes -> box; rows -> row)."""
    w = re.sub(r"(?:ies|ied)$", "y", word)
    if len(w) > 4 and w.endswith(("ing", "ed")):
        w = w[:-3] if w.endswith("ing") else w[:-2]
    elif len(w) > 4 and w.endswith("es") and w[:-2].endswith(("ss", "x", "zz", "ch", "sh")):
        w = w[:-2]
    elif len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    if len(w) > 3 and w.endswith("e"):
        w = w[:-1]
    return w[:5]


def stems(text: str) -> set[str]:
    """Content-word stems of a text, without stop words or numbers."""
    return {stem(w) for w in re.findall(r"[a-z][a-z-]+", text.lower()) if w not in STOP and len(w) > 2}
