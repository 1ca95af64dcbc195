"""Usefulness answers map to their findings even when a small model does not name them (seen on the embedded
model: "finding": "High" / "Contr" for every item, so every finding fell back to severity)."""

from engine.schemas import UsefulOut
from engine.stages.judge import USEFUL_SCORE, label_items


def item(finding: str, usefulness: str = "low", reason: str = "r") -> UsefulOut:
    return UsefulOut(finding=finding, reason=reason, usefulness=usefulness)


def test_named_labels_map_in_any_order_and_spelling() -> None:
    out, by_place = label_items([item("[F8]", "high"), item("f7: x", "none")], [6, 7])
    assert out == {7: (USEFUL_SCORE["high"], "r"), 6: (USEFUL_SCORE["none"], "r")}
    assert by_place == 0


def test_unnamed_items_map_by_order_when_one_per_finding() -> None:
    out, by_place = label_items([item("Contr", "high"), item("High", "low"), item("F3", "medium")], [0, 1, 2])
    assert {k: v[0] for k, v in out.items()} == {0: 0.75, 1: 0.25, 2: 0.5}
    assert by_place == 2


def test_order_never_overrides_a_named_finding() -> None:
    # the second item names F1, so the unnamed first item goes to the finding no item named (F2)
    out, by_place = label_items([item("High", "low"), item("F1", "critical")], [0, 1])
    assert out[0][0] == USEFUL_SCORE["critical"] and out[1][0] == USEFUL_SCORE["low"] and by_place == 1


def test_no_guessing_when_the_count_differs() -> None:
    out, by_place = label_items([item("High"), item("F2", "high")], [0, 1, 2])
    assert out == {1: (USEFUL_SCORE["high"], "r")} and by_place == 0


def test_a_label_outside_the_batch_or_repeated_is_not_used() -> None:
    out, by_place = label_items([item("F9", "high"), item("F1", "low"), item("F1", "high")], [0, 1, 2])
    # F9 is not in the batch and the second F1 repeats: with three items for three findings, both go by order
    assert out[0][0] == USEFUL_SCORE["low"] and out[2][0] == USEFUL_SCORE["high"]
    assert out[1][0] == USEFUL_SCORE["high"] and by_place == 2


def test_the_schema_sent_for_a_batch_allows_only_its_labels() -> None:
    import json

    import pytest
    from pydantic import ValidationError

    from engine.stages.judge import batch_schema

    schema = batch_schema(["F4", "F5"])
    assert schema.__name__ == "UsefulnessOut"  # call records and the fake see the usual name
    text = json.dumps(schema.model_json_schema())
    assert '"enum": ["F4", "F5"]' in text and '"maxItems": 2' in text  # what a grammar-following model must write
    ok = schema.model_validate({"items": [{"finding": "F5", "reason": "r", "usefulness": "low"}]})
    assert ok.items[0].finding == "F5"
    with pytest.raises(ValidationError):
        schema.model_validate({"items": [{"finding": "Bug", "reason": "r", "usefulness": "low"}]})
