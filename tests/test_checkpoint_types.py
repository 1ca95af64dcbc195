"""Every record the graph state holds survives the checkpointer, so a resumed run keeps it (a resumed document
run lost its claims and their cross-checks: "Blocked deserialization of engine.claims.model.Claim")."""

from engine.claims.model import Claim, Hit
from engine.claims.quantities import quantities
from engine.runner import serializer


def test_claims_and_hits_round_trip_through_the_checkpoint_serializer() -> None:
    claim = Claim(id="CL-001", kind="limit", text="At most 5 retries.", file="prd.md", line=3, section="Limits",
                  tags=["limit"], quantities=quantities("At most 5 retries."))
    hit = Hit(rule="unbounded-growth", claims=["CL-001"], file="prd.md", lines=[3], title="t", detail="d",
              evidence="e", severity="high")
    s = serializer()
    state = {"claims": [claim], "claim_hits": [hit]}
    back = s.loads_typed(s.dumps_typed(state))
    assert back == state and isinstance(back["claims"][0], Claim) and isinstance(back["claim_hits"][0], Hit)
    assert back["claims"][0].quantities[0].bound == "upper"


def test_every_record_type_of_the_state_is_allowed() -> None:
    """Walk RunState's annotations and every pydantic field under them: each model class must be revivable."""
    import typing

    from pydantic import BaseModel

    from engine.state import RunState

    allowed = {tuple(x) for x in serializer()._allowed_msgpack_modules}  # noqa: SLF001
    seen: set[type] = set()

    def walk(tp: object) -> None:
        for arg in typing.get_args(tp):
            walk(arg)
        if isinstance(tp, type) and issubclass(tp, BaseModel) and tp not in seen:
            seen.add(tp)
            for field in tp.model_fields.values():
                walk(field.annotation)

    for tp in typing.get_type_hints(RunState).values():
        walk(tp)
    missing = sorted(f"{c.__module__}.{c.__name__}" for c in seen if (c.__module__, c.__name__) not in allowed)
    assert seen and not missing, missing
