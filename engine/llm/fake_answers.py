"""Answers of the fake model, one pure function per output schema.

Each reads the markers written by `templates/prompts/*.md.j2` (the contract is
documented there) and returns a dict valid for the schema of the same name.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable
from typing import Any

FILE_RE = re.compile(r"^=== FILE: (.+?) \(lines \d+-\d+\) ===$", re.M)
LINE_RE = re.compile(r"^\s*(\d+)\| (.*)$")
SEVERITIES = ["low", "medium", "high", "critical"]
NAMES = [
    ("Security Auditor", "application security reviewer", ["input validation", "secrets", "injection"]),
    ("Maintainer", "long-term owner of the code", ["readability", "naming", "tests"]),
    ("Performance Engineer", "latency and memory specialist", ["complexity", "allocation", "I/O"]),
    ("Reliability Engineer", "on-call operator", ["error handling", "timeouts", "retries"]),
    ("API Designer", "designer of public interfaces", ["contracts", "compatibility", "errors"]),
    ("Test Engineer", "author of the test plan", ["coverage", "edge cases", "determinism"]),
    ("Product Owner", "owner of user outcomes", ["requirements", "scope", "users"]),
    ("Data Steward", "guardian of data correctness", ["validation", "privacy", "retention"]),
]


def h(text: str) -> int:
    """A stable 32-bit hash."""
    return int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:8], 16)


def target_lines(prompt: str) -> list[tuple[str, int, str]]:
    """(file, line number, text) for every numbered target line in the prompt."""
    out: list[tuple[str, int, str]] = []
    current = None
    for raw in prompt.splitlines():
        m = FILE_RE.match(raw)
        if m:
            current = m.group(1)
            continue
        lm = LINE_RE.match(raw)
        if current and lm:
            out.append((current, int(lm.group(1)), lm.group(2)))
    return out


def persona_of(prompt: str) -> str:
    m = re.search(r"^Your persona: (.+)$", prompt, re.M)
    return m.group(1).strip() if m else "anonymous"


def personas(prompt: str) -> dict[str, Any]:
    n = int(m.group(1)) if (m := re.search(r"Propose exactly (\d+)", prompt)) else 3
    taken = set(re.findall(r"^- already: (.+)$", prompt, re.M))
    start = h(prompt) % len(NAMES)
    out = []
    for i in range(len(NAMES) * 4):
        name, role, focus = NAMES[(start + i) % len(NAMES)]
        if i >= len(NAMES):
            name = f"{name} {i // len(NAMES) + 1}"
        if name in taken:
            continue
        out.append({"name": name, "role": role, "perspective": f"Reviews as a {role}.", "focus": focus})
        if len(out) == n:
            break
    return {"personas": out}


def review(prompt: str) -> dict[str, Any]:
    who = persona_of(prompt)
    lines = [t for t in target_lines(prompt) if len(t[2].strip()) >= 12]
    if not lines:
        return {"abstract": f"{who} found nothing to report.", "issues": []}
    # Shared candidates (by content) so personas overlap; each persona takes its own subset.
    ranked = sorted(lines, key=lambda t: h(t[2]))[:5]
    chosen = sorted(ranked, key=lambda t: h(who + t[2]))[: 2 + h(who) % 2]
    issues = []
    for file, n, text in sorted(chosen, key=lambda t: (t[0], t[1])):
        words = re.findall(r"[A-Za-z_]\w+", text)
        subject = words[0] if words else "line"
        issues.append(
            {
                "title": f"Questionable use of {subject}",
                "file": file,
                "line_start": n,
                "line_end": n,
                "evidence": text.strip(),
                "severity": SEVERITIES[h(text) % 4],
                "fix": f"Rework the handling of {subject}.",
            }
        )
    abstract = f"{who} reviewed the target and raises {len(issues)} issues, led by {issues[0]['title']}."
    return {"abstract": abstract, "issues": issues}


def pick(prompt: str) -> dict[str, Any]:
    labels = re.findall(r"^\[([A-Z]{1,2})\] ", prompt, re.M)
    k = int(m.group(1)) if (m := re.search(r"Choose exactly (\d+)", prompt)) else 1
    who = persona_of(prompt)
    chosen = sorted(labels, key=lambda lab: h(who + lab))[:k]
    return {"picks": [{"label": lab, "reason": f"{who} can judge this one."} for lab in chosen]}


def counter_quote(prompt: str, key: str) -> str:
    """A line of the target's excerpt to cite against a claim, or (one time in three) a line that is not there."""
    lines = [t for t in target_lines(prompt) if len(t[2].strip()) >= 12]
    if not lines or h(key) % 3 == 0:
        return "the caller validates this before it gets here"
    return lines[h(key + "line") % len(lines)][2].strip()


def response(prompt: str) -> dict[str, Any]:
    who = persona_of(prompt)
    numbers = [int(x) for x in re.findall(r"^#(\d+) \[", prompt, re.M)]
    stances = ["agree", "disagree", "refine"]
    points = []
    for n in numbers:
        stance = stances[h(f"{who}#{n}{prompt[-200:]}") % 3]
        quote = counter_quote(prompt, f"{who}#{n}") if stance == "disagree" else ""
        points.append({"issue": n, "stance": stance, "reason": f"{who} checked #{n}.", "quote": quote})
    return {"summary": f"{who} answered {len(points)} points.", "points": points}


def response_exec(prompt: str) -> dict[str, Any]:
    """A response under --execute: a point whose issue's evidence carries `expect: EXPR` agrees and attaches a
    reproducer asserting EXPR (in a Python file the prompt says how to load)."""
    out = response(prompt)
    loads = dict(re.findall(r"([\w./-]+\.py): `import ([\w.]+)`", prompt))
    issues = re.findall(r"^#(\d+) \[\w+\] .*? — (\S+):\d+-\d+\n   evidence: (.*)$", prompt, re.M)
    expects = {int(n): (loads[f], m.group(1).strip()) for n, f, ev in issues
               if f in loads and (m := re.search(r"expect: (.+)$", ev))}
    for p in out["points"]:
        if p["issue"] in expects:
            module, expect = expects[p["issue"]]
            p.update(stance="agree", quote="", reproducer=f"from {module} import *  # noqa\n\n\ndef test_issue():\n"
                                                          f"    assert {expect}, {expect!r}\n")
    return out


def rebuttal(prompt: str) -> dict[str, Any]:
    points = []
    for n, stance in re.findall(r"^#(\d+) (agree|disagree|refine):", prompt, re.M):
        if stance == "disagree":
            answer = "concede" if h(f"{n}{prompt[-300:]}") % 2 else "maintain"
        elif stance == "refine":
            answer = "revise"
        else:
            answer = "maintain"
        revision = "Narrowed to the quoted lines." if answer == "revise" else ""
        quote = counter_quote(prompt, f"rebut#{n}") if answer == "maintain" and stance == "disagree" else ""
        points.append({"issue": int(n), "stance": answer, "reason": f"Answer to #{n}.", "revision": revision,
                       "quote": quote})
    return {"points": points}


def findings(prompt: str) -> dict[str, Any]:
    keep = []
    pattern = r"^\[((?:own|adopt)-\d+)\]( \(conceded\))? \[\w+\] (.+?) \("
    for label, conceded, title in re.findall(pattern, prompt, re.M):
        if conceded:
            continue
        sev = SEVERITIES[h(title) % 4]
        keep.append({"source": label, "title": title, "severity": sev, "note": "Stands after the debate."})
    return {"keep": keep}


def usefulness(prompt: str) -> dict[str, Any]:
    out = []
    for label, sev in re.findall(r"^\[(F\d+)\] \[(\w+)\] ", prompt, re.M):
        useful = {"critical": "critical", "high": "high", "medium": "medium", "low": "low"}.get(sev, "medium")
        out.append({"finding": label, "usefulness": useful, "reason": f"Severity is {sev}."})
    return {"items": out}


YES_NO_MARK = "Answer with one word: yes, no or unsure."


def is_yes_no(prompt: str) -> bool:
    """Whether a plain-text call is the judge's yes/no question."""
    return YES_NO_MARK in prompt


def p_yes(prompt: str) -> float:
    """The fake judge's P(yes): up with checks that support the claim, down with those that refute it, and a
    stable per-claim offset (so findings differ)."""
    supports = len(re.findall(r"^- [\w:.-]+: supports", prompt, re.M))
    refutes = len(re.findall(r"^- [\w:.-]+: refutes", prompt, re.M))
    claim = m.group(0) if (m := re.search(r"^Claim .*$", prompt, re.M)) else prompt[:200]
    p = 0.45 + 0.15 * min(supports, 2) - 0.25 * min(refutes, 2) + (h(claim) % 41 - 20) / 100
    return round(min(0.97, max(0.03, p)), 3)


def logprobs_for(p: float) -> dict[str, Any]:
    """OpenAI-style logprobs of a one-token answer whose yes/no alternatives carry P(yes) = p."""
    def alt(token: str, prob: float) -> dict[str, Any]:
        return {"token": token, "logprob": math.log(prob), "bytes": list(token.encode())}

    top = [alt("Yes", 0.9 * p), alt("No", 0.9 * (1 - p)), alt("Unsure", 0.1)]
    top.sort(key=lambda a: -a["logprob"])
    return {"content": [{**top[0], "top_logprobs": top}], "refusal": None}


def verbal(p: float) -> str:
    """The fake judge's answer in words, for providers without logprobs."""
    return "yes" if p >= 0.6 else "no" if p <= 0.4 else "unsure"


def critique(prompt: str) -> dict[str, Any]:
    rnd = int(m.group(1)) if (m := re.search(r"^Round (\d+)", prompt, re.M)) else 1
    approve = rnd >= 2
    return {"approve": approve, "points": [] if approve else ["Tighten the evidence of #1."]}


def same_claim(prompt: str) -> dict[str, Any]:
    """Same claim when the two titles share their last word (deterministic, prompt-only)."""
    titles = re.findall(r"^Issue [AB]: (.+)$", prompt, re.M)
    same = len(titles) == 2 and titles[0].split()[-1:] == titles[1].split()[-1:]
    return {"reason": "Both name the same defect." if same else "They name different defects.", "same": same}


def reproducer(prompt: str) -> dict[str, Any]:
    """Load the target; assert the `expect: EXPR` the finding's evidence carries (dropped when repairing)."""
    language = m.group(1) if (m := re.search(r"^Language: (\w+)$", prompt, re.M)) else "python"
    evidence = m.group(1) if (m := re.search(r"^Evidence: (.*)$", prompt, re.M)) else ""
    expect = m.group(1).strip() if (m := re.search(r"expect: (.+)$", evidence)) else None
    if "Previous attempt (" in prompt:
        expect = None
    if language == "javascript":
        path = m.group(1) if (m := re.search(r"^Load it with: require\('(.+)'\)$", prompt, re.M)) else "./index.js"
        check = f"assert.ok({expect}, {expect!r});" if expect else "assert.ok(target !== undefined);"
        code = f"const assert = require('assert');\nconst target = require('{path}');\n{check}\n"
        return {"expectation": f"{expect or 'the module loads'} holds.", "code": code}
    module = m.group(1) if (m := re.search(r"^Import it as: (.+)$", prompt, re.M)) else "target"
    if expect:
        code = f"from {module} import *  # noqa\n\n\ndef test_finding():\n    assert {expect}, {expect!r}\n"
    else:
        code = (f"import importlib\n\ntarget = importlib.import_module({module!r})\n\n\n"
                "def test_finding():\n    assert target is not None\n")
    return {"expectation": f"{expect or 'the module imports'} holds.", "code": code}


def claims(prompt: str) -> dict[str, Any]:
    """Statements with a condition ('if', 'unless', 'because') as assumptions; the rules found the rest."""
    out = []
    for _, n, text in target_lines(prompt):
        if re.search(r"\b(if|unless|because|assum\w*)\b", text, re.I) and len(out) < 8:
            out.append({"line": n, "kind": "assumption", "text": text.strip()[:200]})
    return {"claims": out}


def contradiction(prompt: str) -> dict[str, Any]:
    """Two statements contradict when they share a word stem (first five letters of a word of five or more)."""
    a = re.search(r"^A: (.+)$", prompt, re.M)
    b = re.search(r"^B: (.+)$", prompt, re.M)
    words = [{w[:5] for w in re.findall(r"[a-z]{5,}", m.group(1).lower())} if m else set() for m in (a, b)]
    shared = sorted(words[0] & words[1])
    if shared:
        return {"reason": f"Both are about {shared[0]} and give different values.", "contradict": True}
    return {"reason": "They are about different things.", "contradict": False}


ANSWERS: dict[str, Callable[[str], dict[str, Any]]] = {
    "PersonasOut": personas,
    "ReviewOut": review,
    "PickOut": pick,
    "ResponseOut": response,
    "ResponseExecOut": response_exec,
    "RebuttalOut": rebuttal,
    "FindingsOut": findings,
    "UsefulnessOut": usefulness,
    "CritiqueOut": critique,
    "SameClaimOut": same_claim,
    "ReproducerOut": reproducer,
    "ClaimsOut": claims,
    "ContradictionOut": contradiction,
}


def answer(schema_name: str, prompt: str) -> dict[str, Any]:
    """The fake answer for a schema, derived only from the prompt."""
    if schema_name not in ANSWERS:
        raise ValueError(f"the fake model has no answer for schema {schema_name}")
    return ANSWERS[schema_name](prompt)
