"""Secret redaction: replace secrets with `[REDACTED:<type>]` before any text reaches a model.

Private-key blocks (PEM, PGP, OpenSSH, PuTTY) are replaced whole, keeping the line count so
line numbers stay real. AWS access key ids, well-known token formats (JWTs whole) and values under
secret-looking keys in any file type are caught by our own rules (known_secrets). Everything else goes
through detect-secrets' plugins (1.5.0), called directly on in-memory lines: no temp files,
no global settings, no verification (no network). Only lines that pass a cheap pre-filter
(a secret-sounding keyword, a URL, or a 16+ character token containing a digit) are handed
to the plugins. The public-IP plugin is not used (an address is not a credential), and
high-entropy strings on a line naming a hash (sha256=, checksum, digest...) are kept.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from detect_secrets.filters import heuristic
from detect_secrets.plugins.base import RegexBasedDetector
from detect_secrets.plugins.high_entropy_strings import HighEntropyStringsPlugin
from detect_secrets.plugins.keyword import (
    DENYLIST,
    QUOTES_REQUIRED_DENYLIST_REGEX_TO_GROUP,
    REGEX_BY_FILETYPE,
    KeywordDetector,
)
from detect_secrets.util.filetype import determine_file_type

from engine.target.known_secrets import redact_keyed, redact_known

_PEM_BLOCK = re.compile(
    r"-----BEGIN (?P<kind>[A-Z0-9 ]*?)PRIVATE KEY(?: BLOCK)?-----"
    r"(?:.*?-----END [A-Z0-9 ]*?PRIVATE KEY(?: BLOCK)?-----|.*?(?=\n[ \t]*\n|\Z))",
    re.DOTALL,
)
_PUTTY_BLOCK = re.compile(r"PuTTY-User-Key-File-\d:.*?(?:Private-MAC: \S+|\Z)", re.DOTALL)
_AWS_KEY_ID = re.compile(r"(?<![A-Z0-9])(?:A3T[A-Z0-9]|ABIA|ACCA|AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])")
_LONG_TOKEN = re.compile(r"[A-Za-z0-9+/=_\-.]{16,}")
_KEYWORDS = re.compile(r"pass|pwd|secret|key|token|contrase|://")
_DIGIT = re.compile(r"\d")
# High-entropy strings on a line that names a hash are checksums, not credentials.
_HASH_CONTEXT = re.compile(r"(?i)sha\d*|hash|checksum|digest|md5|integrity|commit|etag")
_KEYWORD_GATE = re.compile("|".join(DENYLIST), re.IGNORECASE)
_GENERIC_TYPES = {"Base64 High Entropy String", "Hex High Entropy String", "Secret Keyword"}
_SKIPPED_PLUGINS = {"IPPublicDetector", "PrivateKeyDetector"}


def _placeholder(secret_type: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", secret_type.lower()).strip("-")
    return f"[REDACTED:{slug}]"


@lru_cache(maxsize=1)
def _plugins() -> tuple[Any, ...]:
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class

    classes: list[Any] = list(get_mapping_from_secret_type_to_class().values())
    chosen = [c for c in classes if c.__name__ not in _SKIPPED_PLUGINS]
    return tuple(c() for c in sorted(chosen, key=lambda c: c.__name__))


def _is_noise(secret: str, line: str, plugin: Any) -> bool:
    """detect-secrets' default heuristic filters (sequences, uuids, templates, ids...)."""
    return (
        heuristic.is_sequential_string(secret)
        or heuristic.is_potential_uuid(secret)
        or heuristic.is_likely_id_string(secret, line, plugin)
        or heuristic.is_templated_secret(secret)
        or heuristic.is_prefixed_with_dollar_sign(secret)
        or heuristic.is_not_alphanumeric_string(secret)
    )


def _regex_values(plugin: RegexBasedDetector, line: str) -> list[str]:
    """Each match's longest group (the secret), or the whole match when groups are tiny."""
    values = []
    for pattern in plugin.denylist:
        for m in pattern.finditer(line):
            groups = [g for g in m.groups() if g]
            best = max(groups, key=len) if groups else ""
            values.append(best if len(best) >= 8 else m.group(0))
    return values


def _plugin_values(plugin: Any, line: str, keyword_regexes: dict[Any, int]) -> list[str]:
    """The secret values one plugin finds in one line (before the noise filters)."""
    if isinstance(plugin, KeywordDetector):
        if heuristic.is_indirect_reference(line):
            return []
        return list(plugin.analyze_string(line, denylist_regex_to_group=keyword_regexes))
    if isinstance(plugin, HighEntropyStringsPlugin):
        if _HASH_CONTEXT.search(line):
            return []
        limit = plugin.entropy_limit
        shortest = 2**limit  # a string of n characters has at most log2(n) bits of entropy
        values = [v for v in plugin.analyze_string(line) if len(v) > shortest]
        return [v for v in values if plugin.calculate_shannon_entropy(v) > limit]
    if isinstance(plugin, RegexBasedDetector):
        return _regex_values(plugin, line)
    return list(plugin.analyze_string(line))


@lru_cache(maxsize=256)
def _multiline(pattern: re.Pattern[str]) -> re.Pattern[str]:
    return re.compile(pattern.pattern, pattern.flags | re.MULTILINE)


def _patterns(plugin: Any, keyword_regexes: dict[Any, int]) -> list[re.Pattern[str]]:
    """The regexes a plugin needs to match somewhere (with ^ and $ at line ends) to find a
    secret; matching them on the joined lines gives a superset of the lines to analyse."""
    if isinstance(plugin, KeywordDetector):
        found = list(keyword_regexes)
    elif isinstance(plugin, HighEntropyStringsPlugin):
        found = [plugin.regex]
    elif isinstance(plugin, RegexBasedDetector):
        found = list(plugin.denylist)
    else:
        found = [re.compile(".")]
    return [_multiline(p) for p in found]


# The shortest run of token characters that each plugin's secret needs (from its regexes);
# a line without such a run cannot match, so the slow assignment-style regexes skip it.
_MIN_RUN = {
    "ArtifactoryDetector": 11, "CloudantDetector": 24, "IbmCloudIamDetector": 44,
    "IbmCosHmacDetector": 48, "SoftlayerDetector": 64,
    "Base64HighEntropyString": 23, "HexHighEntropyString": 9,
}  # fmt: skip
_RUN = re.compile(r"[A-Za-z0-9+/=_\-]+")


def _eligible(plugin: Any, keyword_regexes: dict[Any, int]) -> tuple[bool, bool, int]:
    """(needs a quote, needs a denylisted keyword, shortest token run) for a line to count."""
    run = _MIN_RUN.get(type(plugin).__name__, 0)
    if isinstance(plugin, HighEntropyStringsPlugin):
        return True, False, run
    if isinstance(plugin, KeywordDetector):
        return keyword_regexes is QUOTES_REQUIRED_DENYLIST_REGEX_TO_GROUP, True, run
    return False, False, run


def _find_secrets(lines: list[str], keyword_regexes: dict[Any, int]) -> dict[int, list[tuple[str, str]]]:
    """(type, value) findings per line index. Each plugin's regexes run once over its
    eligible lines joined; the plugin then analyses only the lines where one matched."""
    quoted = [('"' in line or "'" in line) for line in lines]
    keyword = [bool(_KEYWORD_GATE.search(line)) for line in lines]
    longest = [max(map(len, _RUN.findall(line)), default=0) for line in lines]
    joined: dict[tuple[bool, bool, int], tuple[list[int], str, list[int]]] = {}
    found: dict[int, list[tuple[str, str]]] = {}
    for plugin in _plugins():
        need = _eligible(plugin, keyword_regexes)
        if need not in joined:
            idx = [
                i
                for i in range(len(lines))
                if (quoted[i] or not need[0]) and (keyword[i] or not need[1]) and longest[i] >= need[2]
            ]
            starts, pos = [], 0
            for i in idx:
                starts.append(pos)
                pos += len(lines[i]) + 1
            joined[need] = (idx, "\n".join(lines[i] for i in idx), starts)
        idx, text, starts = joined[need]
        hit = {
            idx[bisect.bisect_right(starts, m.start()) - 1]
            for pattern in (_patterns(plugin, keyword_regexes) if idx else [])
            for m in pattern.finditer(text)
        }
        for i in sorted(hit):
            for value in _plugin_values(plugin, lines[i], keyword_regexes):
                if value and not _is_noise(value, lines[i], plugin):
                    found.setdefault(i, []).append((plugin.secret_type, value))
    return found


def _sub_blocks(text: str, pattern: re.Pattern[str], label: str) -> tuple[str, int]:
    """Replace each multi-line block with one placeholder, keeping its newlines."""
    count = 0

    def repl(m: re.Match[str]) -> str:
        nonlocal count
        count += 1
        return f"[REDACTED:{label}]" + "\n" * m.group(0).count("\n")

    return pattern.sub(repl, text), count


def redact_blocks(text: str) -> tuple[str, int]:
    """Private-key blocks, AWS key ids and every well-known token format, over the whole text."""
    total = 0
    if "PRIVATE KEY" in text:
        text, n = _sub_blocks(text, _PEM_BLOCK, "private-key")
        total += n
    if "PuTTY-User-Key-File" in text:
        text, n = _sub_blocks(text, _PUTTY_BLOCK, "private-key")
        total += n
    text, n = _AWS_KEY_ID.subn(_placeholder("AWS Access Key"), text)
    text, m = redact_known(text)
    return text, total + n + m


def redact_name(name: str) -> str:
    """A file name, folder name or path with every well-known token format replaced."""
    return redact_blocks(name)[0] if name else name


def redact_many(items: Sequence[tuple[str, str]]) -> list[tuple[str, int]]:
    """Redact many (text, path) pairs at once: each plugin scans all candidate lines once."""
    texts: list[str] = []
    counts: list[int] = []
    split: dict[int, list[str]] = {}
    groups: dict[int, tuple[dict[Any, int], list[tuple[int, int]]]] = {}
    for k, (text, path) in enumerate(items):
        text, n = redact_blocks(text)
        text, m = redact_keyed(text, path)
        n += m
        texts.append(text)
        counts.append(n)
        candidates = _candidate_lines(text)
        if not candidates:
            continue
        split[k] = text.split("\n")
        regexes = REGEX_BY_FILETYPE.get(determine_file_type(path), QUOTES_REQUIRED_DENYLIST_REGEX_TO_GROUP)
        groups.setdefault(id(regexes), (regexes, []))[1].extend((k, i) for i in candidates)
    for regexes, where in groups.values():
        picked = [split[k][i] for k, i in where]
        for j, found in _find_secrets(picked, regexes).items():
            k, i = where[j]
            line = split[k][i]
            found.sort(key=lambda f: (-len(f[1]), f[0] in _GENERIC_TYPES, f[0]))
            for secret_type, value in found:
                hits = line.count(value)
                if hits:
                    line = line.replace(value, _placeholder(secret_type))
                    counts[k] += hits
            split[k][i] = line
    for k, lines in split.items():
        texts[k] = "\n".join(lines)
    return list(zip(texts, counts, strict=True))


def redact(text: str, path: str) -> tuple[str, int]:
    """Return the text with every detected secret replaced by a placeholder, and the count."""
    return redact_many([(text, path)])[0]


def _candidate_lines(text: str) -> list[int]:
    """Indexes of lines with a secret-sounding keyword or a long token containing a digit."""
    offsets = [m.start() for m in _KEYWORDS.finditer(text.lower())]
    offsets += [m.start() for m in _LONG_TOKEN.finditer(text) if _DIGIT.search(m.group())]
    found: list[int] = []
    pos = line_no = 0
    for offset in sorted(offsets):
        line_no += text.count("\n", pos, offset)
        pos = offset
        if not found or found[-1] != line_no:
            found.append(line_no)
    return found
