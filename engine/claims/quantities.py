"""Numbers with units, found mechanically and normalised (ms/s/min, KB/MB/GB, req/s vs req/min, %, money)."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict

WORD_NUMBERS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "twenty": 20, "thirty": 30, "fifty": 50, "hundred": 100,
    "once": 1, "twice": 2,
}
# unit word -> (dimension, factor to the base unit: seconds, bytes, percent, per second, count)
UNITS: dict[str, tuple[str, float]] = {
    **dict.fromkeys(("ms", "msec", "millisecond", "milliseconds"), ("time", 0.001)),
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), ("time", 1.0)),
    **dict.fromkeys(("min", "mins", "minute", "minutes"), ("time", 60.0)),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), ("time", 3600.0)),
    **dict.fromkeys(("day", "days"), ("time", 86400.0)),
    **dict.fromkeys(("week", "weeks"), ("time", 604800.0)),
    **dict.fromkeys(("month", "months"), ("time", 2592000.0)),
    **dict.fromkeys(("year", "years"), ("time", 31536000.0)),
    **dict.fromkeys(("b", "byte", "bytes"), ("size", 1.0)),
    **dict.fromkeys(("kb", "kib"), ("size", 1e3)),
    **dict.fromkeys(("mb", "mib"), ("size", 1e6)),
    **dict.fromkeys(("gb", "gib"), ("size", 1e9)),
    **dict.fromkeys(("tb", "tib"), ("size", 1e12)),
    **dict.fromkeys(("%", "percent", "per cent"), ("percent", 1.0)),
    **dict.fromkeys(("times", "retries", "attempts", "tries", "replicas", "instances"), ("count", 1.0)),
}
RATE_PER = {"s": 1.0, "sec": 1.0, "second": 1.0, "min": 60.0, "minute": 60.0, "h": 3600.0, "hour": 3600.0,
            "day": 86400.0}
UPPER = ("at most", "no more than", "up to", "maximum of", "max", "max.", "less than", "under", "below", "within",
         "not exceed", "<=", "<", "≤", "fewer than", "capped at", "limit of", "limited to")
LOWER = ("at least", "minimum of", "min", "more than", "over", "above", ">=", ">", "≥", "exceeds", "exceed",
         "larger than", "bigger than", "greater than", "longer than", "heavier than")
_NUM = r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|" + "|".join(WORD_NUMBERS) + r")"
_SCALE = r"(?:\s?(?P<scale>[kKmM])(?![a-zA-Z]))?"
_RATE = r"(?P<rate>(?:req(?:uest)?s?|rps|qps|messages?|events?|calls?|ops|writes?|reads?|status changes)?\s?" \
        r"(?:/|per\s)(?P<per>s|sec|second|min|minute|h|hour|day)\b)"
_UNIT = r"(?P<unit>ms|msec|milliseconds?|secs?|seconds?|s|mins?|minutes?|hrs?|hours?|h|days?|weeks?|months?|years?|" \
        r"[kKmMgGtT]i?[bB]|bytes?|B|%|percent|times|retries|attempts|tries|replicas|instances)(?![A-Za-z])"
QUANTITY = re.compile(r"(?<![\w.])" + _NUM + _SCALE + r"(?P<sep>-|\s?)(?:" + _RATE + r"|" + _UNIT + r")", re.I)
# a hyphen joins a number to a spelled-out time unit only ('a 7-day window', '24-hour retention'; not '3-s')
HYPHEN_UNITS = {u for u, (dim, _) in UNITS.items() if dim == "time" and (len(u) > 3 or u == "day")}
# money: a currency code or sign before or after the amount ('1,500 EUR', '€1,500', 'USD 20', '$2k')
CURRENCIES = {"€": "EUR", "eur": "EUR", "euro": "EUR", "euros": "EUR", "$": "USD", "usd": "USD", "dollars": "USD",
              "£": "GBP", "gbp": "GBP", "pounds": "GBP", "chf": "CHF"}
_AMOUNT = r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)(?:\s?(?P<scale>[kK]|[mM](?:n|illion)?)(?![a-zA-Z]))?"
MONEY = re.compile(r"(?<![\w.])(?:(?P<pre>[€$£]|(?:EUR|USD|GBP|CHF)\s?)" + _AMOUNT + r"(?![\w%])|"
                   + _AMOUNT.replace("num>", "num2>").replace("scale>", "scale2>")
                   + r"\s?(?P<post>EUR|USD|GBP|CHF|euros?|dollars|pounds)\b)", re.I)
_SHORTHAND = re.compile(r"\b(?:rps|qps)\b", re.I)


class Quantity(BaseModel):
    """One number with its unit, its dimension and its value in the dimension's base unit."""

    model_config = ConfigDict(extra="forbid")
    text: str
    value: float
    unit: str
    dimension: str  # time | size | percent | rate | count | "EUR amount" (one dimension per currency)
    base: float
    bound: str = ""  # "upper" (at most, <), "lower" (at least, >) or "" (a plain value)
    start: int = 0  # character offset in the sentence


# a cadence said in words, with no number ('uploads a file once an hour', 'a nightly export')
PERIODS = {"minute": 60.0, "hour": 3600.0, "day": 86400.0, "night": 86400.0, "week": 604800.0, "month": 2592000.0,
           "quarter": 7776000.0, "year": 31536000.0}
WORD_CADENCE = re.compile(r"\b(?:once (?:an?|per|each|every) (?P<a>minute|hour|day|night|week|month|quarter|year)|"
                          r"(?P<b>hour|dai|night|week|month|quarter|year)ly|"
                          r"every (?P<c>minute|hour|day|night|week|month|quarter|year))\b"
                          r"(?!\s+(?:plans?|subscriptions?|billing|fees?|prices?|active|summar\w+|reports?|invoices?|"
                          r"budgets?|users?|limits?|quotas?))", re.I)  # 'the monthly plan' is no cadence


def number_of(raw: str) -> float:
    """'10,000' -> 10000, 'three' -> 3, '2.5' -> 2.5."""
    word = raw.lower()
    return float(WORD_NUMBERS[word]) if word in WORD_NUMBERS else float(raw.replace(",", ""))


def _ending(words: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?:^|[^\w])(?:{alternatives})(?: of| than)?$")


_UPPER_END, _LOWER_END = _ending(UPPER), _ending(LOWER)


# 'over' after an aggregate is the span it is taken over, not a bound ('sums over 1 hour', 'averaged over 5 minutes')
_SPAN_OVER = re.compile(r"\b(?:sums?|counts?|totals?|averages?|averaged|aggregat\w+|computed|measured|rolling|"
                        r"spread|windows?) over$")


def bound_before(text: str, start: int) -> str:
    """'upper' / 'lower' when a comparator word stands just before the number, else ''."""
    before = " ".join(text[max(0, start - 24):start].lower().split())
    upper, lower = _UPPER_END.search(before), None if _SPAN_OVER.search(before) else _LOWER_END.search(before)
    if upper and lower:  # the longer (later-starting is shorter) match wins: 'no more than' over 'more than'
        return "upper" if upper.start() <= lower.start() else "lower"
    return "upper" if upper else "lower" if lower else ""


def quantities(text: str) -> list[Quantity]:
    """Every number with a unit in a sentence, normalised to its dimension's base unit."""
    out = []
    for m in QUANTITY.finditer(text):
        num = number_of(m.group("num"))
        scale = (m.group("scale") or "").lower()
        num *= {"k": 1e3, "m": 1e6}.get(scale, 1.0)
        if m.group("rate"):
            per = m.group("per").lower()
            dim, unit, base = "rate", f"/{per}", num / RATE_PER[per]
        else:
            unit = m.group("unit")
            key = unit.lower()
            if key in ("m", "b") and unit != "B":  # 'm'/'b' alone are not units
                continue
            if m.group("sep") == "-" and key not in HYPHEN_UNITS:
                continue
            if scale == "m" and key == "b":  # "5 MB" was read as scale M + B
                num, key, unit = num / 1e6, "mb", "MB"
            dim, factor = UNITS[key]
            if dim == "count" and m.group("num").lower() in ("once", "twice"):
                continue
            base = num * factor
        if m.group("num").lower() in ("once", "twice") or (m.group("num").isalpha() and not m.group("sep")):
            continue  # 'once'; 'ones' and 'tens' are no number of seconds
        out.append(Quantity(text=m.group(0).strip(), value=num, unit=unit, dimension=dim, base=base,
                            bound=bound_before(text, m.start()), start=m.start()))
    measured = out + amounts(text)
    return measured + counts(text, measured)


# a count of things ('400,000 contacts', '1.2 million devices'): its own dimension per noun, so only counts of the
# same thing are compared; only volumes (at least MIN_COUNT), not a design's small numbers ('4 workers', '12
# languages'); a count written 'which is about N' after a bounded quantity takes that bound ('files up
# to 25 MB, which is about 100,000 contacts')
COUNT = re.compile(r"(?<![\w.,])(?P<num>\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)"
                   r"(?:\s?(?P<scale>million|thousand|[kKmM])(?![\w]))?\s+(?P<noun>[a-z][a-z-]{2,}s)\b", re.I)
# a number that names something rather than counting it: a year ('by 2027 customers'), a standard ('ISO 8601
# timestamps'), a port or a version
_NAMING = re.compile(r"\b(?:iso|rfc|port|http|v|version|pep|ecma|since|by|in|until|from)\s*$", re.I)
MIN_COUNT = 1000
NOT_COUNTED = frozenset(["times", "seconds", "minutes", "hours", "days", "weeks", "months", "years", "percent", "bytes",
                         "retries", "attempts", "tries", "replicas", "instances", "requests", "messages", "events",
                         "calls", "writes", "reads", "ops", "mins", "secs", "hrs", "euros", "dollars", "pounds",
                         "others", "ones", "tens"])
_SAME_AS = re.compile(r",?\s*\b(?:which is|that is|i\.e\.|or)\s*(?:about|roughly|around|approximately|some|~)?\s*$",
                      re.I)


def counts(text: str, measured: list[Quantity]) -> list[Quantity]:
    """Counts of things in a sentence that no unit or sum of money already reads ('400,000 contacts')."""
    taken = [(q.start, q.start + len(q.text)) for q in measured]
    out = []
    for m in COUNT.finditer(text):
        noun, raw = m.group("noun").lower(), m.group("num")
        if noun in NOT_COUNTED or any(a <= m.start() < b for a, b in taken) or _NAMING.search(text[:m.start()]) or (
                re.fullmatch(r"(?:19|20)\d\d", raw) and not m.group("scale")):
            continue
        scale = (m.group("scale") or "").lower()
        num = number_of(raw) * {"million": 1e6, "m": 1e6, "thousand": 1e3, "k": 1e3}.get(scale, 1.0)
        if num < MIN_COUNT:
            continue
        bound = bound_before(text, m.start())
        before = text[:m.start()]
        if not bound and (same := _SAME_AS.search(before)):
            bound = next((q.bound for q in reversed(measured) if q.start + len(q.text) <= same.start() + 1), "")
        out.append(Quantity(text=m.group(0).strip(), value=num, unit=noun, dimension=f"count of {noun}", base=num,
                            bound=bound, start=m.start()))
    return out


def amounts(text: str) -> list[Quantity]:
    """Sums of money in a sentence; each currency is its own dimension (EUR is never compared with USD)."""
    out = []
    for m in MONEY.finditer(text):
        raw, scale = m.group("num") or m.group("num2"), (m.group("scale") or m.group("scale2") or "").lower()
        code = CURRENCIES[(m.group("pre") or m.group("post")).strip().lower()]
        num = number_of(raw) * (1e3 if scale == "k" else 1e6 if scale.startswith("m") else 1.0)
        out.append(Quantity(text=m.group(0).strip(), value=num, unit=code, dimension=f"{code} amount", base=num,
                            bound=bound_before(text, m.start()), start=m.start()))
    return out


def word_cadences(text: str) -> list[Quantity]:
    """Cadences said in words ('once an hour', 'nightly', 'every day') as time quantities with no unit: a rule
    that reads them asks for a shared subject word, which a number's own 'every 15 minutes' does not need."""
    out = []
    for m in WORD_CADENCE.finditer(text):
        period = (m.group("a") or m.group("c") or {"dai": "day"}.get(m.group("b").lower(), m.group("b"))).lower()
        out.append(Quantity(text=period, value=1, unit="", dimension="time", base=PERIODS[period], start=m.start()))
    return out


def same_amount(a: Quantity, b: Quantity, tolerance: float = 1e-6) -> bool:
    """Equal once normalised (200 ms == 0.2 s; 60 req/min == 1 req/s)."""
    return a.dimension == b.dimension and abs(a.base - b.base) <= tolerance * max(abs(a.base), abs(b.base), 1.0)


def violates(limit: Quantity, other: Quantity) -> bool:
    """True when `other` (a plain value) breaks `limit` (an upper or lower bound) of the same dimension."""
    if limit.dimension != other.dimension or not limit.bound or other.bound == limit.bound:
        return False
    return other.base > limit.base if limit.bound == "upper" else other.base < limit.base
