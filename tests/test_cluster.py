"""Compile logic without a model: clustering, status, ordering."""

from __future__ import annotations

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
from engine.stages.cluster import attach_debate, build_members, cluster
from engine.stages.compile import to_findings


def issue(rid: str, n: int, file: str, a: int, b: int, sev: str = "high", quote: str = "x = eval(data)  # here",
          status: str = "verified") -> Issue:
    return Issue(id=f"{rid}#{n}", title=f"t{rid}{n}", file=file, line_start=a, line_end=b, evidence=quote,
                 severity=sev, fix="fix", evidence_status=status)  # type: ignore[arg-type]


def review(persona: str, *issues: Issue) -> Review:
    return Review(id=f"R-{persona}", persona=persona, model="fake", abstract="a", issues=list(issues))


def test_same_place_across_personas_clusters_but_not_within_one() -> None:
    reviews = [
        review("a", issue("R-a", 1, "src/x.py", 10, 12), issue("R-a", 2, "src/x.py", 11, 11, quote="other line here")),
        review("b", issue("R-b", 1, "x.py", 14, 15, quote="different quote text")),
        review("c", issue("R-c", 1, "src/y.py", 10, 12, quote="unrelated quote text")),
    ]
    groups = cluster(build_members(reviews, None))
    sizes = sorted(sorted(m.issue.id for m in g.members) for g in groups)
    assert ["R-c#1"] in sizes
    assert any("R-b#1" in g and ("R-a#1" in g or "R-a#2" in g) for g in sizes)


def test_same_quote_elsewhere_clusters() -> None:
    reviews = [review("a", issue("R-a", 1, "a.py", 1, 1)), review("b", issue("R-b", 1, "b.py", 90, 90))]
    assert len(cluster(build_members(reviews, None))) == 1


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
    two = [review("a", issue("R-a", 1, "a.py", 1, 1)), review("b", issue("R-b", 1, "a.py", 2, 2))]
    assert status(two, [], []) == "consensus"


def test_adopted_points_count_as_raisers() -> None:
    reviews = [review("a", issue("R-a", 1, "a.py", 1, 1))]
    (c,) = cluster(build_members(reviews, [keep("a", "R-a#1"), keep("b", "R-a#1", adopted=True)]))
    assert c.personas == ["a", "b"]


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
