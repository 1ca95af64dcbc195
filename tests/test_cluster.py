"""Compile logic without a model: clustering, status, ordering."""

from __future__ import annotations

import pytest

from engine.models import (
    FindingItem,
    Issue,
    PersonaFindings,
    Rebuttal,
    RebuttalPoint,
    Response,
    ResponsePoint,
    Review,
    Scores,
)
from engine.stages.claims_match import claim_similarity, verdict
from engine.stages.cluster import Cluster, Member, attach_debate, build_members, cluster, pair_key, unsure_pairs
from engine.stages.compile import to_findings


def issue(rid: str, n: int, file: str, a: int, b: int, sev: str = "high", quote: str = "x = eval(data)  # here",
          status: str = "verified", title: str = "", fix: str = "fix") -> Issue:
    return Issue(id=f"{rid}#{n}", title=title or f"t{rid}{n}", file=file, line_start=a, line_end=b, evidence=quote,
                 severity=sev, fix=fix, evidence_status=status)  # type: ignore[arg-type]


def review(persona: str, *issues: Issue) -> Review:
    return Review(id=f"R-{persona}", persona=persona, model="fake", abstract="a", issues=list(issues))


def groups_of(reviews: list[Review]) -> list[list[str]]:
    return sorted(sorted(m.issue.id for m in g.members) for g in cluster(build_members(reviews, None)))


SQL = ("SQL injection in the lookup query", "Use a parameterised query instead of an f-string.")
SQL2 = ("Query built by string formatting", "Pass the name as a parameter to execute() so it cannot inject SQL.")
SAVE = ("Save is not atomic", "Write to a temp file and rename it, so a crash cannot leave a partial file.")
LOAD = ("Inventory never initialised when the file is missing", "Initialise self.items to an empty dict first.")
QTY = ("Quantity validation accepts negative numbers", "Reject a negative quantity with a ValueError.")


def test_same_claim_same_place_merges_across_personas_but_not_within_one() -> None:
    reviews = [
        review("a", issue("R-a", 1, "src/x.py", 10, 12, title=SQL[0], fix=SQL[1]),
               issue("R-a", 2, "src/x.py", 11, 11, quote="other line here", title=SQL2[0], fix=SQL2[1])),
        review("b", issue("R-b", 1, "x.py", 13, 13, quote="different quote text", title=SQL2[0], fix=SQL2[1])),
        review("c", issue("R-c", 1, "src/y.py", 10, 12, quote="unrelated quote text", title=SQL[0], fix=SQL[1])),
    ]
    groups = groups_of(reviews)
    assert ["R-c#1"] in groups, "another file is another place"
    assert not any("R-a#1" in g and "R-a#2" in g for g in groups), "one reviewer's issues never merge"
    assert any("R-b#1" in g and ("R-a#1" in g or "R-a#2" in g) for g in groups)


def test_no_chaining_by_nearby_lines() -> None:
    """The new-user case: 13-15, 14-15 and 18-19 with three different claims stay three findings."""
    reviews = [review("a", issue("R-a", 1, "inv.py", 13, 15, quote="def load(self, path):", title=LOAD[0],
                                 fix=LOAD[1])),
               review("b", issue("R-b", 1, "inv.py", 14, 15, quote="with open(path) as fh:", title=QTY[0],
                                 fix=QTY[1])),
               review("c", issue("R-c", 1, "inv.py", 18, 19, quote="json.dump(self.items, fh)", title=SAVE[0],
                                 fix=SAVE[1]))]
    assert groups_of(reviews) == [["R-a#1"], ["R-b#1"], ["R-c#1"]]


def test_same_claim_at_12_13_and_14_merges() -> None:
    reviews = [review("a", issue("R-a", 1, "db.py", 12, 13, quote="sql = f'SELECT * FROM t WHERE n={n}'",
                                 title=SQL[0], fix=SQL[1])),
               review("b", issue("R-b", 1, "db.py", 14, 14, quote="cur.execute(sql)", title=SQL2[0], fix=SQL2[1]))]
    assert groups_of(reviews) == [["R-a#1", "R-b#1"]]


def test_different_claims_on_one_line_stay_apart_and_are_cross_linked() -> None:
    reviews = [review("a", issue("R-a", 1, "db.py", 20, 20, quote="conn = connect(); conn.execute(q)", title=SQL[0],
                                 fix=SQL[1])),
               review("b", issue("R-b", 1, "db.py", 20, 20, quote="conn = connect(); conn.execute(q)",
                                 title="Connection is never closed", fix="Close the connection in a finally block."))]
    clusters = cluster(build_members(reviews, None))
    assert len(clusters) == 2
    assert clusters[0].same_place == [1] and clusters[1].same_place == [0]


def test_complete_linkage_needs_every_pair_to_agree() -> None:
    """A~B and B~C make the same claim, A and C do not: A, B, C do not become one finding."""
    reviews = [review("a", issue("R-a", 1, "m.py", 5, 5, quote="q1 is long enough", title="SQL injection",
                                 fix="Use a parameterised query.")),
               review("b", issue("R-b", 1, "m.py", 5, 6, quote="q2 is long enough",
                                 title="SQL injection and the connection leaks",
                                 fix="Parameterise the query and close the connection.")),
               review("c", issue("R-c", 1, "m.py", 6, 6, quote="q3 is long enough", title="Connection leaks",
                                 fix="Close the connection."))]
    groups = groups_of(reviews)
    assert ["R-a#1", "R-b#1", "R-c#1"] not in groups
    assert sum(len(g) for g in groups) == 3


def test_unsure_pairs_are_decided_by_the_caller() -> None:
    reviews = [review("a", issue("R-a", 1, "m.py", 5, 5, quote="q1 is long enough", title="Loop stops early",
                                 fix="Iterate over every item.")),
               review("b", issue("R-b", 1, "m.py", 5, 5, quote="q2 is long enough", title="Questionable loop",
                                 fix="Iterate to the end."))]
    members = build_members(reviews, None)
    pairs = unsure_pairs(members)
    assert len(pairs) == 1
    assert len(cluster(members)) == 2, "unasked, an unsure pair stays apart (no claim is lost)"
    assert len(cluster(members, {pair_key(*pairs[0]): True})) == 1


def test_lead_is_the_best_supported_claim() -> None:
    reviews = [review("a", issue("R-a", 1, "db.py", 12, 13, sev="critical", quote="not in the file at all",
                                 status="not_found", title=SQL[0], fix=SQL[1])),
               review("b", issue("R-b", 1, "db.py", 12, 12, sev="medium", quote="cur.execute(sql)", title=SQL2[0],
                                 fix=SQL2[1]))]
    (c,) = cluster(build_members(reviews, None))
    assert c.lead.issue.id == "R-b#1", "verified evidence beats a higher severity with a quote not found"


def test_lead_names_the_flaw_rather_than_a_checklist_heading() -> None:
    members = build_members([
        review("a", issue("R-a", 1, "plan.md", 30, 31, sev="critical", title="Contradictions between sections")),
        review("claims-checker", issue("R-claims-checker", 1, "plan.md", 31, 31, sev="high",
                                       title="Batch flushed only when full vs within 30 seconds"))], None)
    c = Cluster(members=members)
    assert c.lead.issue.id == "R-claims-checker#1", "the specific title leads despite the lower severity"
    c = Cluster(members=members[:1] + [Member(**{**members[1].__dict__, "kept": False})])
    assert c.lead.issue.id == "R-a#1", "a claim that was not kept never leads"
    members = build_members([
        review("a", issue("R-a", 1, "api.md", 12, 12, sev="critical", title="Authentication section is unclear")),
        review("claims-checker", issue("R-claims-checker", 1, "api.md", 12, 12, sev="high",
                                       title="Credential sent in the URL: token as a query parameter"))], None)
    assert Cluster(members=members).lead.issue.id == "R-claims-checker#1", "the engine's check over the wording"


def test_same_quote_elsewhere_clusters() -> None:
    reviews = [review("a", issue("R-a", 1, "a.py", 1, 1, title=SQL[0], fix=SQL[1])),
               review("b", issue("R-b", 1, "b.py", 90, 90, title=SAVE[0], fix=SAVE[1]))]
    assert len(cluster(build_members(reviews, None))) == 2, "same quote, different claims: apart"
    reviews = [review("a", issue("R-a", 1, "a.py", 1, 1, title=SQL[0], fix=SQL[1])),
               review("b", issue("R-b", 1, "a.py", 90, 90, title=SQL2[0], fix=SQL2[1]))]
    assert len(cluster(build_members(reviews, None))) == 1, "same quote, same claim, wrong line number: merged"


@pytest.mark.parametrize(("a", "b", "expected"), [
    (SQL, SQL2, "same"),
    (SQL, SAVE, "different"),
    (LOAD, QTY, "different"),
    (("Race on the token count", "Take the lock in allow()."),
     ("allow() is not thread-safe", "Hold self.lock while reading and updating tokens."), "same"),
    (("Division by zero when the list is empty", "Return 0 for an empty list."),
     ("Average crashes on empty input", "Guard against dividing by zero."), "same"),
    (("Off-by-one: page 1 skips the first items", "Use (page - 1) * size."),
     ("pickle.load on an untrusted cache file", "Use json instead of pickle."), "different"),
])
def test_claim_verdicts(a: tuple[str, str], b: tuple[str, str], expected: str) -> None:
    assert verdict(claim_similarity("\n".join(a), "\n".join(b))) == expected


def response(pid: str, review_id: str, iid: str, stance: str, quote: str = "", quote_status: str | None = None
             ) -> Response:
    if stance == "disagree" and not quote:  # a disagreement backed by a counter-quote found in the target
        quote, quote_status = "return a / b", "verified"
    return Response(id=f"S-{review_id}--{pid}", persona=pid, review_id=review_id, model="fake", summary="s",
                    points=[ResponsePoint(issue_id=iid, stance=stance, reason="r", quote=quote,  # type: ignore[arg-type]
                                          quote_status=quote_status)])  # type: ignore[arg-type]


def rebuttal(pid: str, iid: str, stance: str) -> Rebuttal:
    return Rebuttal(id=f"B-{pid}", persona=pid, response_id="S", review_id="R", model="fake",
                    points=[RebuttalPoint(issue_id=iid, stance=stance, reason="r")])  # type: ignore[arg-type]


def status(reviews: list[Review], responses: list[Response], rebuttals: list[Rebuttal],
           findings: list[PersonaFindings] | None = None) -> str:
    (c,) = cluster(build_members(reviews, findings))
    attach_debate(c, responses, rebuttals)
    return c.status


def keep(persona: str, iid: str, adopted: bool = False) -> PersonaFindings:
    return PersonaFindings(id=f"FS-{persona}", persona=persona, model="fake", items=[
        FindingItem(id=f"FS-{persona}#1", source_issue=iid, adopted=adopted, title="t", severity="high", note="n")])


def test_status_rules() -> None:
    one = [review("a", issue("R-a", 1, "a.py", 1, 1))]
    assert status(one, [], []) == "unique", "raised once and never refuted: kept as unique"
    assert status(one, [response("b", "R-a", "R-a#1", "agree")], []) == "consensus"
    assert status(one, [response("b", "R-a", "R-a#1", "disagree")], [rebuttal("a", "R-a#1", "maintain")]) == \
        "contested"
    assert status(one, [response("b", "R-a", "R-a#1", "disagree")], [rebuttal("a", "R-a#1", "concede")],
                  findings=[]) == "refuted"
    two = [review("a", issue("R-a", 1, "a.py", 1, 1, title=SQL[0], fix=SQL[1])),
           review("b", issue("R-b", 1, "a.py", 2, 2, title=SQL2[0], fix=SQL2[1]))]
    assert status(two, [], []) == "consensus"


def test_an_adopter_is_shown_among_the_raisers_but_is_not_an_independent_one() -> None:
    reviews = [review("a", issue("R-a", 1, "a.py", 1, 1)), review("c", issue("R-c", 1, "a.py", 1, 1))]
    (one,) = cluster(build_members(reviews, [keep("a", "R-a#1"), keep("b", "R-a#1", adopted=True)]))
    assert one.personas == ["a", "b", "c"]  # the report shows who stands behind it
    assert one.authors == ["a", "c"]  # the truth feature `raisers` counts who raised it in their own review


def test_findings_sorted_by_truth_times_usefulness() -> None:
    reviews = [review("a", issue("R-a", 1, "a.py", 1, 1, sev="low", quote="q one is long"),
                      issue("R-a", 2, "a.py", 50, 50, sev="critical", quote="q two is long"))]
    groups = cluster(build_members(reviews, None))
    scores = [Scores(truth=0.9, truth_rationale="", usefulness=0.2, usefulness_rationale="", scored_by="j"),
              Scores(truth=0.8, truth_rationale="", usefulness=0.9, usefulness_rationale="", scored_by="j")]
    found = to_findings(groups, scores)
    assert [f.id for f in found] == ["F-001", "F-002"]
    assert found[0].severity == "critical" and found[0].rank > found[1].rank


def test_unsupported_disagreement_counts_for_nothing() -> None:
    one = [review("a", issue("R-a", 1, "a.py", 1, 1))]
    for quote, quote_status, counted in [("", None, False), ("not in the file at all", "not_found", False),
                                         ("return a / b", "moved", True), ("return a / b", "verified", True)]:
        (c,) = cluster(build_members(one, []))
        attach_debate(c, [response("b", "R-a", "R-a#1", "disagree", quote or " ", quote_status)], [])
        assert (c.disagree, c.unsupported) == ((1, 0) if counted else (0, 1)), quote_status
        assert c.status == ("refuted" if counted else "unique"), "only a found counter-quote can outvote"
        assert c.stances[0].counted is counted
        assert ("unsupported disagreement" in c.stances[0].note) is not counted


def test_unsure_pairs_are_asked_once_each_and_decide_the_clusters() -> None:
    """compile asks the judge about each unsure pair; its answer merges or separates them."""
    import asyncio
    from types import SimpleNamespace

    from engine.llm import fake_answers
    from engine.stages.claim_pairs import decide_unsure

    asked: list[str] = []

    async def structured(*, schema: type, user: str, subject: str, **_: object) -> object:
        asked.append(subject)
        return schema.model_validate(fake_answers.answer(schema.__name__, user))

    target = SimpleNamespace(view=lambda budget_tokens, focus: SimpleNamespace(text="=== FILE: m.py (lines 5-5) ==="))
    ctx = SimpleNamespace(nonce="n", settings=SimpleNamespace(judge_model="fake", strict=True),
                          gateway=SimpleNamespace(structured=structured), target=target)
    reviews = [review("a", issue("R-a", 1, "m.py", 5, 5, quote="q1 is long enough", title="Loop stops early",
                                 fix="Iterate over every item.")),
               review("b", issue("R-b", 1, "m.py", 5, 5, quote="q2 is long enough", title="Questionable early",
                                 fix="Iterate to the end."))]
    members = build_members(reviews, None)
    decided, notes = asyncio.run(decide_unsure(ctx, members))  # type: ignore[arg-type]
    assert len(asked) == 1 and not notes
    assert decided == {"R-a#1|R-b#1": True}, "the fake says same when the titles end alike"
    assert len(cluster(members, decided)) == 1
