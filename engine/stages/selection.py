"""Pure selection logic: anonymised labels per reader and the responder-coverage repair."""

from __future__ import annotations

import random
import string


def labels(n: int) -> list[str]:
    """A, B, ..., Z, AA, AB, ... (n labels)."""
    out = []
    for i in range(n):
        s, i = "", i + 1
        while i:
            i, r = divmod(i - 1, 26)
            s = string.ascii_uppercase[r] + s
        out.append(s)
    return out


SHORTLIST = 12  # abstracts shown to each picker: past this, the pick stage's prompts would grow as N²


def shortlists(authors: list[str], seed: int, size: int = SHORTLIST) -> dict[str, list[str]]:
    """author -> the authors whose abstracts it is shown when choosing what to answer.

    Up to size + 1 reviews, everyone sees every other abstract. Beyond that, the authors are put on a
    ring in a seeded order and each is shown the `size` that follow it: every review is offered to
    exactly `size` readers, nobody is offered their own, and each picker's prompt stays the same size
    however large the panel (linear total cost instead of quadratic).
    """
    ring = sorted(set(authors))
    if len(ring) <= size + 1:
        return {a: [b for b in ring if b != a] for a in ring}
    random.Random(f"{seed}:ring").shuffle(ring)
    n = len(ring)
    return {a: [ring[(i + j) % n] for j in range(1, size + 1)] for i, a in enumerate(ring)}


def anonymise(reader: str, review_ids: list[str], seed: int) -> dict[str, str]:
    """label -> review id, shuffled deterministically per reader."""
    ids = sorted(review_ids)
    random.Random(f"{seed}:{reader}").shuffle(ids)
    return dict(zip(labels(len(ids)), ids, strict=True))


def repair_assignments(
    readers: list[str], authors: dict[str, str], picks: dict[str, list[str]], k: int
) -> dict[str, list[str]]:
    """Repair the readers' picks so every review has a responder and nobody exceeds k.

    `authors` maps review id -> its author (a reader never answers its own review);
    `picks` maps reader -> review ids in order of preference. Choices are kept where
    possible; readers with too few picks are topped up with the least-covered reviews;
    an uncovered review goes to the least-loaded eligible reader, swapping out a
    doubly covered pick before exceeding k (k + 1 only where unavoidable).
    """
    reviews = sorted(authors)
    if k <= 0 or not reviews:
        return {r: [] for r in readers}
    out: dict[str, list[str]] = {}
    for r in readers:
        seen: list[str] = []
        for rid in picks.get(r, []):
            if rid in authors and authors[rid] != r and rid not in seen:
                seen.append(rid)
        out[r] = seen[:k]

    def cover(rid: str) -> int:
        return sum(rid in v for v in out.values())

    for r in readers:  # top up readers who picked fewer than they could
        eligible = [rid for rid in reviews if authors[rid] != r and rid not in out[r]]
        while len(out[r]) < k and eligible:
            best = min(eligible, key=lambda rid: (cover(rid), rid))
            out[r].append(best)
            eligible.remove(best)

    for rid in reviews:  # every review gets at least one responder
        if cover(rid):
            continue
        eligible = [r for r in readers if r != authors[rid]]
        if not eligible:
            continue
        swapped = False
        for r in sorted(eligible, key=lambda r: (len(out[r]), r)):
            if len(out[r]) < k:
                out[r].append(rid)
                swapped = True
                break
            spare = [x for x in out[r] if cover(x) >= 2]
            if spare:
                out[r][out[r].index(spare[-1])] = rid
                swapped = True
                break
        if not swapped:
            r = min(eligible, key=lambda r: (len(out[r]), r))
            out[r].append(rid)
    return out
