"""Capacity arithmetic over a document's numbers: N items of S each against the memory or disk that holds them.
A pure function over claims, like the cross-checks (engine/claims/crosscheck.py)."""

from __future__ import annotations

import re

from engine.claims.model import Claim, Hit
from engine.claims.quantities import Quantity
from engine.claims.words import STOP, stem

HOLDER = re.compile(r"\b(memory|ram|heap|disk|storage|volume|instance)\b", re.I)
ONE = re.compile(r"\b(?:a|an|each|one|per|every)\s+([a-z][\w-]*)", re.I)
PER_PERIOD = re.compile(r"\b(?:per|a|an|each|every) (?:day|hour|week|month|year)\b|\b(?:daily|hourly|monthly)\b", re.I)
MARGIN = 1.2  # the items must need this much more than the holder has: estimates are 'about'


def _bytes(n: float) -> str:
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n:.0f} bytes"


def capacity_shortfall(claims: list[Claim]) -> list[Hit]:
    """'About 2 million sessions', 'a session is ... about 4 KB', 'the instance has 4 GB of memory': the items need
    more than the holder has. The item's size is stated for one item ('a session', 'each record'); the holder is a
    memory or disk size stated in the same section as the item or the count. One hit, the largest shortfall."""
    counts = [(c, q) for c in claims for q in c.quantities if q.dimension.startswith("count of ")]
    sizes = [(c, q) for c in claims for q in c.quantities if q.dimension == "size"]
    best: tuple[float, tuple[Claim, Quantity, Claim, Quantity, Claim, Quantity]] | None = None
    for c, n in counts:
        if PER_PERIOD.search(c.text):  # '2 million sessions a day' are not all held at once
            continue
        noun = stem(n.unit.lower())
        for item, s in sizes:
            if not any(stem(m.group(1).lower()) == noun for m in ONE.finditer(item.text)):
                continue
            need = n.base * s.base
            for holder, cap in sizes:
                if holder.id == item.id or not HOLDER.search(holder.text) or cap.base < 10 * s.base \
                        or holder.section not in (item.section, c.section) or need <= MARGIN * cap.base:
                    continue
                if best is None or need / cap.base > best[0]:
                    best = (need / cap.base, (c, n, item, s, holder, cap))
    return [_hit(*best[1])] if best else []


def _hit(c: Claim, n: Quantity, item: Claim, s: Quantity, holder: Claim, cap: Quantity) -> Hit:
    need = n.base * s.base
    return Hit(rule="limit-contradiction", claims=list(dict.fromkeys([holder.id, c.id, item.id])), file=holder.file,
               lines=list(dict.fromkeys([holder.line, c.line, item.line])),
               title=f"{n.text} of {s.text} each need about {_bytes(need)}, more than the {cap.text} that holds them "
                     f"('{holder.section}')",
               detail=f"line {c.line} gives {n.text} and line {item.line} {s.text} for one, about {_bytes(need)} in "
                      f"all; line {holder.line} gives {cap.text}, so what does not fit is refused or evicted",
               evidence=holder.text, severity="high",
               fix="Size it for the peak (count x size, with headroom), or keep only what fits and say what happens "
                   "to the rest when it is full.")


# a small count bounded in one place and exceeded in another ('keep up to 20 saved searches' ... 'a buyer with more
# than 50 saved searches'); the pair rules compare only volumes (quantities.MIN_COUNT), so these are read here
EACH = re.compile(r"\b(?:each|per|every)\b", re.I)
COUNT_LIMIT = re.compile(r"\b(?:up to|at most|no more than|a maximum of|maximum of|limited to|capped at)\s+"
                         r"(?P<n>\d{1,3}(?:,\d{3})*)\s+(?P<noun>(?:[a-z-]+\s+)?[a-z-]+)", re.I)
COUNT_BEYOND = re.compile(r"\b(?:more than|over|at least|above|upwards of)\s+(?P<n>\d{1,3}(?:,\d{3})*)\s+"
                          r"(?P<noun>(?:[a-z-]+\s+)?[a-z-]+)", re.I)


def count_beyond_limit(claims: list[Claim]) -> list[Hit]:
    """A count bounded in one sentence ('up to 20 saved searches') and exceeded in another about the same thing
    ('more than 50 saved searches'): the same noun, a larger number."""
    def head(noun: str) -> str:
        words = [w for w in noun.lower().split() if w not in STOP]
        return stem(words[-1]) if words else ""

    for a in claims:
        if EACH.search(a.text):  # a limit for each account is no limit on the total
            continue
        for lim in COUNT_LIMIT.finditer(a.text):
            for b in claims:
                if b.id == a.id:
                    continue
                for over in COUNT_BEYOND.finditer(b.text):
                    n, m = int(lim["n"].replace(",", "")), int(over["n"].replace(",", ""))
                    if not head(lim["noun"]) or head(over["noun"]) != head(lim["noun"]) or m <= n:
                        continue
                    said, beyond = f"{lim['n']} {lim['noun']}", f"more than {over['n']} {over['noun']}"
                    return [Hit.of_pair(a, b, "limit-contradiction", severity="medium",
                                        title=f"Limit of {said} ('{a.section}') contradicted by {beyond} "
                                              f"('{b.section}')",
                                        detail=f"line {a.line} allows at most {said}; line {b.line} plans for "
                                               f"{beyond}")]
    return []


# many pollers at a short interval ('each of the 200 worker processes polls the table every 100 ms')
POLLERS = re.compile(r"\b(?P<n>\d{1,3}(?:,\d{3})*|\d+)\s+(?:[\w-]+\s+){0,2}?(?:workers?|processes|clients|instances|"
                     r"pods|devices|consumers|replicas|apps?|browsers?|tabs)\b[^.;]{0,80}?\bpoll\w*\b[^.;]{0,60}?"
                     r"\bevery\s+(?P<t>\d+(?:\.\d+)?)\s?(?P<u>ms|milliseconds?|s|secs?|seconds?)\b", re.I)
POLL_RATE = 100.0  # polls a second from which the polling alone is a load worth a finding


def polling_load(claims: list[Claim]) -> list[Hit]:
    """N pollers each asking every T: N / T requests a second, most of them finding nothing; said when it reaches
    POLL_RATE, with the rate the same store serves today when the document gives one."""
    for c in claims:
        if not (m := POLLERS.search(c.text)):
            continue
        t = float(m["t"]) / (1000.0 if m["u"].lower().startswith("m") else 1.0)
        rate = int(m["n"].replace(",", "")) / t if t else 0.0
        if rate < POLL_RATE:
            continue
        today = next((q for o in claims if o.id != c.id for q in o.quantities
                      if q.dimension.startswith("count of") and re.search(r"\b(?:a|per) second\b", o.text)), None)
        return [Hit.of(c, "unbounded-growth",
                       title=f"Polling load: {m['n']} pollers every {m['t']} {m['u']} add about {rate:,.0f} queries a "
                             f"second ('{c.section}')",
                       detail=f"{m['n']} pollers each asking every {m['t']} {m['u']} make about {rate:,.0f} requests a "
                              "second whether or not there is work"
                              + (f", beside the {today.text} a second it serves today" if today else ""),
                       severity="medium",
                       fix="Wake the workers when there is work (LISTEN/NOTIFY, a blocking pop) or back off when "
                           "a poll finds nothing, and poll from fewer processes.")]
    return []
