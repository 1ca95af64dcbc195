"""Secrets detect-secrets misses: well-known token formats anywhere, and values under secret-looking keys.

`redact_known(text)` replaces every token of a known format (cloud, VCS, payment, chat, package
registries, JWTs whole, passwords in URLs) wherever it occurs. `redact_keyed(text, path)` replaces the
value of a `key: value` / `key = value` line whose key (or, in YAML-like indentation, an enclosing
key) looks secret, in any file type, quoted or not, when the value looks like a credential rather
than a reference. `redact_name(name)` applies the known formats to a file or folder name.
"""

from __future__ import annotations

import math
import re
from collections import Counter

_B = r"(?<![A-Za-z0-9])"  # token start: not glued to a preceding letter or digit
_E = r"(?![A-Za-z0-9_-])"
# (type, pattern): the whole match is the secret, or only the group named `s` when there is one.
KNOWN_FORMATS: list[tuple[str, str]] = [
    ("json-web-token", r"eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"),
    (
        "aws-secret-access-key",
        r"(?i:aws.{0,20}?(?:secret|sk)[A-Za-z_ ]{0,20}?[\"']?[ \t]*[:=][ \t]*[\"']?)"
        r"(?P<s>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])",
    ),
    ("github-token", _B + r"(?:gh[pousr]_[A-Za-z0-9_]{36,}|github_pat_[A-Za-z0-9_]{22,})"),
    ("gitlab-token", _B + r"gl(?:pat|dt|rt|ptt|cbt|oas|soat|ft|imt|agent)-[A-Za-z0-9_-]{20,}"),
    ("bitbucket-token", _B + r"ATBB[A-Za-z0-9_=.-]{32,}"),
    ("openai-or-anthropic-key", _B + r"sk-(?=[A-Za-z0-9_-]*\d)[A-Za-z0-9_-]{20,}"),
    ("stripe-access-key", _B + r"(?:sk|rk|pk)_(?:live|test)_[0-9A-Za-z]{16,}|whsec_[A-Za-z0-9]{24,}"),
    ("slack-token", _B + r"xox[abposr]-[A-Za-z0-9-]{10,}|xapp-\d-[A-Za-z0-9-]{10,}"),
    ("slack-webhook", r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_-]+"),
    ("discord-webhook", r"https://(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/\d+/[A-Za-z0-9_-]+"),
    ("discord-bot-token", _B + r"[MNO][A-Za-z\d_-]{23,27}\.[A-Za-z\d_-]{6}\.[A-Za-z\d_-]{27,38}" + _E),
    ("telegram-bot-token", r"(?<!\d)\d{8,10}:[A-Za-z0-9_-]{35}" + _E),
    ("twilio-key", _B + r"(?:AC|SK)[0-9a-f]{32}" + _E),
    ("sendgrid-key", r"SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}"),
    ("mailchimp-key", _B + r"[0-9a-f]{32}-us\d{1,2}" + _E),
    ("mailgun-key", _B + r"key-[0-9a-f]{32}" + _E),
    ("google-api-key", _B + r"AIza[0-9A-Za-z_-]{35}"),
    ("google-oauth", _B + r"GOCSPX-[A-Za-z0-9_-]{20,}|ya29\.[A-Za-z0-9_-]{20,}"),
    ("digitalocean-token", _B + r"do[por]_v1_[a-f0-9]{64}"),
    ("huggingface-token", _B + r"hf_[A-Za-z0-9]{30,}"),
    ("npm-token", _B + r"npm_[A-Za-z0-9]{36}"),
    ("pypi-token", _B + r"pypi-AgE[A-Za-z0-9_-]{50,}"),
    ("square-token", _B + r"sq0(?:atp|csp|idp)-[0-9A-Za-z_-]{22,}|EAAA[A-Za-z0-9_-]{60}"),
    ("braintree-token", r"access_token\$(?:production|sandbox)\$[0-9a-z]{16}\$[0-9a-f]{32}"),
    ("shopify-token", _B + r"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}"),
    ("azure-storage-key", r"(?i:AccountKey=)(?P<s>[A-Za-z0-9+/=]{60,})"),
    ("azure-sas-signature", r"(?i:[?&]sig=)(?P<s>[A-Za-z0-9%+/=]{20,})"),
    ("vault-token", _B + r"hv[sb]\.[A-Za-z0-9_-]{24,}"),
    ("doppler-token", _B + r"dp\.(?:pt|st|sa|ct)\.[A-Za-z0-9]{40,}"),
    ("linear-key", _B + r"lin_api_[A-Za-z0-9]{40}"),
    ("postman-key", _B + r"PMAK-[a-f0-9]{24}-[a-f0-9]{34}"),
    ("databricks-token", _B + r"dapi[a-f0-9]{32}"),
    ("age-secret-key", r"AGE-SECRET-KEY-1[0-9A-Z]{58}"),
    ("url-password", r"(?i:\b[a-z][a-z0-9+.-]{1,20}://[^\s:/@\"'<>]*:)(?P<s>[^\s@/\"'<>]{3,})(?=@)"),
]
_COMPILED = [(t, re.compile(p)) for t, p in KNOWN_FORMATS]
_LONG = re.compile(r"[A-Za-z0-9_\-.$/+=:%@~]{20,}")  # every known format is (or sits in) such a run

SECRET_KEY = re.compile(
    r"(?i)(?:pass(?:word|wd|phrase)?|pwd|secret|token|api[_.-]?key|apikey|access[_.-]?key|private[_.-]?key|"
    r"client[_.-]?secret|credentials?|auth(?:[_.-]?(?:key|token))?|signing[_.-]?key|encryption[_.-]?key|"
    r"session[_.-]?key|master[_.-]?key|webhook|dsn|conn(?:ection)?[_.-]?string)"
)
_KEY_HINT = re.compile(r"pass|pwd|secret|token|key|credential|auth|webhook|dsn|conn")  # cheap, on lowercase text
_ASSIGN = re.compile(
    r"^(?P<indent>[ \t]*)(?:[-*+][ \t]+)?(?:export[ \t]+)?[\"'`]?(?P<key>[A-Za-z_][\w.\-]*)[\"'`]?[ \t]*"
    r"(?::=|=>|:|=)[ \t]*(?P<val>.*)$"
)
_VALUE = re.compile(r"\"([^\"\s]{6,})\"|'([^'\s]{6,})'|`([^`\s]{6,})`|([^\s\"'`,;()\[\]{}<>#]{6,})")
_REFERENCE = re.compile(r"^(?:\$|%\(|\{\{|<|env[.:(]|os\.|process\.env|ENV\[|secrets?\.|vault:|ref\+)", re.I)
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")
_CONFIG_SUFFIXES = (
    ".env",
    ".yaml",
    ".yml",
    ".md",
    ".markdown",
    ".rst",
    ".txt",
    ".ini",
    ".cfg",
    ".conf",
    ".toml",
    ".properties",
    ".json",
    ".tfvars",
    ".envrc",
)


def entropy(s: str) -> float:
    """Shannon entropy of a string, in bits per character."""
    n = len(s)
    return -sum(c / n * math.log2(c / n) for c in Counter(s).values()) if n else 0.0


def _placeholder(kind: str) -> str:
    return f"[REDACTED:{kind}]"


def _line_numbers(text: str, offsets: list[int]) -> list[int]:
    """The distinct line indexes of character offsets (sorted)."""
    found: list[int] = []
    pos = line = 0
    for offset in sorted(offsets):
        line += text.count("\n", pos, offset)
        pos = offset
        if not found or found[-1] != line:
            found.append(line)
    return found


def _sub_known(line: str) -> tuple[str, int]:
    total = 0
    for kind, pattern in _COMPILED:

        def repl(m: re.Match[str], kind: str = kind) -> str:
            nonlocal total
            total += 1
            if "s" in m.re.groupindex and m.group("s") is not None:
                start, end = m.start("s") - m.start(), m.end("s") - m.start()
                return m.group(0)[:start] + _placeholder(kind) + m.group(0)[end:]
            return _placeholder(kind)

        line = pattern.sub(repl, line)
    return line, total


def redact_known(text: str) -> tuple[str, int]:
    """Replace every token of a well-known secret format; return the text and the count."""
    offsets = [m.start() for m in _LONG.finditer(text)]
    if not offsets:
        return text, 0
    lines = text.split("\n")
    total = 0
    for i in _line_numbers(text, offsets):
        lines[i], n = _sub_known(lines[i])
        total += n
    return ("\n".join(lines), total) if total else (text, 0)


def _looks_secret(value: str, loose: bool) -> bool:
    """A value that is a credential, not a reference, a word or a placeholder."""
    if "[REDACTED:" in value or _REFERENCE.match(value) or len(value) < 6:
        return False
    has_digit = any(c.isdigit() for c in value)
    if _IDENT.match(value):  # an identifier: a secret only when long and random-looking
        strong = len(value) >= 16 and entropy(value) >= 3.5 and has_digit
        return strong or (loose and has_digit and len(value) >= 8)
    return has_digit or entropy(value) >= 3.0


def _redact_value(line: str, m: re.Match[str], loose: bool) -> tuple[str, int]:
    """The line with its assigned value replaced when it looks like a credential."""
    vm = _VALUE.search(m.group("val"))
    if not vm:
        return line, 0
    value = next(g for g in vm.groups() if g)
    if not _looks_secret(value, loose or vm.group(4) is None):
        return line, 0
    start = m.start("val") + vm.start()
    return line[:start] + line[start:].replace(value, _placeholder("secret-keyword"), 1), 1


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def redact_keyed(text: str, path: str) -> tuple[str, int]:
    """Replace credential-looking values under secret-looking keys (or an enclosing YAML-style key)."""
    offsets = [m.start() for m in _KEY_HINT.finditer(text.lower())]
    if not offsets:
        return text, 0
    loose = path.lower().endswith(_CONFIG_SUFFIXES) or "." not in path.rsplit("/", 1)[-1]
    lines = text.split("\n")
    total = 0
    done: set[int] = set()
    for i in _line_numbers(text, offsets):
        m = _ASSIGN.match(lines[i])
        if i in done or not m or not SECRET_KEY.search(m.group("key")):
            continue
        if m.group("val").strip():
            lines[i], n = _redact_value(lines[i], m, loose)
            total += n
            continue
        indent, j = _indent(lines[i]), i + 1  # `secrets:` opens a block: every value inside is secret
        while j < len(lines) and (not lines[j].strip() or _indent(lines[j]) > indent):
            inner = _ASSIGN.match(lines[j])
            if inner and inner.group("val").strip():
                lines[j], n = _redact_value(lines[j], inner, loose)
                total += n
                done.add(j)
            j += 1
    return ("\n".join(lines), total) if total else (text, 0)
