"""Quote matching robust to how a model quotes: quote style, whitespace, `...`, several lines (table-driven)."""

from __future__ import annotations

import pytest

from engine.target.evidence import locate_quote
from engine.target.snapshot import SourceFile, TargetSnapshot

CLIENT = (
    "import requests\n"  # 1
    "\n"  # 2
    "def fetch(url, params):\n"  # 3
    '    params["api_key"] = API_KEY\n'  # 4
    "    response = requests.get(url,\n"  # 5
    "                            params=params,\n"  # 6
    "                            timeout=None)\n"  # 7
    "    print('failed for', params[\"api_key\"])\n"  # 8
    "    return response.json()\n"  # 9
)


@pytest.fixture(scope="module")
def snap() -> TargetSnapshot:
    files = [SourceFile(path="client.py", text=CLIENT, language="python"),
             SourceFile(path="other.py", text="x = compute_total(items, tax)\n", language="python")]
    return TargetSnapshot(kind="folder", root="/p", name="p", files=files)


@pytest.mark.parametrize(
    ("quote", "start", "status", "lines"),
    [
        # the failure a new user saw: the file writes double quotes, the model quoted single ones
        ("params['api_key'] = API_KEY", 4, "verified", (4, 4)),
        ('params["api_key"] = API_KEY', 4, "verified", (4, 4)),
        ("params[‘api_key’] = API_KEY", 4, "verified", (4, 4)),
        ('print("failed for", params["api_key"])', 8, "verified", (8, 8)),
        # whitespace runs and spaces beside punctuation
        ("params['api_key']   =   API_KEY", 4, "verified", (4, 4)),
        ("requests.get(url, params=params, timeout=None)", 5, "verified", (5, 7)),
        ("requests.get( url ,params = params,timeout = None )", 5, "verified", (5, 7)),
        # a trailing or leading `...`
        ("response = requests.get(url,...", 5, "verified", (5, 5)),
        ("... return response.json()", 9, "verified", (9, 9)),
        ("return response.json()…", 9, "verified", (9, 9)),
        # a quote over several lines, indented or not, numbered or not
        ("response = requests.get(url,\n    params=params,\n    timeout=None)", 5, "verified", (5, 7)),
        ("5| response = requests.get(url,\n6| params=params,\n7| timeout=None)", 5, "verified", (5, 7)),
        ("def fetch(url, params):\n\n    params['api_key'] = API_KEY", 3, "verified", (3, 4)),
        # right text, wrong place or wrong file
        ("params['api_key'] = API_KEY", 40, "moved", (4, 4)),
        ("x = compute_total(items, tax)", 1, "moved", (1, 1)),
        # still strict where it matters: words, case, identifiers
        ("params['apikey'] = API_KEY", 4, "not_found", None),
        ("PARAMS['api_key'] = API_KEY", 4, "not_found", None),
        ("defetch(url, params):", 3, "not_found", None),
        ("...", 4, "not_found", None),
    ],
)
def test_locate_quote(snap: TargetSnapshot, quote: str, start: int, status: str, lines: tuple | None) -> None:
    m = locate_quote(snap, "client.py", start, start, quote)
    assert m.status == status
    assert m.lines == lines
