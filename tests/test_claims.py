"""Claims: quantities, extraction by format, cross-check rules, Checks and the wish filter (pure, no model)."""

from __future__ import annotations

import pytest

from engine.claims.crosscheck import (
    MAX_HITS_PER_RULE,
    cadence_contradictions,
    claim_checks,
    conflicting_values,
    cross_check,
    delivery_guarantee,
    dependency_without_failure,
    downtime_contradiction,
    limit_contradictions,
    unbounded_growth,
    untestable_requirements,
)
from engine.claims.exposure import (
    address_authentication,
    anyone_changes_production,
    cache_key_without_caller,
    credential_in_url,
    decision_without_alternative,
    fail_open,
    missing_timeout,
    reward_for_free_action,
    security_exposure,
    sensitive_data,
    unauthenticated_store,
)
from engine.claims.extract import extract_claims, mermaid_statements, table_rows
from engine.claims.failures import (
    cache_stampede,
    done_before_work,
    dual_write,
    expiry_before_window,
    serial_calls,
    unsafe_retry,
)
from engine.claims.lifecycle import (
    irreversible_delete,
    lost_update,
    no_way_back,
    offline_outlives_credential,
    one_side_wins,
    reward_before_final,
    size_only_flush,
)
from engine.claims.model import Hit
from engine.claims.omissions import convenience_decision, nfr_without_limits
from engine.claims.quantities import quantities, same_amount, violates
from engine.claims.resilience import (
    cache_outlives_freshness,
    recovery_contradictions,
    trigger_in_failing_region,
    waits_beyond_budget,
)
from engine.claims.sizing import capacity_shortfall, count_beyond_limit, polling_load
from engine.claims.wishes import is_wish, wish_only
from engine.target.outline import sections
from engine.target.snapshot import SourceFile
from engine.verify.checks import Subject


@pytest.mark.parametrize(("text", "expected"), [
    ("p99 < 200 ms", [("time", 0.2, "upper")]),
    ("availability of 99.9 %", [("percent", 99.9, "")]),
    ("a peak of 10k req/s", [("rate", 10000.0, "")]),
    ("2,000 status changes per minute", [("rate", 2000 / 60, "")]),
    ("uploads up to 5 MB", [("size", 5e6, "upper")]),
    ("at most 5 retries", [("count", 5.0, "upper")]),
    ("retried three times with backoff", [("count", 3.0, "")]),
    ("a timeout of 2 s", [("time", 2.0, "")]),
    ("within 1 second", [("time", 1.0, "upper")]),
    ("at least 3 replicas", [("count", 3.0, "lower")]),
    ("no more than 5 retries", [("count", 5.0, "upper")]),
    ("when more than 5 retries fail", [("count", 5.0, "lower")]),
    ("12 languages at launch", []),
    ("call it once", []),
    ("the ones served at scoring time, tens of them", []),  # 'one' + 's' is no number of seconds
    ("the 7-day spend over a 24-hour window", [("time", 604800.0, ""), ("time", 86400.0, "")]),
    ("a 3-s timeout, 1-2 tiers", []),  # a hyphen joins only a spelled-out time unit
    ("counts and sums over 1 hour", [("time", 3600.0, "")]),  # the span an aggregate is taken over
    ("jobs that run over 1 hour", [("time", 3600.0, "lower")]),
    ("One-tap orders are limited to 1,500 EUR", [("EUR amount", 1500.0, "upper")]),
    ("costs €2k or USD 20 a month", [("EUR amount", 2000.0, ""), ("USD amount", 20.0, "")]),
    # volumes of things, one dimension per noun; a count said to equal a bounded size takes its bound
    ("up to 400,000 contacts each", [("count of contacts", 4e5, "upper")]),
    ("an audience of 1.2 million devices", [("count of devices", 1.2e6, "")]),
    ("files up to 25 MB, which is about 100,000 contacts", [("size", 25e6, "upper"),
                                                            ("count of contacts", 1e5, "upper")]),
    ("we run 4 sender workers in 3 regions", []),  # a design's small numbers are no volumes
])
def test_quantities(text: str, expected: list[tuple[str, float, str]]) -> None:
    got = [(q.dimension, q.base, q.bound) for q in quantities(text)]
    assert [(d, round(b, 6), bd) for d, b, bd in got] == [(d, round(b, 6), bd) for d, b, bd in expected]


@pytest.mark.parametrize(("a", "b", "same"), [
    ("200 ms", "0.2 s", True), ("60 req/min", "1 req/s", True), ("1 GB", "1000 MB", True),
    ("5 minutes", "300 seconds", True), ("5 MB", "5 GB", False), ("10%", "10 ms", False),
])
def test_same_amount_normalises_units(a: str, b: str, same: bool) -> None:
    assert same_amount(quantities(a)[0], quantities(b)[0]) is same


@pytest.mark.parametrize(("limit", "value", "broken"), [
    ("at most 5 retries", "retry 10 times", True), ("at most 5 retries", "retry 3 times", False),
    ("p99 < 200 ms", "a timeout of 2 s", True), ("at least 3 replicas", "2 replicas", True),
    ("within 1 second", "every 5 minutes", True), ("within 1 second", "5 MB", False),
])
def test_violates(limit: str, value: str, broken: bool) -> None:
    assert violates(quantities(limit)[0], quantities(value)[0]) is broken


def doc(text: str, path: str = "design.md", language: str = "markdown") -> SourceFile:
    return SourceFile(path=path, text=text, language=language, sections=sections(text, language))


MD = """# Design

## Requirements

1. The API must answer with p99 < 200 ms.
2. The service shall be fast.

## Dependencies

The handler calls the payment provider with a timeout of 2 s.

| Limit | Value |
|---|---|
| Upload size | at most 5 MB |
| Retries | at most 5 retries |

```mermaid
graph LR
  A[Upload API] -->|stores| B[(Object storage)]
  A --> C{Card gateway}
```

## Storage

We keep every upload forever.
Failed calls retry 10 times.
"""


def test_extract_markdown_sections_tables_and_mermaid() -> None:
    claims = extract_claims(doc(MD))
    by_text = {c.text: c for c in claims}
    req = by_text["The API must answer with p99 < 200 ms."]
    assert (req.kind, req.line, req.section) == ("limit", 5, "Requirements")
    assert "requirement" in req.tags
    row = by_text["Limit: Upload size; Value: at most 5 MB"]
    assert (row.source, row.line, row.kind) == ("table", 14, "limit")
    edges = [c for c in claims if c.source == "diagram"]
    assert "Upload API depends on Object storage (stores)" in [c.text for c in edges]
    assert any(c.dependencies == ["card gateway"] for c in edges)
    dep = next(c for c in claims if "payment provider" in c.dependencies)
    assert dep.line == 10 and dep.section == "Dependencies"
    assert [c.id for c in claims] == [f"CL-{n:03d}" for n in range(1, len(claims) + 1)]


@pytest.mark.parametrize(("a", "b"), [("files", "file"), ("rows", "row"), ("boxes", "box"), ("retries", "retried"),
                                      ("matches", "match"), ("writing", "writ")])
def test_stems_of_one_word(a: str, b: str) -> None:
    from engine.claims.words import stem
    assert stem(a) == stem(b)


def test_a_dependency_name_starts_after_its_determiner() -> None:
    from engine.claims.extract import dependency_names
    assert dependency_names("This document proposes one gateway that every service calls.") == ["gateway"]
    assert dependency_names("The worker calls the SMS gateway for each event.") == ["sms gateway"]


def test_table_rows_and_mermaid_helpers() -> None:
    rows = table_rows([(1, "| a | b |"), (2, "|---|---|"), (3, "| 1 ms | x |")])
    assert rows == [(3, "a: 1 ms; b: x")]
    stmts = mermaid_statements([(5, "X[Web] --> Y[API]"), (6, "  App->>Stripe: create charge"), (7, "B-->>A: ok")])
    assert (5, "Web depends on API", ["api"]) in stmts
    assert (6, "App calls Stripe (create charge)", ["stripe"]) in stmts and (7, "B calls A (ok)", ["a"]) in stmts


def test_extract_rst_and_plain_text() -> None:
    rst = "Design\n======\n\nLimits\n------\n\nUploads must be at most 5 MB.\n"
    claims = extract_claims(doc(rst, "design.rst", "rst"))
    assert [(c.line, c.section, c.kind) for c in claims] == [(7, "Limits", "limit")]
    txt = "1. Scope\nThe job must finish within 10 minutes. It runs nightly.\n"
    claims = extract_claims(doc(txt, "plan.txt", "text"))
    # 'It runs nightly' is a cadence in words: a claim the cadence rule reads
    assert [(c.line, c.kind, c.section) for c in claims] == [(2, "limit", "Scope"), (2, "statement", "Scope")]
    # the items of a numbered list are no headings
    txt = "1. Scope\nSteps, each within 10 minutes:\n1. The importer reads the file\n2. It validates each row\n"
    assert [s.title for s in sections(txt, "text")] == ["Scope"]


def claims_of(text: str) -> list:
    return extract_claims(doc(text))


def test_hit_of_one_claim_takes_its_place_and_sentence() -> None:
    (c,) = claims_of("# Storage\n\nThe bucket is public-read.\n")
    hit = Hit.of(c, "security-exposure", title="t", detail="d", severity="critical")
    assert (hit.claims, hit.file, hit.lines, hit.evidence) == ([c.id], c.file, [c.line], c.text)
    assert (hit.severity, hit.strength) == ("critical", "certain")
    with pytest.raises(ValueError):  # the rule name is checked like any field
        Hit.of(c, "no-such-rule", title="t", detail="d")  # type: ignore[arg-type]


CASES = [
    (conflicting_values, "# A\n\nTokens expire after 30 minutes.\n\n# B\n\nTokens expire after 2 hours.\n", 1),
    (conflicting_values, "# A\n\nTokens expire after 30 minutes.\n\n# B\n\nThe export job runs every 2 hours.\n", 0),
    (limit_contradictions, "# A\n\nClients retry at most 5 times.\n\n# B\n\nOn error, clients retry 10 times.\n", 1),
    (limit_contradictions, "# A\n\nClients retry at most 5 times.\n\n# B\n\nOn error, clients retry 3 times.\n", 0),
    (delivery_guarantee, "# A\n\nThe queue delivers at least once.\n\n# B\n\nEach order is charged exactly once.\n", 1),
    (delivery_guarantee, "The queue delivers at least once.\nCharged exactly once via an idempotency key.\n", 0),
    (dependency_without_failure, "The worker calls the SMS gateway for each event.\n", 1),
    (dependency_without_failure, "The worker calls the SMS gateway.\n\nIf the gateway is down we retry later.\n", 0),
    (dependency_without_failure, "The worker calls the billing service.\n", 0),  # internal: not flagged
    (unbounded_growth, "We keep every upload forever.\n", 1),
    (unbounded_growth, "There is no limit on photo size.\n", 1),
    (unbounded_growth, "We store all audit events.\n\nAudit events have a retention of 90 days.\n", 0),
    (unbounded_growth, "A job runs every 5 minutes.\n", 0),
    (security_exposure, "The bucket is configured for public-read.\n", 1),
    (security_exposure, "The handler reads `account_id` from the query string.\n", 1),
    (security_exposure, "The handler reads `account_id` from the query string.\nIt must match the session.\n", 0),
    (missing_timeout, "The worker calls the card provider.\n\nProvider errors are retried twice.\n", 1),
    (missing_timeout, "The worker calls the card provider with a 3 s timeout.\n\nProvider errors are retried.\n", 0),
    (missing_timeout, "The worker calls the card provider.\n", 0),  # no failure handling: the general rule's hit
    (decision_without_alternative, "# D\n\nWe decided to use Postgres.\n", 1),
    (decision_without_alternative, "# D\n\nWe decided to use Postgres.\nMongoDB was rejected: no joins.\n", 0),
    (untestable_requirements, "# R\n\nThe page must be fast.\n", 1),
    (untestable_requirements, "# R\n\nThe page must load in under 2 s.\n", 0),
    (unbounded_growth, "Events are never updated or deleted by the application.\n", 1),
    (unbounded_growth, "The page loads all of the events, newest first.\n", 1),
    # a cap in a sentence with no unit ("500 flags") is a claim, so it bounds what the other sentence loads
    (unbounded_growth, "The app loads all flags at startup.\n\nAt most 500 flags per app; larger sets fail.\n", 0),
    (sensitive_data, "An event contains:\n\n- the complete request headers and body, as received;\n", 1),
    (sensitive_data, "Every query is stored with the customer's e-mail address and IP address.\n", 1),
    (sensitive_data, "We log every query with the IP address.\n\nIP addresses are hashed before storage.\n", 0),
    (sensitive_data, "Provider calls use an API key stored in the secrets manager.\n", 0),
    (sensitive_data, "We log every request with the phone number.\n\nAll personal data is encrypted at rest.\n", 0),
    # protecting something else is not protecting the data (a model-added claim silenced the rule on a document)
    (sensitive_data, "We log every request with the phone number.\n\nThe parser strips the country name.\n", 1),
    (sensitive_data, "State changes are recorded: role changes, API-key creation and revocation.\n", 0),
    (downtime_contradiction, "# Goals\n\nThe migration happens with zero downtime.\n\n# Cutover\n\n"
                             "The API is put in read-only mode for up to two hours.\n", 1),
    (downtime_contradiction, "# Goals\n\nThe migration happens with zero downtime.\n\n# Cutover\n\n"
                             "Both systems run side by side for two hours.\n", 0),
    # a promise "within N" against a cadence "every M" with M > N: no shared words needed
    (cadence_contradictions, "# R\n\nA notification is delivered within 1 second.\n\n# Design\n\n"
                             "The notifier sends them in one batch every 5 minutes.\n", 1),
    (cadence_contradictions, "# R\n\nA notification is delivered within 10 minutes.\n\n# Design\n\n"
                             "The notifier sends them in one batch every 5 minutes.\n", 0),
    (cadence_contradictions, "# R\n\nA notification is delivered within 1 second.\n\n# Design\n\n"
                             "Old notifications are deleted after 30 days.\n", 0),  # not a cadence
    (address_authentication, "To check that a call comes from us, compare its source address with our IP ranges.\n",
     1),
    (address_authentication, "Receivers check the source address.\n\nEach delivery carries an HMAC signature.\n", 0),
    (address_authentication, "We log the client IP address of each request.\n", 0),  # not trusted for anything
    (untestable_requirements, "# R\n\nData must be migrated correctly.\n", 1),
    # a vendor the document introduces by name is a dependency wherever a sentence says what it supplies
    (dependency_without_failure, "# Why\n\nLedgerPro, our billing vendor since 2019, raises its price.\n\n"
                                 "# Approach\n\nLedgerPro produces a full export every night.\n", 1),
    (dependency_without_failure, "# Why\n\nLedgerPro, our billing vendor, raises its price.\n\n# Approach\n\n"
                                 "LedgerPro produces a full export every night.\n\nIf the LedgerPro export is late or "
                                 "fails, the cutover is postponed.\n", 0),
    # non-functional requirements that bound other things, but not load, uptime or data safety
    (nfr_without_limits, "# Non-functional requirements\n\n- Battery: sync must use less than 1 % per day.\n"
                         "- App size: at most 3 MB.\n", 1),
    (nfr_without_limits, "# Non-functional requirements\n\n- Battery: sync must use less than 1 % per day.\n"
                         "- Throughput: a peak of 2,000 edits per minute.\n", 0),
    (nfr_without_limits, "# Requirements\n\n- Battery: sync must use less than 1 % per day.\n", 0),
    # a choice whose only reason is the team's convenience, pointed back to by 'This ...'
    (convenience_decision, "# Storage\n\nEvents go to a new table in the main database. This keeps the code simple "
                           "and lets us ship in one sprint.\n", 1),
    (convenience_decision, "# Storage\n\nEvents go to a new table in the main database. This keeps the code simple; "
                           "a separate store was considered and rejected for its cost.\n", 0),
    (convenience_decision, "# Storage\n\nEvents go to the main database. This keeps the code simple.\n\n"
                           "# Alternatives considered\n\n- A separate store: more to run.\n", 0),
    # two caps on one amount, in two currencies or one
    (conflicting_values, "# R\n\nOne-tap orders are limited to 1,500 EUR per order.\n\n# Fraud\n\n"
                         "One-tap orders of up to 2,000 EUR need no second factor.\n", 1),
    (conflicting_values, "# R\n\nOne-tap orders are limited to 1,500 EUR per order.\n\n# Fraud\n\n"
                         "One-tap orders of up to 2,000 USD need no second factor.\n", 0),
    # a retry after money moved, with nothing making the second attempt safe
    (unsafe_retry, "# Flow\n\nIf the order call fails after the authorisation, the customer can try again.\n", 1),
    (unsafe_retry, "# Flow\n\nIf the order call fails after the authorisation, the customer can try again.\n"
                   "Each attempt carries an idempotency key.\n", 0),
    (unsafe_retry, "# Flow\n\nIf the search call fails, the customer can try again.\n", 0),  # nothing repeated
    # one step writing to two stores, with nothing keeping them in step
    (dual_write, "# Design\n\nThe job writes every update to both stores.\n", 1),
    (dual_write, "# Design\n\nThe job writes every update to both stores.\n\nA nightly job reconciles them.\n", 0),
    (dual_write, "# Design\n\nBoth teams review the schema.\n", 0),
    # data that expires before the window a reader takes from the same store
    (expiry_before_window, "# Store\n\nKeys in the online store expire 24 hours after the last write.\n\n"
                           "# Scoring\n\nThe model reads the 7-day spend from the online store.\n", 1),
    (expiry_before_window, "# Store\n\nKeys in the online store expire 30 days after the last write.\n\n"
                           "# Scoring\n\nThe model reads the 7-day spend from the online store.\n", 0),
    (expiry_before_window, "# Store\n\nKeys in the online store expire 24 hours after the last write.\n\n"
                           "# Scoring\n\nThe model reads the 7-day spend from the offline store.\n", 0),
    # a retry whose step makes a new record, said in the next sentence of the section
    (unsafe_retry, "# Errors\n\nWhen the client gets no response (a timeout), it sends the same import file again.\n"
                   "Every row of an import adds a new contact.\n", 1),
    (unsafe_retry, "# Errors\n\nWhen the client gets no response (a timeout), it sends the same import file again.\n"
                   "Every row of an import adds a new contact.\nImports carry a unique key.\n", 0),
    (unsafe_retry, "# Errors\n\nWhen the client gets no response (a timeout), it sends the same file again.\n\n"
                   "# Import\n\nEvery row of an import adds a new contact.\n", 0),  # another section: not this step
    (unsafe_retry, "# Ops\n\nEvery deploy creates a new index alias.\nIf a query times out, the client retries "
                   "it.\n", 0),  # a neighbour about something else
    # work recorded as done when it is picked up or starts, not when it has succeeded
    (done_before_work, "# Indexer\n\nIt acknowledges each message as soon as it has read it.\n", 1),
    (done_before_work, "# Upload\n\nThe journal entry is marked as synced when the upload starts.\n", 1),
    (done_before_work, "# Worker\n\nThe consumer commits its offsets before processing the batch.\n", 1),
    (done_before_work, "# Flow\n\nThe worker marks the row as sent only after the provider returns success.\n", 0),
    (done_before_work, "# Flow\n\nIt acknowledges a message once the write is stored, when it reads it again.\n"
                       "The job is marked as done after the file has been uploaded.\n", 0),
    (done_before_work, "# App\n\nAn engineer acknowledges the page in the app.\n", 0),  # no early moment
    # a whole data set held in memory at once; a retention of something else does not bound it, a batch size does
    (unbounded_growth, "# Rebuild\n\nThe rebuild reads all products into memory and writes a new index.\n"
                       "The old index is deleted after the rebuild.\n", 1),
    (unbounded_growth, "# Rebuild\n\nThe rebuild reads all products into memory and writes a new index.\n"
                       "It reads products in batches of 1,000.\n", 0),
    (unbounded_growth, "# Balances\n\nThere is no maximum balance.\n", 1),
    # a call that "times out" has a timeout
    (missing_timeout, "The worker calls the card provider.\n\nProvider errors are retried; a call slower than 5 s "
                      "times out.\n", 0),
    # the limit's own sentence gives the other number its role: no contradiction
    (limit_contradictions, "# Purpose\n\nThe engineer is paged within 2 minutes, and a second engineer if the "
                           "first has not acknowledged within 10 minutes.\n\n# Drill\n\nThe page escalates after 10 "
                           "minutes without acknowledgement.\n", 0),
    # the newest edit by the device's own clock wins, nothing keeps the other
    (lost_update, "# Sync\n\nEach change records the modification time taken from the client's clock.\n\n"
                  "# Conflicts\n\n"
                  "The version with the later modification time wins on every device.\n", 1),
    (lost_update, "# Sync\n\nEach change records the modification time taken from the client's clock.\n\n"
                  "# Conflicts\n\n"
                  "The version with the later modification time wins; the other is kept as a conflicted copy.\n", 0),
    (lost_update, "# Conflicts\n\nThe version with the later server timestamp wins on every device.\n", 0),
    # a delete that reaches every copy, with no trash or backup anywhere
    (irreversible_delete, "# Deletes\n\nA file deleted on one device is deleted on every device at once.\n", 1),
    (irreversible_delete, "# Deletes\n\nA file deleted on one device is deleted on every device at once.\n"
                          "Deleted files stay in the trash for 30 days.\n", 0),
    (irreversible_delete, "# Deletes\n\nDeleted notes go to a Recently deleted folder for 30 days before they are "
                          "removed everywhere.\n", 0),
    # a batch written only when full, while a requirement promises seconds
    (size_only_flush, "# Requirements\n\nA change is visible in search within 30 seconds.\n\n# Indexer\n\n"
                      "The batch is written when it holds 10,000 changes.\n", 1),
    (size_only_flush, "# Requirements\n\nA change is visible in search within 30 seconds.\n\n# Indexer\n\n"
                      "The batch is written when it holds 10,000 changes or after 5 seconds, whichever comes "
                      "first.\n", 0),
    (size_only_flush, "# Indexer\n\nThe batch is written when it holds 10,000 changes.\n", 0),  # nothing promised
    # a reward credited when the order is placed, orders can be returned, nothing takes it back
    (reward_before_final, "# Earning\n\nPoints are credited as soon as the order is placed.\n\n# Returns\n\n"
                          "Orders can be returned within 30 days after delivery.\n", 1),
    (reward_before_final, "# Earning\n\nPoints are credited as soon as the order is placed.\n\n# Returns\n\n"
                          "Orders can be returned within 30 days; the points of a returned order are reversed.\n", 0),
    (reward_before_final, "# Earning\n\nPoints are credited as soon as the order is placed.\n", 0),  # no undo
    # rows of one table are different things ('Free | 0 EUR', 'Team | 7 EUR'); the same row key twice is one thing
    (conflicting_values, "# Plans\n\n| Plan | Price per seat | Storage |\n|---|---|---|\n| Free | 0 EUR | 2 GB |\n"
                         "| Team | 7 EUR | 100 GB |\n", 0),
    (conflicting_values, "# Plans\n\n| Plan | Price per seat |\n|---|---|\n| Team | 7 EUR |\n\n# Billing\n\n"
                         "| Plan | Price per seat |\n|---|---|\n| Team | 9 EUR |\n", 1),
    # a cadence in words against a freshness promise about the same thing
    (cadence_contradictions, "# Requirements\n\nA scan is visible in the API within 1 minute.\n\n# Sources\n\n"
                             "Carriers upload their scans once an hour.\n", 1),
    (cadence_contradictions, "# Requirements\n\nA scan is visible in the API within 1 minute.\n\n# Reports\n\n"
                             "Finance exports the invoices nightly.\n", 0),  # nothing shared
    (cadence_contradictions, "# Requirements\n\nThe p95 latency of a scan lookup is within 150 ms.\n\n# Sources\n\n"
                             "Carriers upload their scans hourly.\n", 0),  # a response time, not a freshness
    (cadence_contradictions, "# Requirements\n\nA scan is visible in the API within 2 hours.\n\n# Sources\n\n"
                             "Carriers upload their scans once an hour.\n", 0),  # the cadence fits
    # a page anyone can open whose ids count up
    (security_exposure, "# Endpoints\n\nThe tracking page needs no login.\nShipment ids are assigned from one "
                        "sequence.\n", 1),
    (security_exposure, "# Summary\n\nThe API is public read: any partner with an API key can read its own "
                        "shipments.\n", 0),  # public, but keyed
    (security_exposure, "# Summary\n\nThe bucket is public read.\n", 1),
    # calls to every receiver one after another in the work's path
    (serial_calls, "# Notifications\n\nWhen the importer stores a scan, it calls every callback of the partner, one "
                   "after another.\n", 1),
    (serial_calls, "# Notifications\n\nThe importer puts each scan on a queue; workers call every callback, one "
                   "after another.\n", 0),
    (serial_calls, "# Import\n\nSmaller carriers post scans one at a time.\n", 0),
    # N items of S each against the memory that holds them
    (capacity_shortfall, "# Design\n\nA session is a hash of about 4 KB.\nThe instance has 4 GB of memory.\n\n"
                         "# Capacity\n\nAt peak we have about 2 million sessions.\n", 1),
    (capacity_shortfall, "# Design\n\nA session is a hash of about 4 KB.\nThe instance has 16 GB of memory.\n\n"
                         "# Capacity\n\nAt peak we have about 2 million sessions.\n", 0),  # 8 GB fits
    (capacity_shortfall, "# Design\n\nAn upload is at most 4 MB.\nThe instance has 4 GB of memory.\n\n"
                         "# Capacity\n\nAt peak we have about 2 million sessions.\n", 0),  # not one session's size
    # a store with no credential
    (unauthenticated_store, "# Access\n\nThe cache is on the private network, so it needs no password and no "
                            "TLS.\n", 1),
    (unauthenticated_store, "# Access\n\nThe cache requires a password per service and TLS.\n", 0),
    # the old store of record dropped at the switch, with no way back
    (no_way_back, "# Migration\n\nAll services switch at 22:00. The old session tables are dropped at 23:00.\n", 1),
    (no_way_back, "# Migration\n\nThe old session tables are dropped a week later; until then we can roll back.\n", 0),
    (no_way_back, "# Rebuild\n\nThe old index is deleted after the switch.\n", 0),  # derived data, no migration
    # a recovery point of zero over asynchronous replication; a DNS TTL longer than the recovery time
    (recovery_contradictions, "# Goals\n\nRPO: zero.\n\n# Design\n\nReplication to the standby is "
                              "asynchronous.\n", 1),
    (recovery_contradictions, "# Goals\n\nRPO: zero.\n\n# Design\n\nWrites commit with synchronous replication "
                              "to the standby.\n", 0),
    (recovery_contradictions, "# Goals\n\nRTO: 5 minutes.\n\n# Failover\n\nThe DNS record has a TTL of one "
                              "hour.\n", 1),
    (recovery_contradictions, "# Goals\n\nRTO: 5 minutes.\n\n# Failover\n\nThe DNS record has a TTL of 60 "
                              "seconds.\n", 0),
    # the failover trigger runs where the failure is
    (trigger_in_failing_region, "# Failover\n\nA health checker runs in the primary region and promotes the "
                                "standby.\n", 1),
    (trigger_in_failing_region, "# Failover\n\nA health checker runs in a third region and promotes the "
                                "standby.\n", 0),
    (trigger_in_failing_region, "# Ops\n\nThe monitoring runs in the same cluster as the API.\n", 0),  # no failover
    # a small count bounded in one place and exceeded in another
    (count_beyond_limit, "# Requirements\n\nA buyer can keep up to 20 saved searches.\n\n# Power users\n\n"
                         "A buyer with more than 50 saved searches gets a digest.\n", 1),
    (count_beyond_limit, "# Requirements\n\nA buyer can keep up to 20 saved searches.\n\n# Power users\n\n"
                         "A buyer with more than 50 listings gets a digest.\n", 0),  # another thing
    (count_beyond_limit, "# Requirements\n\nA buyer can keep up to 20 saved searches.\n\n# Power users\n\n"
                         "A buyer with more than 10 saved searches gets a digest.\n", 0),  # within the limit
    # a product's alerts that must 'feel timely' are no monitoring alert
    (untestable_requirements, "# Requirements\n\nAlerts must feel timely and relevant to the buyer.\n", 1),
    # a person's location exported
    (sensitive_data, "# Export\n\nSaved searches with the buyer's id and location are exported to partners.\n", 1),
    (sensitive_data, "# Storage\n\nThe file's location is stored in the index.\n", 0),
    # one side of a sync always wins
    (one_side_wins, "# Sync\n\nWhen a note was edited on both sides, the back office copy always wins and the phone "
                    "copy is replaced.\n", 1),
    (one_side_wins, "# Sync\n\nThe server copy always wins; the phone's version is kept as a conflicted copy.\n", 0),
    # offline longer than a credential that renews only online
    (offline_outlives_credential, "# Goals\n\nThe app works offline for up to 30 days.\n\n# Sessions\n\nThe "
                                  "access token lasts 24 hours and is renewed with an endpoint that needs a "
                                  "connection.\n", 1),
    (offline_outlives_credential, "# Goals\n\nThe app works offline for up to 30 days.\n\n# Sessions\n\nThe "
                                  "access token lasts 60 days and is renewed with an endpoint that needs a "
                                  "connection.\n", 0),
    (offline_outlives_credential, "# Goals\n\nThe app works offline for up to 30 days.\n\n# Sessions\n\nThe "
                                  "access token lasts 24 hours and is renewed on the device.\n", 0),
    # anyone inside may change production
    (anyone_changes_production, "# Admin\n\nAny employee who signs in with SSO can change flags in production, so "
                                "that no one waits for an approver.\n", 1),
    (anyone_changes_production, "# Admin\n\nAny employee with the flag-admin role can change flags in production; "
                                "every change is kept in the audit log.\n", 0),
    # a user context kept as sent
    (sensitive_data, "# Log\n\nEvery evaluation is written to a table with the user context as sent.\n", 1),
    # a check that passes everything when it cannot run
    (fail_open, "# Flow\n\nWhen the vendor's API returns an error, the image is published.\n", 1),
    (fail_open, "# Flow\n\nWhen the vendor's API returns an error, the image stays pending and is retried.\n", 0),
    # waiting for a dependency slower than the promise
    (waits_beyond_budget, "# Requirements\n\nA decision within 2 seconds of the upload.\n\n# Flow\n\nThe service "
                          "calls the vendor and waits for the answer.\nThe vendor's p95 response time is 4 "
                          "seconds.\n", 1),
    (waits_beyond_budget, "# Requirements\n\nA decision within 2 seconds of the upload.\n\n# Flow\n\nThe service "
                          "queues the image for the vendor.\nThe vendor's p95 response time is 4 seconds.\n", 0),
    (waits_beyond_budget, "# Requirements\n\nA decision within 5 seconds of the upload.\n\n# Flow\n\nThe service "
                          "calls the vendor and waits for the answer.\nThe vendor's p95 response time is 4 "
                          "seconds.\n", 0),
    # many pollers at a short interval
    (polling_load, "# Design\n\nEach of the 200 worker processes polls the table every 100 ms.\n", 1),
    (polling_load, "# Design\n\nEach of the 4 worker processes polls the table every 5 seconds.\n", 0),
    # work removed from the queue before it runs
    (done_before_work, "# Design\n\nA worker deletes the job row as soon as it has claimed it, then runs it.\n", 1),
    (done_before_work, "# Deletes\n\nA delete event is sent as soon as it is received.\n", 0),
    # everything kept, said in the passive
    (unbounded_growth, "# Storage\n\nAll uploaded images are kept in the originals bucket.\n", 1),
    # a cadence of a quarter against a promise of a month
    (cadence_contradictions, "# Requirements\n\nWe send the export within one month of the request.\n\n# Job\n\n"
                             "The export job runs once a quarter.\n", 1),
    # a link that is the credential
    (security_exposure, "# Delivery\n\nThe link works without signing in for 30 days.\n", 1),
    # a cache keyed by the URL in front of per-caller answers
    (cache_key_without_caller, "# Design\n\nThe cache key is the request path and query string.\nAuthenticated "
                               "partner calls go through the same cache.\n", 1),
    (cache_key_without_caller, "# Design\n\nThe cache key is the request path and query string.\nAuthenticated "
                               "partner calls go through the same cache; the partner id is part of the key.\n", 0),
    (cache_key_without_caller, "# Design\n\nThe cache key is the request path and query string.\nOnly anonymous "
                               "requests are cached.\n", 0),
    # a cache kept longer than the freshness promised
    (cache_outlives_freshness, "# Requirements\n\nA price change is visible within 1 minute.\n\n# Design\n\n"
                               "Cache entries expire 10 minutes after they were stored.\n", 1),
    (cache_outlives_freshness, "# Requirements\n\nA price change is visible within 1 minute.\n\n# Design\n\n"
                               "Cache entries expire 10 minutes after they were stored and are invalidated on every "
                               "change.\n", 0),
    # every request for an expired entry reaching the source
    (cache_stampede, "# Design\n\nWhen a popular entry expires, every request for it is forwarded to the service.\n",
     1),
    (cache_stampede, "# Design\n\nWhen a popular entry expires, every request for it is forwarded to the service.\n"
                     "Concurrent misses are coalesced into one request per key.\n", 0),
    # the way back, or the synchronous copy, said in a sentence of its own
    (no_way_back, "# Migration\n\nAll services switch at 22:00. The old session tables are dropped at 23:00.\n"
                  "We can switch back to the previous version within a week.\n", 0),
    (recovery_contradictions, "# Goals\n\nRPO: zero.\n\n# Design\n\nReplication to the standby is asynchronous "
                              "for reads.\n\n# Writes\n\nOrders commit with synchronous replication.\n", 0),
    # near misses from a second read of the rules (each was a false hit or a missed guard)
    (count_beyond_limit, "# Retries\n\nA client may retry up to 3 times per request.\n\n# Load\n\nThe API serves more "
                         "than 500 requests per second.\n", 0),
    (count_beyond_limit, "# Keys\n\nEach account can create up to 10 API keys.\n\n# Today\n\nMore than 400 API keys "
                         "are in use.\n", 0),
    (cadence_contradictions, "# Invoices\n\nA new invoice is visible to the user within 1 minute.\n\n# Plans\n\n"
                             "Users on the monthly plan get one invoice a month.\n", 0),
    (cache_outlives_freshness, "# Search\n\nA new listing is visible in search within 2 minutes.\n\n# Sessions\n\n"
                               "Session entries in the cache expire after 30 minutes.\n", 0),
    (waits_beyond_budget, "# Requirements\n\nA page is returned within 300 ms.\n\n# Vendor\n\nThe vendor's p95 "
                          "latency is 2 seconds, so there are no synchronous calls to the vendor.\n", 0),
    (recovery_contradictions, "# Goals\n\nZero data loss: every order is written to two replicas before it is "
                              "acknowledged.\n\n# CDN\n\nThumbnails are copied to the CDN asynchronously.\n", 0),
    (recovery_contradictions, "# Goals\n\nThe RTO is 1 hour and the RPO is 5 minutes.\n\n# DNS\n\nThe DNS record "
                              "has a TTL of 10 minutes.\n", 0),
    (recovery_contradictions, "# Goals\n\nRTO: 5 minutes.\n\n# DNS\n\nThe DNS record for api.example.com has a "
                              "TTL of one hour.\n", 1),
    (fail_open, "# Fraud\n\nIf the fraud vendor's API fails, the order is not accepted.\n", 0),
    (fail_open, "# Scan\n\nIf the scanner times out, the file is treated as clean.\n", 1),
    (unauthenticated_store, "# Access\n\nThe database rejects every connection without a password or TLS.\n", 0),
    (unauthenticated_store, "# Access\n\nThe Redis cache listens on the internal network without TLS.\n", 1),
    (anyone_changes_production, "# Metrics\n\nAny developer can read production metrics in Grafana.\n", 0),
    (security_exposure, "# Marketing\n\nThe marketing pages are publicly accessible without login.\n\n# Tax\n\n"
                        "Invoice numbers are sequential, as tax law requires.\n", 1),  # open, but not counted
    (cache_key_without_caller, "# Design\n\nThe cache key is the request path.\nAuthenticated partner calls bypass "
                               "the cache.\n", 0),
    (trigger_in_failing_region, "# Failover\n\nHealth checks run in the primary region and in two other regions; a "
                                "failover needs two of the three to agree.\n", 0),
    (serial_calls, "# Release\n\nThe deploy tool sends each region the new version one after another.\n", 0),
    (cache_stampede, "# Sessions\n\nWhen the session expires, every request goes to the sign-in page.\n", 0),
    (no_way_back, "# Launch plan\n\nOld log records are deleted after 30 days.\n", 0),
    (one_side_wins, "# Sync\n\nThe server copy wins and the phone's edit is saved as a conflicting copy.\n", 0),
    (capacity_shortfall, "# Design\n\nA session is about 4 KB.\nThe instance has 4 GB of memory.\n\n# Load\n\n"
                         "We see about 2 million sessions per day.\n", 0),
    (sensitive_data, "# Accounts\n\nUser profiles are stored in the accounts database.\n", 0),
    # a credential in a URL: inline, in a sentence, or a row of a query-parameter table
    (credential_in_url, "# API\n\nCall `GET /v1/report?api_key=KEY&day=1`.\n", 1),
    (credential_in_url, "# API\n\nThe client sends its access token in the query string.\n", 1),
    (credential_in_url, "# API\n\nThe access token is never sent in the query string, only in a header.\n", 0),
    (credential_in_url, "# API\n\nThe order id is a path parameter; the caller's access token goes in the "
                        "Authorization header as usual.\n", 0),  # far apart: two statements
    (credential_in_url, "# API\n\nDownloads use pre-signed URLs that carry an expiring token in the query "
                        "string.\n", 0),
    (credential_in_url, "# API\n\nFlags are read with `GET /flags?key=checkout_v2`.\n", 0),  # a key, no credential
    (credential_in_url, "# POST /v1/imports\n\nQuery parameters:\n\n| parameter | meaning |\n|---|---|\n"
                        "| `api_key` | the account's API key |\n| `mode` | create or upsert |\n", 1),
    (credential_in_url, "# POST /v1/imports\n\nQuery parameters:\n\n| parameter | meaning |\n|---|---|\n"
                        "| `mode` | create or upsert |\n\n# Auth\n\n| header | meaning |\n|---|---|\n"
                        "| `Authorization` | the API key |\n", 0),  # the key is in a header table elsewhere
    (credential_in_url, "# GET /v1/items\n\nQuery parameters:\n\n| parameter | meaning |\n|---|---|\n"
                        "| `page_token` | the next page token from the last response |\n", 0),  # a listing position
    # a reward for an action anyone can repeat for free, with nothing guarding it
    (reward_for_free_action, "# How\n\nWhen the friend's account is created, the referrer receives 15 EUR of "
                             "credit.\n", 1),
    (reward_for_free_action, "# How\n\nWhen the friend's account is created, the referrer receives 15 EUR of "
                             "credit.\n\n# Fraud\n\nCredit is paid after the friend's first payment.\n", 0),
    (reward_for_free_action, "# How\n\nThe referrer receives 15 EUR of credit per order.\n", 0),
    (reward_for_free_action, "# How\n\nWhen the friend's account is created, the referrer receives 15 EUR of "
                             "credit.\n\n# Webhooks\n\nDeliveries are verified with an HMAC signature.\n", 1),
    (reward_for_free_action, "# How\n\nWhen the friend's account is created, the referrer receives 15 EUR of "
                             "credit.\n\n# Risk\n\nSelf-referrals are blocked by matching card fingerprints.\n", 0),
    (reward_for_free_action, "# Trial\n\nA 14-day free trial starts when the account is created.\n", 0),
    (reward_for_free_action, "# How\n\nWhen an account is created, the credit card is checked with a 1 EUR "
                             "authorisation.\n", 0),  # a credit card is no reward
    # a number in a 'Why' section is the situation today, not a value of the design that a target contradicts
    (limit_contradictions, "# Why\n\nRetention is 41 % for customers who joined alone.\n\n# Measurement\n\n"
                           "Retention of referred customers is at least 50 %.\n", 0),
    (limit_contradictions, "# Goals\n\nRetention is 41 % for customers who joined alone.\n\n# Measurement\n\n"
                           "Retention of referred customers is at least 50 %.\n", 1),
    (limit_contradictions, "# Why Postgres\n\nRetention is 41 % for customers who joined alone.\n\n# Measurement\n\n"
                           "Retention of referred customers is at least 50 %.\n", 1),  # a decision's own section
    # two volumes of one thing: what the largest accounts need against the file limit
    (conflicting_values, "# Summary\n\nThe largest accounts have up to 400,000 contacts and want to import them in "
                         "one file.\n\n# Limits\n\nFiles up to 25 MB, which is about 100,000 contacts.\n", 1),
    (conflicting_values, "# Summary\n\nThe largest accounts have up to 400,000 contacts and want to import them in "
                         "one file.\n\n# Limits\n\nFiles up to 25 MB, which is about 100,000 rows.\n", 0),
    # one person's personal data shown to another
    (sensitive_data, "# R\n\nA referrer sees each friend's name and e-mail address.\n", 1),
    (sensitive_data, "# R\n\nA customer sees their own e-mail address on the profile page.\n", 0),
    (sensitive_data, "# R\n\nThe support agent sees the customer's e-mail address.\n", 0),  # staff, not a peer
    (sensitive_data, "# R\n\nThe leaderboard shows other players' e-mail addresses.\n", 1),
    (sensitive_data, "# R\n\nA member never sees another member's e-mail address.\n", 0),
    (sensitive_data, "# CRM\n\nThe contacts page lists each contact's e-mail address.\n", 0),  # the user's own data
]


def test_a_convenience_reason_points_back_to_the_choice() -> None:
    text = "# Storage\n\nEvents go to a new table in the main database.\nThis keeps the code simple.\n"
    claims = claims_of(text)
    assert [(c.line, c.kind) for c in claims] == [(3, "decision"), (4, "decision")]
    [hit] = [h for h in cross_check(claims) if h.rule == "decision-without-alternative"]
    assert hit.strength == "certain" and hit.lines == [3, 4] and hit.evidence.startswith("Events go to")
    assert "'keeps the code simple'" in hit.title


def test_a_choice_another_rule_faults_gets_no_convenience_finding() -> None:
    text = "# Storage\n\nTo keep the CDN simple, the bucket is public-read.\n"
    assert [h.rule for h in cross_check(claims_of(text))] == ["security-exposure"]


def test_a_named_vendor_hit_sits_on_the_sentence_not_the_table() -> None:
    text = ("# Why\n\nLedgerPro, our billing vendor since 2019, raises its price.\n\n# What moves\n\n"
            "| data | source |\n|---|---|\n| customers | LedgerPro export |\n\n# Approach\n\n"
            "LedgerPro produces a full export every night.\n")
    [hit] = dependency_without_failure(claims_of(text))
    assert hit.title == "No failure behaviour for the vendor LedgerPro ('Approach')" and hit.lines == [13]


@pytest.mark.parametrize(("other", "strength"), [
    ("Events larger than 256 KB are delivered with `data` truncated.", "certain"),  # plans for values over the limit
    ("A delivery of 256 KB is logged with its `data`.", "candidate"),  # one shared word, a plain value
])
def test_a_value_planned_beyond_a_limit_is_certain(other: str, strength: str) -> None:
    text = f"# Payload\n\nThe body is at most 64 KB; `data` always carries the resource.\n\n# Delivery\n\n{other}\n"
    [hit] = [h for h in cross_check(claims_of(text)) if h.rule == "limit-contradiction"]
    assert hit.strength == strength and hit.lines == [3, 7]


@pytest.mark.parametrize("text", ["# Requirements\n\nUsers should feel free to contact support.\n",
                                  "# Requirements\n\nThe service must emit the relevant audit events listed in "
                                  "Appendix B.\n"])
def test_no_vague_word_in_a_plain_or_referenced_requirement(text: str) -> None:
    # 'feel free' is no vague promise, and 'relevant ... listed in Appendix B' says which: at most the rule's
    # candidate (no number near it), never a certain 'cannot be tested'
    assert all(h.strength == "candidate" for h in untestable_requirements(claims_of(text)))


@pytest.mark.parametrize(("rule", "text", "hits"), CASES)
def test_rules(rule, text: str, hits: int) -> None:  # type: ignore[no-untyped-def]
    assert len(rule(claims_of(text))) == hits


def test_cross_check_over_a_whole_document() -> None:
    hits = [(h.rule, h.strength, h.lines) for h in cross_check(claims_of(MD))]
    assert hits == [
        ("limit-contradiction", "candidate", [5, 10]),  # p99 < 200 ms vs a 2 s timeout: left to the model
        ("limit-contradiction", "candidate", [15, 26]),  # at most 5 retries (table) vs retry 10 times
        ("dependency-without-failure", "certain", [20]),  # the diagram's card gateway; the provider has a timeout
        ("unbounded-growth", "certain", [25]),
        ("untestable-requirement", "certain", [6]),  # 'fast'
    ]


def test_pair_rules_stay_bounded_on_a_huge_document() -> None:
    text = "".join(f"Service {i} must answer in {i % 7 + 1} seconds and keep all logs of client{i % 13}.\n"
                   for i in range(600))
    hits = cross_check(extract_claims(doc(text)))
    per_rule = {h.rule: sum(x.rule == h.rule for x in hits) for h in hits}
    assert per_rule and max(per_rule.values()) <= MAX_HITS_PER_RULE


def test_claim_checks_support_a_finding_at_the_hit() -> None:
    claims = claims_of("# A\n\nClients retry at most 5 times.\n\n# B\n\nOn error, clients retry 10 times.\n")
    at = Subject(id="F-001", title="retries", file="design.md", line_start=7, line_end=7)
    checks = claim_checks(claims, at)
    assert [c.kind for c in checks] == ["claims"]
    assert checks[0].data["rule"] == "limit-contradiction" and checks[0].data["claims"] == ["CL-001", "CL-002"]
    away = Subject(id="F-002", title="x", file="other.md", line_start=7, line_end=7)
    assert claim_checks(claims, away) == []
    plain = claims_of("# A\n\nThe job must finish within 10 minutes.\n")
    checks = claim_checks(plain, Subject(id="F-3", title="x", file="design.md", line_start=3, line_end=3))
    assert [(c.outcome, c.data) for c in checks] == [("inconclusive", {"claims": ["CL-001"]})]


def test_claim_checks_support_by_claim_not_by_nearness() -> None:
    """Two certain hits a line apart: each supports the finding that makes its claim, not its neighbour's."""
    claims = claims_of("# Search\n\nThe search page shall be fast.\nThe service keeps all query logs forever.\n")
    growth, vague = sorted(cross_check(claims), key=lambda h: h.rule)
    assert (growth.rule, vague.rule) == ("unbounded-growth", "untestable-requirement")

    def support(title: str, fix: str = "", line: int = 3) -> list[str]:
        s = Subject(id="F-1", title=title, file="design.md", line_start=line, line_end=line, fix=fix)
        return [c.data["rule"] for c in claim_checks(claims, s) if c.outcome == "supports"]

    assert support(vague.title) == ["untestable-requirement"]  # the checker's own finding: its hit only
    assert support(growth.title, line=4) == ["unbounded-growth"]
    assert support("Query logs grow without limit", "Set a retention for the query logs.") == ["unbounded-growth"]
    assert support("Unclear ownership of the page", "Name an owner.") == []  # another claim: listed, inconclusive
    listed = claim_checks(claims, Subject(id="F-2", title="Unclear ownership of the page", file="design.md",
                                          line_start=3, line_end=3))
    assert {c.outcome for c in listed} == {"inconclusive"} and all("another claim" in c.detail for c in listed)


def test_a_finding_sharing_only_the_section_name_does_not_make_the_hits_claim() -> None:
    """A live run: "Missing payment flow section" shared 'payment' and 'flow' with the retry hit's title only
    because the title names its section ('Payment flow'); it took the hit's support and the hit went unraised."""
    claims = claims_of("# Payment flow\n\nIf the order call fails after the authorisation, the customer can try "
                       "again.\n")
    [hit] = [h for h in cross_check(claims) if h.rule == "unsafe-retry"]
    assert "('Payment flow')" in hit.title

    def support(title: str, fix: str) -> list[str]:
        s = Subject(id="F-1", title=title, file="design.md", line_start=3, line_end=3, fix=fix)
        return [c.data["rule"] for c in claim_checks(claims, s) if c.outcome == "supports"]

    assert support("Missing payment flow section", "Add a section on the payment flow.") == []
    assert support("Double authorisation on retry", "Send an idempotency key.") == ["unsafe-retry"]


@pytest.mark.parametrize(("title", "fix", "dropped"), [
    ("Add more detail", "Add more detail to section 3.", True),
    ("Missing documentation for the API", "Document the endpoints.", True),
    ("Needs more tests", "Write unit tests.", True),
    ("Lack of detail on retries", "Describe the retry policy.", True),
    ("Missing timeout on provider calls", "Add a 2 s timeout.", False),
    ("No rate limit on login", "Limit to 5 attempts a minute.", False),
    ("Add detail: retries contradict the limit", "Pick one value.", False),
    ("More detail needed", "Say what happens when the queue is down, since messages are lost.", False),
])
def test_wish_only(title: str, fix: str, dropped: bool) -> None:
    assert wish_only(title, fix) is dropped
    assert is_wish("Please add more examples") and not is_wish("Tokens never expire")


def test_extract_from_a_pdf(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from engine.target.ingest import ingest
    from tests.test_target_ingest import make_pdf

    pdf = tmp_path / "spec.pdf"
    make_pdf(pdf, [["1 Limits", "Uploads must be at most 5 MB."], ["2 Storage", "We keep every upload forever."]])
    f = ingest(pdf).files[0]
    claims = extract_claims(f)
    assert [(c.kind, c.section, c.text) for c in claims] == [
        ("limit", "Limits", "Uploads must be at most 5 MB."), ("statement", "Storage", "We keep every upload forever.")]
    assert [h.rule for h in cross_check(claims)] == ["unbounded-growth"]


def test_a_pair_another_rule_is_certain_about_is_not_shortlisted_again() -> None:
    """The cadence rule is certain about "within 1 second" against "every 5 minutes"; the limit rule would also
    shortlist the same two sentences for a model call, and the report would list the flaw twice."""
    doc = ("# Requirements\n\nA notification is delivered to the customer within 1 second of the change.\n\n"
           "# Design\n\nThe notifier collects notification events and sends them in one batch every 5 minutes.\n")
    hits = [h for h in cross_check(claims_of(doc)) if len(h.claims) == 2]
    assert [(h.rule, h.strength) for h in hits] == [("limit-contradiction", "certain")]
    assert "cadence" in hits[0].title


@pytest.mark.parametrize(("doc", "pairs"), [
    # the situation today, in a problem section, is not a design value a limit can contradict
    ("# Problem\n\n58 % of users on a phone said sync was slow.\n\n# Requirements\n\n"
     "Background sync on a phone must use less than 1 % of battery per day.\n", 0),
    # a project plan's calendar time is not a duration of the system
    ("# Requirements\n\nEvery report arrives within 2 hours of its schedule.\n\n# Rollout\n\n"
     "The reports run behind a flag for three weeks before everyone gets them.\n", 0),
    # ... but a plan's rate is the system's: 60 per minute against 20 per second is still compared
    ("# Limits\n\nEach client may send at most 60 requests per minute.\n\n# Rollout\n\n"
     "In the first phase each client may send 20 requests per second.\n", 1),
    ("# Requirements\n\nEvery report arrives within 2 hours of its schedule.\n\n# Design\n\n"
     "A report can wait in the queue for 3 hours when the workers are busy.\n", 1),
])
def test_pair_rules_compare_only_the_designs_own_numbers(doc: str, pairs: int) -> None:
    assert len([h for h in cross_check(claims_of(doc)) if len(h.claims) == 2]) == pairs


def test_a_convenience_reason_skips_a_models_paraphrase_and_is_raised_once() -> None:
    text = "# Storage\n\nEvents go to a new table in the main database.\nThis keeps the code simple.\n"
    rule = claims_of(text)
    said = rule[0].model_copy(update={"id": "CL-009", "source": "model", "line": 4,
                                      "text": "Storing events in the main database keeps the code simple."})
    claims = [rule[0], said, rule[1]]
    [hit] = convenience_decision(claims)
    assert hit.evidence == "Events go to a new table in the main database." and hit.lines == [3, 4]
