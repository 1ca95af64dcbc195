"""Secret redaction: replace secrets with `[REDACTED:<type>]` before any text reaches a model.

Private-key blocks (PEM, PGP, OpenSSH, PuTTY) are replaced whole, keeping the line count so
line numbers stay real. AWS access key ids are caught by our own regex. Everything else goes
through detect-secrets' plugins (1.5.0), called directly on in-memory lines: no temp files,
no global settings, no verification (no network). Only lines that pass a cheap pre-filter
(a secret-sounding keyword, a URL, or a 16+ character token containing a digit) are handed
to the plugins. The public-IP plugin is not used (an address is not a credential), and
high-entropy strings on a line naming a hash (sha256=, checksum, digest...) are kept.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from detect_secrets.filters import heuristic
from detect_secrets.plugins.base import RegexBasedDetector
from detect_secrets.plugins.high_entropy_strings import HighEntropyStringsPlugin
from detect_secrets.plugins.keyword import (
    QUOTES_REQUIRED_DENYLIST_REGEX_TO_GROUP,
    REGEX_BY_FILETYPE,
    KeywordDetector,
)
from detect_secrets.util.filetype import determine_file_type

_PEM_BLOCK = re.compile(
    r"-----BEGIN (?P<kind>[A-Z0-9 ]*?)PRIVATE KEY(?: BLOCK)?-----"
    r"(?:.*?-----END [A-Z0-9 ]*?PRIVATE KEY(?: BLOCK)?-----|.*?(?=\n[ \t]*\n|\Z))",
    re.DOTALL,
)
_PUTTY_BLOCK = re.compile(r"PuTTY-User-Key-File-\d:.*?(?:Private-MAC: \S+|\Z)", re.DOTALL)
_AWS_KEY_ID = re.compile(
    r"(?<![A-Z0-9])(?:A3T[A-Z0-9]|ABIA|ACCA|AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])"
)
_LONG_TOKEN = re.compile(r"[A-Za-z0-9+/=_\-.]{16,}")
_KEYWORDS = re.compile(r"pass|pwd|secret|key|token|contrase|://")
_DIGIT = re.compile(r"\d")
# High-entropy strings on a line that names a hash are checksums, not credentials.
_HASH_CONTEXT = re.compile(r"(?i)sha\d*|hash|checksum|digest|md5|integrity|commit|etag")
_GENERIC_TYPES = {"Base64 High Entropy String", "Hex High Entropy String", "Secret Keyword"}
_SKIPPED_PLUGINS = {"IPPublicDetector", "PrivateKeyDetector"}


def _placeholder(secret_type: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", secret_type.lower()).strip("-")
    return f"[REDACTED:{slug}]"


@lru_cache(maxsize=1)
def _plugins() -> tuple[Any, ...]:
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class

    classes = get_mapping_from_secret_type_to_class().values()
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


def _line_secrets(line: str, keyword_regexes: dict[Any, int]) -> list[tuple[str, str]]:
    """(type, value) pairs that detect-secrets finds in one line."""
    found: list[tuple[str, str]] = []
    indirect = heuristic.is_indirect_reference(line)
    for plugin in _plugins():
        if isinstance(plugin, KeywordDetector):
            if indirect:
                continue
            values = plugin.analyze_string(line, denylist_regex_to_group=keyword_regexes)
        elif isinstance(plugin, HighEntropyStringsPlugin):
            if _HASH_CONTEXT.search(line):
                continue
            values = (
                v
                for v in plugin.analyze_string(line)
                if plugin.calculate_shannon_entropy(v) > plugin.entropy_limit
            )
        elif isinstance(plugin, RegexBasedDetector):
            values = _regex_values(plugin, line)
        else:
            values = plugin.analyze_string(line)
        for value in values:
            if value and not _is_noise(value, line, plugin):
                found.append((plugin.secret_type, value))
    return found


def _sub_blocks(text: str, pattern: re.Pattern[str], label: str) -> tuple[str, int]:
    """Replace each multi-line block with one placeholder, keeping its newlines."""
    count = 0

    def repl(m: re.Match[str]) -> str:
        nonlocal count
        count += 1
        return f"[REDACTED:{label}]" + "\n" * m.group(0).count("\n")

    return pattern.sub(repl, text), count


def redact(text: str, path: str) -> tuple[str, int]:
    """Return the text with every detected secret replaced by a placeholder, and the count."""
    total = 0
    if "PRIVATE KEY" in text:
        text, n = _sub_blocks(text, _PEM_BLOCK, "private-key")
        total += n
    if "PuTTY-User-Key-File" in text:
        text, n = _sub_blocks(text, _PUTTY_BLOCK, "private-key")
        total += n
    text, n = _AWS_KEY_ID.subn(_placeholder("AWS Access Key"), text)
    total += n
    candidates = _candidate_lines(text)
    if not candidates:
        return text, total
    keyword_regexes = REGEX_BY_FILETYPE.get(
        determine_file_type(path), QUOTES_REQUIRED_DENYLIST_REGEX_TO_GROUP
    )
    lines = text.split("\n")
    for i in candidates:
        line = lines[i]
        found = sorted(
            _line_secrets(line, keyword_regexes),
            key=lambda f: (-len(f[1]), f[0] in _GENERIC_TYPES, f[0]),
        )
        for secret_type, value in found:
            hits = line.count(value)
            if hits:
                line = line.replace(value, _placeholder(secret_type))
                total += hits
        lines[i] = line
    return "\n".join(lines), total


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
