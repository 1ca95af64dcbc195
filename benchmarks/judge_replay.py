"""The truth judge's prompt as run versus the current engine's, replayed on the same stored findings.

Issue 15 moved the judge's question behind the run's shared prefix (the rules and the whole target, which
a local model serves from its cache) and cut its excerpt to the cited lines. This asks the embedded model
the current engine's judge prompt for every finding of stored quality results whose run directory is still
on disk (the finding's claim, checks and target as they were stored in its `calls/` record) and compares
P(yes) with the stored answer to the prompt as run, by the corpus labels: the judge's AUROC against the
claim labels (`claim_matched`) and the place labels (`matched`), and the truth AUROC with the judge feature
replaced, under the embedded model's shipped calibration. Nothing else of the findings changes, so the
difference is the judge prompt's alone. Usage:

    python benchmarks/judge_replay.py benchmarks/quality/results/single-heldout-89a7ee0 [more results] \\
        [--model qwen2.5-coder-1.5b] [--reask N] [--out replay.json]

`--reask N` also asks the stored prompt again for the first N findings (does the stored answer reproduce?).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import urllib.request
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.llm.logprobs import p_yes_from_logprobs  # noqa: E402
from engine.stages.judge import judge_question, judge_system  # noqa: E402
from engine.target.snapshot import TargetSnapshot  # noqa: E402
from engine.verify import calibration  # noqa: E402
from engine.verify.features import logit  # noqa: E402
from engine.verify.fitting import auroc  # noqa: E402

CLAIM = re.compile(r"^Claim \[(?P<sev>\w+)\]: (?P<title>.*) — (?P<file>.+):(?P<a>\d+)-(?P<b>\d+)$", re.M)
NONCE = re.compile(r"<<<DATA ([0-9a-f]+)>>>")


def parse_question(user: str) -> dict[str, Any] | None:
    """The stored judge question's fields: severity, title, place, evidence, fix and the check lines."""
    m = CLAIM.search(user)
    if m is None:
        return None
    ev = re.search(r"^Quoted evidence: (.*)$", user, re.M)
    fix = re.search(r"^Proposed fix: (.*)$", user, re.M)
    block = user.split("take them as given.", 1)[1] if "take them as given." in user else ""
    block = re.split(r"\n\s*\n(?!- )", block.strip("\n"), maxsplit=1)[0]
    checks = [ln[2:] for ln in block.splitlines() if ln.startswith("- ")]
    return {"severity": m["sev"], "title": m["title"], "file": m["file"], "line_start": int(m["a"]),
            "line_end": int(m["b"]), "evidence": ev[1] if ev else "", "fix": fix[1] if fix else "", "checks": checks}


def judge_calls(run_dir: Path) -> list[dict[str, Any]]:
    """The run's first-choice truth-judge call records (not the fallback judge's)."""
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted((run_dir / "calls").glob("judge--*truth-*.json"))
            if "fallback" not in p.name]


def record_for(finding: dict[str, Any], records: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The judge call whose claim line names this finding (title and lines)."""
    for rec in records:
        user = next((m["content"] for m in rec["messages"] if m["role"] == "user"), "")
        q = parse_question(user)
        if q and q["title"] == " ".join(finding["title"].split()) and q["line_start"] == finding["line_start"] \
                and q["line_end"] == finding["line_end"]:
            return rec
    return None


def ask(base_url: str, system: str, user: str) -> tuple[float | None, dict[str, Any], float]:
    """P(yes) from the server's log-probabilities, its timings, and the wall seconds."""
    body = {"model": "local", "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
            "max_tokens": 5, "temperature": 0.2, "logprobs": True, "top_logprobs": 10, "cache_prompt": True}
    req = urllib.request.Request(base_url + "/chat/completions", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    t0 = time.perf_counter()
    with urllib.request.urlopen(req, timeout=900) as r:
        out = json.loads(r.read())
    return p_yes_from_logprobs(out["choices"][0].get("logprobs")), out.get("timings", {}), time.perf_counter() - t0


def truth(cal: Any, features: dict[str, float], p: float | None) -> float:
    x = dict(features)
    x["judge"] = round(logit(p), 4) if p is not None else 0.0
    return calibration.predict(cal, x)


def summary(rows: list[dict[str, Any]], label: str) -> dict[str, Any]:
    out: dict[str, Any] = {"findings": len(rows), "real": sum(r[label] for r in rows)}
    for key in ("p_stored", "p_now", "truth_stored", "truth_now"):
        got = [(r[key], int(r[label])) for r in rows if r[key] is not None]
        out[key] = auroc(got)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", nargs="+", type=Path, help="quality results folders (with results/*.json)")
    ap.add_argument("--model", default="qwen2.5-coder-1.5b")
    ap.add_argument("--reask", type=int, default=0, help="ask the stored prompt again for the first N findings")
    ap.add_argument("--out", type=Path, help="write every row as JSON here")
    args = ap.parse_args(argv)

    from engine.llm import local

    cal = calibration.shipped("local")  # the embedded model's shipped fit: what a user's truth is today
    server = local.get_server(args.model, slots=1)
    rows: list[dict[str, Any]] = []
    missing = 0
    try:
        for folder in args.results:
            for path in sorted((folder / "results").glob("*.json")):
                res = json.loads(path.read_text(encoding="utf-8"))
                run_dir = Path(res.get("run_dir") or "")
                if not res.get("findings") or not (run_dir / "target.json").exists():
                    continue
                snap = TargetSnapshot.model_validate_json((run_dir / "target.json").read_text(encoding="utf-8"))
                records = judge_calls(run_dir)
                for f in res["findings"]:
                    rec = record_for(f, records)
                    if rec is None or f.get("judge_p_yes") is None:
                        missing += 1
                        continue
                    stored_user = next(m["content"] for m in rec["messages"] if m["role"] == "user")
                    ctx = SimpleNamespace(target=snap, nonce=NONCE.search(stored_user)[1])
                    q = parse_question(stored_user)
                    assert q is not None
                    system = judge_system(ctx)  # type: ignore[arg-type]
                    p_now, timings, wall = ask(server.base_url, system, judge_question(ctx, **q))  # type: ignore[arg-type]
                    row = {"results": folder.name, "case": res["case"], "title": f["title"],
                           "matched": bool(f.get("matched")), "claim_matched": bool(f.get("claim_matched")),
                           "p_stored": f["judge_p_yes"], "p_now": p_now, "prompt_n": timings.get("prompt_n"),
                           "cache_n": timings.get("cache_n"), "wall_s": round(wall, 2),
                           "stored_prompt_tokens": None}
                    row["truth_stored"] = truth(cal, f["features"], f["judge_p_yes"])
                    row["truth_now"] = truth(cal, f["features"], p_now)
                    if len(rows) < args.reask:
                        row["p_reasked"] = ask(server.base_url, rec["messages"][0]["content"], stored_user)[0]
                    rows.append(row)
                    print(f"{res['case']:<22} {f['title'][:48]:<48} real={int(row['claim_matched'])} "
                          f"stored={row['p_stored']:.2f} now={p_now if p_now is None else round(p_now, 2)} "
                          f"eval={row['prompt_n']} cached={row['cache_n']} {wall:.0f}s", flush=True)
    finally:
        server.stop()
    by_split: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_split.setdefault(r["results"], []).append(r)
    report = {name: {"claim": summary(rs, "claim_matched"), "place": summary(rs, "matched"),
                     "evaluated": sum(r["prompt_n"] or 0 for r in rs), "wall_s": round(sum(r["wall_s"] for r in rs), 1)}
              for name, rs in by_split.items()}
    report["all"] = {"claim": summary(rows, "claim_matched"), "place": summary(rows, "matched")}
    reasked = [r for r in rows if "p_reasked" in r and r["p_reasked"] is not None]
    if reasked:
        diff = max(abs(r["p_reasked"] - r["p_stored"]) for r in reasked)
        report["reasked"] = {"n": len(reasked), "max_abs_diff": round(diff, 4)}
    report["missing"] = missing
    print(json.dumps(report, indent=1))
    if args.out:
        args.out.write_text(json.dumps({"report": report, "rows": rows}, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
