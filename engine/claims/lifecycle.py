"""Rules for what happens to data over time: edits lost to a device's clock, a delete that reaches every copy with
no way back, a batch that waits to fill while a requirement promises seconds, and a reward credited before the
order it rewards is final. Pure functions over claims, like the cross-checks (engine/claims/crosscheck.py)."""

from __future__ import annotations

import re

from engine.claims.model import Claim, Hit, first_beyond, first_unguarded, times

# a conflict settled by the newer timestamp ('the version with the later modification time wins', 'last write wins')
NEWER_WINS = re.compile(r"\blast[- ]writ(?:e|er)[- ]wins\b|\bLWW\b|"
                        r"\b(?:later|latest|newer|newest|most recent)\b[^.;]{0,40}?\b(?:modification|modified|"
                        r"timestamps?|times?|clock|edit)\b[^.;]{0,40}?\bwins?\b", re.I)
# ... where the timestamp is the device's own
DEVICE_CLOCK = re.compile(r"\b(?:client|device|local|laptop|phone|user)'?s? (?:own |local |system )?(?:clock|time)\b|"
                          r"\btaken from the (?:client|device)\b", re.I)
# what makes concurrent edits safe: logical clocks, the server's order, or keeping both versions
ORDERED = re.compile(r"\b(vector clocks?|lamport|hybrid logical|logical clocks?|crdts?|server(?:'s)? "
                     r"(?:time|clock|timestamp|order)|server-assigned|conflict\w* cop(?:y|ies)|keeps? both|"
                     r"merge\w*|three-way)\b", re.I)
# a delete that reaches every copy ('deleted on every device', 'removed everywhere')
DELETE_ALL = re.compile(r"\bdelet\w*\b[^.;]{0,60}?\b(?:on|from|in) (?:every|all)\b[^.;]{0,20}?\b(?:devices?|replicas?|"
                        r"clients?|copies|regions?|nodes?|computers?)\b|\b(?:delet|remov|purg)\w* everywhere\b", re.I)
# what lets a user get it back
RECOVERY = re.compile(r"\b(trash|recycle|undo|undelet\w*|restor\w*|recover\w*|soft[- ]delet\w*|versioning|"
                      r"version history|previous versions|backups?|snapshots?|grace period|point-in-time|"
                      r"recently deleted|for \d+ (?:days?|weeks?|months?) before)\b", re.I)
# a batch written only when it is full ('written ... when it holds 10,000 changes', 'once the buffer is full')
SIZE_FLUSH = re.compile(r"\b(?:when|once|as soon as) (?:it|the batch|the buffer|each batch)\b[^.;]{0,20}?"
                        r"\b(?:holds|contains|reaches|has collected|is full|fills)\b", re.I)
TIME_FLUSH = re.compile(r"\bor (?:after|every|when) (?:\d|a |an |the )|\bat least (?:every|once)\b|"
                        r"\bflush\w* (?:every|after)\b|\btime[- ]based\b|\btimer\b|\bwhichever comes first\b", re.I)
PROMISE = re.compile(r"\b(visible|searchable|shown|appears?|available|delivered|reflect\w*|indexed|propagat\w*)\b",
                     re.I)
# a reward credited when the order is placed ...
REWARD_NOW = re.compile(r"\b(?:points?|credits?|credited|cash ?back|bonus(?:es)?|rewards?|vouchers?)\b[^.;]{0,80}?"
                        r"\b(?:as soon as|when|once|at the moment) (?:the |an |each |a )?(?:order|purchase|booking) "
                        r"(?:is |has been )?(?:placed|made|submitted|created)\b", re.I)
# ... in a document where orders can be undone ...
UNDONE = re.compile(r"\b(cancel\w*|returns?|returned|refund\w*|chargebacks?)\b", re.I)
# ... and nothing takes the reward back or waits for the order to be final
TAKEN_BACK = re.compile(r"\b(revers\w*|deduct\w*|claw\w*|withdrawn|taken back|forfeit\w*|pending until|"
                        r"(?:credited|awarded|earned|given|added|paid out)\b[^.;]{0,40}?\bafter (?:the )?(?:delivery|"
                        r"return (?:period|window))|(?:return|refund) (?:period|window) (?:ends|closes|has passed))\b",
                        re.I)


def lost_update(claims: list[Claim]) -> list[Hit]:
    """Concurrent edits settled by the newer timestamp, where the timestamp is the device's own clock and nothing
    orders edits otherwise or keeps both: a device whose clock runs ahead silently overwrites newer work."""
    if not any(DEVICE_CLOCK.search(c.text) for c in claims) or not (
            found := first_unguarded(claims, NEWER_WINS, ORDERED)):
        return []
    c, m = found
    return [Hit.of(c, "lost-update",
                   title=f"Newest by the device's clock wins: '{' '.join(m.group(0).split()[-6:])}', so a skewed clock "
                         f"silently overwrites newer edits ('{c.section}')",
                   detail="the timestamps come from each device's clock, which can be minutes or days off; the edit "
                          "with the later timestamp replaces the other everywhere and nothing keeps the one that lost",
                   severity="high")]


def irreversible_delete(claims: list[Claim]) -> list[Hit]:
    """A delete that reaches every copy, in a document that names no trash, undo, version history or backup: one
    mistaken delete, a bad script or ransomware on one device destroys the data everywhere."""
    if not (found := first_unguarded(claims, DELETE_ALL, RECOVERY)):
        return []
    c, m = found
    return [Hit.of(c, "irreversible-delete",
                   title=f"A delete reaches every copy with no way back: '{' '.join(m.group(0).split()[-6:])}' "
                         f"('{c.section}')",
                   detail="nothing in the document keeps a deleted item for a while or lets anyone restore it, so an "
                          "accidental delete on one device, a faulty client or ransomware removes every copy at once",
                   severity="high")]


def size_only_flush(claims: list[Claim]) -> list[Hit]:
    """A batch written only when it is full, in a document that promises the result within a time and gives the
    batch no time limit: when traffic is low the batch takes long to fill and the promise is broken."""
    promises = [(c, q) for c in claims for q in c.quantities
                if q.dimension == "time" and q.bound == "upper" and PROMISE.search(c.text)]
    if not promises or any(TIME_FLUSH.search(c.text) for c in claims):
        return []
    for c in claims:
        if SIZE_FLUSH.search(c.text) and (p := next(((a, q) for a, q in promises if a.id != c.id), None)):
            a, q = p
            return [Hit(rule="limit-contradiction", claims=[a.id, c.id], file=c.file, lines=[a.line, c.line],
                        title=f"Batch flushed only when full vs within {q.text} ('{a.section}'): at low traffic a "
                              f"change waits for the batch to fill ('{c.section}')",
                        detail=f"line {a.line} promises it within {q.text}; line {c.line} writes a batch only when "
                               "it is full, with no time limit, so the delay depends on traffic and is unbounded "
                               "when it is quiet",
                        evidence=c.text, severity="high",
                        fix=f"Flush when the batch is full or {q.text} after its first change, whichever comes "
                            "first.")]
    return []


def reward_before_final(claims: list[Claim]) -> list[Hit]:
    """A reward credited when an order is placed, in a document where orders can be cancelled or returned and
    nothing reverses the reward or waits for the order to be final: order, collect, cancel, keep."""
    if not any(UNDONE.search(c.text) for c in claims) or not (
            found := first_unguarded(claims, REWARD_NOW, TAKEN_BACK)):
        return []
    c = found[0]
    return [Hit.of(c, "security-exposure",
                   title=f"Reward credited before the order is final: kept after a cancel or return ('{c.section}')",
                   detail="the reward is credited when the order is placed and nothing takes it back when the order "
                          "is cancelled or returned, so a customer can order, collect, cancel and keep it, again and "
                          "again",
                   severity="high",
                   fix="Credit the reward when the return window closes (show it as pending until then), or "
                       "reverse it when the order is cancelled or returned.")]


# the old store of record removed as soon as a migration switches over ('the old session tables are dropped at 23:00
# the same evening'); an old search index or cache is rebuilt from the data, so it is not one
DROP_OLD = re.compile(r"\b(?:old|previous|legacy|former)\b[^.;]{0,30}?\b(?:tables?|databases?|schemas?|stores?|"
                      r"buckets?|clusters?|db)\b[^.;]{0,30}?\b(?:dropped|deleted|removed|destroyed|wiped|"
                      r"decommissioned|shut down|switched off|turned off)\b", re.I)
MIGRATION = re.compile(r"\b(migrat\w*|cut-?over|switch-?over|roll-?out|go-?live|launch)\b", re.I)
# a way back: the old store kept, a rollback or a restore
WAY_BACK = re.compile(r"\b(roll ?back|rolled back|revert\w*|fall ?back|switch(?:ed)? back|backups?|snapshots?|"
                      r"restor\w*|kept (?:read-only|for)|keeps? the old|until the new|"
                      r"\d+ (?:days?|weeks?|months?) after (?:the )?(?:switch\w*|cut-?over|migration|move|launch))\b",
                      re.I)


def no_way_back(claims: list[Claim]) -> list[Hit]:
    """A migration that removes the old store of record when it switches over, in a document that names no
    rollback, backup or period the old store is kept: if the new one fails there is nothing to go back to."""
    movable = [c for c in claims if MIGRATION.search(c.section) or MIGRATION.search(c.text)]
    if not (found := first_unguarded(movable, DROP_OLD, WAY_BACK)) or any(WAY_BACK.search(c.text) for c in claims):
        return []
    c, m = found
    return [Hit.of(c, "irreversible-delete",
                   title=f"No way back from the migration: '{' '.join(m.group(0).split()[-6:])}' ('{c.section}')",
                   detail="the old store is removed when the switch happens and nothing says how to roll back, so a "
                          "failure or a bug in the new one found after the switch cannot be undone",
                   severity="high",
                   fix="Keep the old store read-only until the new one has run cleanly for a set period (a week), "
                       "and write down how to switch back.")]


# one side of a sync always wins a conflict ('the back office copy always wins and the phone copy is replaced')
SIDE_WINS = re.compile(r"\b(?:server|back[- ]?office|cloud|remote|central|local|phone|device|client|desktop)(?:['’]s)? "
                       r"(?:copy|version|edit|change|value)s? (?:always )?wins?\b", re.I)


def one_side_wins(claims: list[Claim]) -> list[Hit]:
    """A conflict settled by one side always winning, in a document where nothing merges, keeps the loser or tells
    the user: an edit made on the other side at the same time is silently thrown away."""
    if not (found := first_unguarded(claims, SIDE_WINS, ORDERED)):
        return []
    c, m = found
    return [Hit.of(c, "lost-update",
                   title=f"Conflicts settled by '{m.group(0)}': the other side's edit is silently lost "
                         f"('{c.section}')",
                   detail="when both sides changed the same record, one change always replaces the other and "
                          "nothing keeps it or tells the person who made it",
                   severity="high")]


# working offline for a span ('works offline for up to 30 days') ...
OFFLINE_FOR = re.compile(r"\b(?:offline|without (?:a |any )?(?:network|connection|signal|coverage))\b", re.I)
# ... while a credential lasts less and renews only online ('the access token lasts 24 hours and is renewed with the
# refresh endpoint, which needs a connection')
LIFETIME = re.compile(r"\b(?:tokens?|sessions?|logins?|certificates?|licen[cs]es?|credentials?)\b[^.;]{0,30}?"
                      r"\b(?:lasts?|expires?(?: after)?|is valid for|valid for|lives? for)\b", re.I)
ONLINE_ONLY = re.compile(r"\b(?:needs?|requires?) (?:a |an )?(?:network |internet |data )?connection\b|"
                         r"\bonly online\b|\bwhen online\b", re.I)


def offline_outlives_credential(claims: list[Claim]) -> list[Hit]:
    """A promise to work offline for N while a token or session lasts M < N and is renewed only online: the app
    signs its user out after M without a connection."""
    lives = [(c, q) for c, q in times(claims, LIFETIME) if ONLINE_ONLY.search(c.text)]
    if not (found := first_beyond(lives, times(claims, OFFLINE_FOR))):
        return []
    (b, life), (a, span) = found
    return [Hit.of_pair(a, b, "limit-contradiction",
                        title=f"Offline for {span.text} ('{a.section}') but the credential lasts {life.text} and "
                              f"renews only online ('{b.section}')",
                        detail=f"line {b.line} lets the credential expire after {life.text} and renews it only with a "
                               f"connection, so the user is signed out long before the {span.text} of line {a.line}",
                        fix=f"Let the credential last the {span.text} offline (bound to the device and revocable), "
                            "or say what works offline once it has expired.")]
