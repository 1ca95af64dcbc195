"""benchmarks/pair_replay.py without a model: stored pair verdicts labelled by the corpus scorer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import load_benchmark


def stored_run(folder: Path, case: str, verdicts: dict[str, bool]) -> Path:
    """A run directory as the engine leaves it: claims.json and one pair call record per shortlisted pair."""
    bench = load_benchmark("pair_replay.py", "rebuttal_pair_replay")
    q = bench.quality_module()
    run = folder / "runs" / f"single-{case.replace('_', '-')}-20261127000000"
    (run / "calls").mkdir(parents=True)
    # every two-claim hit of the case as a run that shortlisted it would store it: the corpus's one real pair
    # (64 KB against 256 KB) the rules are now certain about, so it is no candidate of the rules alone
    pairs = [(h.model_copy(update={"strength": "candidate"}), by_id) for h, by_id in bench.rule_pairs(q, case, "all")]
    claims = {cid: c for _, by_id in pairs for cid, c in by_id.items()}
    hits = [h for h, _ in pairs if h.title in verdicts]
    (run / "claims.json").write_text(json.dumps({"claims": [c.model_dump() for c in claims.values()],
                                                 "hits": [h.model_dump() for h in hits]}))
    for h in hits:
        subject = "pair-" + "-".join(h.claims)
        (run / "calls" / f"claims--panel--{subject.lower()}.json").write_text(json.dumps({
            "subject": subject, "parsed": {"reason": "r", "contradict": verdicts[h.title]},
            "messages": [{"role": "system", "content": "s"},
                         {"role": "user", "content": "<<<DATA 0123456789abcdef>>>\nA: ..."}]}))
    return run


def test_stored_verdicts_are_labelled_by_the_scorer(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bench = load_benchmark("pair_replay.py", "rebuttal_pair_replay")
    real = "Limit 64 KB ('Payload') contradicted by 256 KB ('Delivery and retries')"
    invented = "Limit 10 seconds ('Receiving a delivery') contradicted by 30 seconds ('Delivery and retries')"
    stored_run(tmp_path, "doc_webhooks_api", {real: True, invented: True})
    out = tmp_path / "rows.json"
    assert bench.main([str(tmp_path), "--split", "tuning", "--no-ask", "--out", str(out)]) == 0
    report = json.loads(out.read_text())["report"]
    assert report["pairs"] == 2
    assert report["stored"] == {"real_confirmed": 1, "real": 1, "invented_confirmed": 1, "invented": 1}
    # a case outside the split is not counted
    assert bench.main([str(tmp_path), "--split", "held-out", "--no-ask"]) == 0
    assert '"pairs": 0' in capsys.readouterr().out


def test_bad_arguments_are_one_line_errors(capsys: pytest.CaptureFixture[str]) -> None:
    bench = load_benchmark("pair_replay.py", "rebuttal_pair_replay")
    for argv in ([], ["--rules", "x"], ["--rules", "--no-ask"]):
        with pytest.raises(SystemExit):
            bench.main(argv)
    assert "error:" in capsys.readouterr().err
