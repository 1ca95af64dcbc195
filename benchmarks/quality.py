"""Review quality on the seeded-defect corpus: recall, precision, F1 and truth-AUROC per workflow.

    python benchmarks/quality.py --workflow debate --model local [--cases a,b] [--personas N] [-k K]
    python benchmarks/quality.py --compare --model local --cases py_user_store,doc_export_api
    python benchmarks/quality.py --compare --model fake            # ~1.5 min: a smoke test of the harness
    python benchmarks/quality.py --compare --model local --split held-out   # only the held-out cases

Each case of benchmarks/quality/corpus/ is copied to a temporary folder outside any git work tree
and reviewed in-process through engine.api; its report.json is scored against labels.yaml by
benchmarks/quality/score.py. One JSON result per (workflow, case) is written to --out as soon as it
finishes, and an existing result is reused (so an interrupted run resumes where it stopped; pass
--fresh to redo). Matched N: `single` makes one review call, `self-review` has its producer and its
critic, and `sample`, `fusion` and `debate` use --personas reviewers (default 3). Cases marked
`held_out: true` in labels.yaml are never used for tuning: `--split` picks tuning, held-out or all cases,
and with all the held-out ones get a table of their own.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import platform
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from engine.verify.calibration import predict  # noqa: E402
from engine.verify.checks import Check  # noqa: E402
from engine.verify.features import reproducer_outcome  # noqa: E402
from engine.verify.fitting import auroc  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
QUALITY = ROOT / "benchmarks" / "quality"
CORPUS = QUALITY / "corpus"
WORKFLOWS = ["single", "sample", "self-review", "fusion", "debate"]
PANELLED = ("sample", "fusion", "debate")  # the workflows whose reviewers --panel spreads over models
FINDING_KEYS = ("file", "line_start", "line_end", "title", "evidence", "fix", "severity", "status",
                "evidence_status", "personas", "set_aside")
SCORE_KEYS = ("truth", "usefulness", "scored_by", "judge_mode", "judge_p_yes", "features", "calibration")
COLUMNS = ["workflow", "cases", "defects", "found", "recall", "precision", "F1", "F1 strict", "truth-AUROC",
           "AUROC strict", "judged", "findings", "clean FP", "set aside", "reported: found / precision / F1 strict",
           "truth ≥ 0.5: found / findings / precision", "calls", "tokens", "wall s"]


_LOOP: asyncio.AbstractEventLoop | None = None


def loop() -> asyncio.AbstractEventLoop:
    """One event loop for every run of the process.

    langchain-openai caches its async HTTP client per process; with a fresh loop per run (asyncio.run) the
    second run against the local model fails with "Event loop is closed".
    """
    global _LOOP
    if _LOOP is None or _LOOP.is_closed():
        _LOOP = asyncio.new_event_loop()
    return _LOOP


def engine_fingerprint() -> str:
    """sha256[:12] of the engine code, templates, workflows and personas the results were measured with."""
    import hashlib

    h = hashlib.sha256()
    files = [*(ROOT / "engine").rglob("*.py"), *(ROOT / "templates").rglob("*.j2"),
             *(ROOT / "workflows").glob("*.yaml"), *(ROOT / "personas").glob("*.md")]
    for p in sorted(files):
        h.update(str(p.relative_to(ROOT)).encode() + b"\0" + p.read_bytes())
    return h.hexdigest()[:12]


def load_score() -> Any:
    """benchmarks/quality/score.py as a module (benchmarks/ is not a package)."""
    name = "rebuttal_quality_score"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, QUALITY / "score.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


S = load_score()


def load_labels() -> dict[str, Any]:
    """labels.yaml, validated strictly (an unknown key or a missing field is an error naming it)."""
    labels: dict[str, Any] = yaml.safe_load((QUALITY / "labels.yaml").read_text(encoding="utf-8"))
    S.validate_labels(labels)
    return labels


def split_cases(labels: dict[str, Any], split: str) -> list[str]:
    """The case names of one split: `tuning`, `held-out` or `all`, in labels.yaml order."""
    held = S.held_out_cases(labels)
    keep = {"all": lambda c: True, "held-out": lambda c: c in held, "tuning": lambda c: c not in held}[split]
    return [c for c in labels["cases"] if keep(c)]


def personas_for(workflow: str, n: int) -> int:
    """Matched panel sizes: one call for `single`, producer + critic for `self-review`, else n."""
    return {"single": 1, "self-review": 2}.get(workflow, n)


def stage_target(case: str, into: Path) -> Path:
    """Copy a case outside the repository; the target is its only file, or the folder when it has several."""
    dest = into / case
    shutil.copytree(CORPUS / case, dest)
    files = sorted(p for p in dest.rglob("*") if p.is_file())
    return files[0] if len(files) == 1 else dest


def doc_sections(case_dir: Path) -> dict[str, list[Any]]:
    """Sections of the case's documents (Markdown, reStructuredText, plain text), by relative path."""
    return {str(p.relative_to(case_dir)): S.file_sections(p.name, p.read_text(encoding="utf-8"))
            for p in sorted(case_dir.rglob("*")) if p.suffix in (".md", ".rst", ".txt")}


def use_prompts(folder: Path) -> dict[str, str]:
    """Let the prompt templates in `folder` (e.g. `prompts/review.md.j2`) override the engine's for this process.

    For A/B tests of a prompt without touching templates/: returns {template: sha256[:12]} for the record.
    """
    import hashlib

    import jinja2

    from engine import artifacts

    env = artifacts.environment()
    env.loader = jinja2.ChoiceLoader([jinja2.FileSystemLoader(str(folder)), env.loader])
    if env.cache is not None:
        env.cache.clear()  # forget templates loaded before the override
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()[:12]
            for p in sorted(folder.rglob("*.j2"))}


def run_case(case: str, workflow: str, args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """Review one case with one workflow (resuming an interrupted run of it); return the result record."""
    from engine import api

    n = personas_for(workflow, args.personas)
    partial = None if args.fresh else find_partial(out, workflow, case)
    with tempfile.TemporaryDirectory(prefix="rebuttal-quality-") as tmp:
        if partial is not None:  # a killed run: finish it without repeating a model call
            run_dir, k, before = partial, None, ledger_span(partial)
            run = lambda: api.resume(run_dir)  # noqa: E731
        else:
            settings = api.build_settings(
                str(stage_target(case, Path(tmp))), workflow=workflow, model=args.model, judge=args.judge,
                personas=n, k=args.k if workflow == "debate" else None, concurrency=args.concurrency,
                panel=args.panel.split(",") if args.panel and workflow in PANELLED else None,
                seed=args.seed, run_id=f"{workflow}-{case}-{datetime.now(UTC):%Y%m%d%H%M%S}",
                execute=args.execute,
            ).model_copy(update={"timeout_s": args.timeout})
            prep = api.prepare(settings, out / "runs", check_providers=not args.model.startswith("fake"))
            run_dir, k, before = prep.run_dir, settings.k, 0.0
            run = lambda: api.execute(prep)  # noqa: E731
        start, cpu = time.perf_counter(), time.process_time()  # process CPU includes llama.cpp's threads
        error = None
        try:
            data = json.loads(loop().run_until_complete(run()).model_dump_json())
        except Exception as exc:  # recorded in the result and shown in the table; the benchmark goes on
            error, data = f"{type(exc).__name__}: {exc}", {"findings": []}
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    total = data.get("total") or {}
    return {
        "case": case, "workflow": workflow, "model": args.model, "judge": args.judge or args.model,
        "panel": args.panel if workflow in PANELLED else None,
        "personas": n, "k": k, "run_dir": str(run_dir), "error": error, "resumed": partial is not None,
        "wall_s": round(before + wall, 2), "cpu_s": round(cpu, 1), "calls": total.get("calls", 0),
        "tokens": total.get("prompt_tokens", 0) + total.get("completion_tokens", 0),
        "prompt_tokens": total.get("prompt_tokens", 0), "completion_tokens": total.get("completion_tokens", 0),
        "degraded": data.get("degraded", []), "failures": data.get("failures", []),
        "execute": bool(args.execute),
        "findings": [{k: f.get(k) for k in FINDING_KEYS} | {k: f["scores"][k] for k in SCORE_KEYS}
                     | {"reproducer": reproducer_outcome([Check.model_validate(c) for c in f.get("checks", [])]),
                        "dropped": dropped(f)}
                     for f in data.get("findings", [])],
        "review_issues": review_issues(Path(run_dir)),
        "prompts": args.prompt_hashes, "engine": args.engine,
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def dropped(f: dict[str, Any]) -> bool:
    """The debate dropped this finding: refuted, or every member withdrawn by its author."""
    return f.get("status") == "refuted" or (bool(f.get("members")) and not any(m.get("kept") for m in f["members"]))


def conformity(results: list[dict[str, Any]]) -> dict[str, Any]:
    """How often the debate dropped a real finding (labelled) and an invented one: (dropped, all) each."""
    real = [f for r in results for f in r["findings"] if "dropped" in f and f.get("matched")]
    invented = [f for r in results for f in r["findings"] if "dropped" in f and not f.get("matched")]
    return {"real_dropped": [sum(f["dropped"] for f in real), len(real)],
            "invented_dropped": [sum(f["dropped"] for f in invented), len(invented)]}


def without_execution(f: dict[str, Any], cal: Any) -> float | None:
    """A finding's truth had no reproducer run: its stored features with the reproducer ones zeroed."""
    if not f.get("features"):
        return None
    x = {**f["features"], "reproduced": 0.0, "not_reproduced": 0.0, "reproducer_broken": 0.0}
    return predict(cal, x)


def execution_summary(results: list[dict[str, Any]], defects: dict[str, list[Any]]) -> dict[str, Any] | None:
    """`--execute` runs: labelled defects whose finding ended `reproduced`, invented findings that did, and the
    truth-AUROC with the reproducers against the same findings' truth without them (same calibration)."""
    runs = [r for r in results if r.get("execute")]
    if not runs:
        return None
    labelled = found = reproduced = invented = invented_rep = ran = 0
    with_x, without_x = [], []
    for r in runs:
        cal = load_calibration(Path(r["run_dir"]))
        scored = score_result(r, defects[r["case"]])
        labelled += scored.defects
        found += len(scored.found_defects)
        rep_defects = set()
        for f, hits in zip(r["findings"], scored.finding_matches, strict=True):
            ran += f.get("reproducer") is not None
            if f.get("reproducer") == "reproduced":
                rep_defects.update(hits)
            if not hits:
                invented += 1
                invented_rep += f.get("reproducer") == "reproduced"
            with_x.append((f["truth"], bool(hits)))
            if (t := without_execution(f, cal)) is not None:
                without_x.append((t, bool(hits)))
        reproduced += len(rep_defects)
    return {"cases": len(runs), "defects": labelled, "found": found, "reproduced": reproduced,
            "invented": invented, "invented_reproduced": invented_rep, "findings_with_reproducer": ran,
            "auroc_with": auroc(with_x), "auroc_without": auroc(without_x)}


def load_calibration(run_dir: Path) -> Any:
    """The calibration a run used (its run directory's copy), else the shipped one."""
    from engine.verify import calibration

    return calibration.for_run(run_dir) if run_dir.exists() else calibration.shipped()


def mark_labels(result: dict[str, Any], defects: list[Any], spec: dict[str, Any]) -> dict[str, Any]:
    """Each finding's `matched` (at a labelled defect's place), `claim_matched` (there and naming it: the strict
    scorer) and the case's `held_out`: the labels that `rebuttal calibrate --corpus` fits the truth model on
    (`claim_matched`: truth asks whether the claim is correct, and a generic claim next to a defect is not;
    held-out cases are never fitted on). Re-marked on every load, so stored results follow the scorer."""
    scored, strict = score_result(result, defects), score_result(result, defects, strict=True)
    for f, hits, claim in zip(result["findings"], scored.finding_matches, strict.finding_matches, strict=True):
        f["matched"], f["claim_matched"] = bool(hits), bool(claim)
    result["held_out"] = bool(spec.get("held_out", False))
    return backfill_set_aside(result)


def backfill_set_aside(result: dict[str, Any], force: bool = False) -> dict[str, Any]:
    """Results stored before the engine set claims aside get `set_aside` from the engine's own rule as it is
    today (again on every load), with each quote located again by today's matcher on the case's files
    (`set_aside_backfilled` says so); `force`: every result, its fix judged too (benchmarks/claims.py --replay)."""
    if not force and all("set_aside" in f for f in result["findings"]) and not result.get("set_aside_backfilled"):
        return result
    from engine.target.evidence import locate_quote
    from engine.target.ingest import ingest
    from engine.verify.features import EVIDENCE_RANK, set_aside_reason

    snap = ingest(CORPUS / result["case"])
    for f in result["findings"]:
        quote = locate_quote(snap, f["file"], f["line_start"], f["line_end"], f["evidence"]).status
        best = max((quote, f.get("evidence_status") or "not_found"), key=EVIDENCE_RANK.__getitem__)
        f["set_aside"] = set_aside_reason(f["title"], f["file"], f.get("personas") or [], best,
                                          f.get("fix") if force else None)  # a replay judges the fix as today
    result["set_aside_backfilled"] = True
    return result


def load_calibration_file(ap: argparse.ArgumentParser, path: Path) -> Any:
    """A calibration file for --calibration, or the parser's one-line error."""
    from engine.errors import ConfigError
    from engine.verify import calibration

    try:
        return calibration.load(path)
    except ConfigError as exc:
        ap.error(str(exc))


def rescored(result: dict[str, Any], cal: Any, out: Path) -> dict[str, Any]:
    """A copy of a stored result whose findings' truth is `cal`'s prediction from their stored features (those
    added since the run computed from its stored fields and claims hits); a reproduced finding keeps the floor."""
    from engine.stages.compile import REPRODUCED_FLOOR
    from engine.verify.fitting import backfilled, stored_hits

    hits = stored_hits(result, out)
    findings = []
    for f in result["findings"]:
        if f.get("features"):
            x = backfilled(f, hits)
            t = round(predict(cal, x), 2)
            f = {**f, "features": x, "truth": max(t, REPRODUCED_FLOOR) if f.get("reproducer") == "reproduced" else t}
        findings.append(f)
    return {**result, "findings": findings, "calibration_rescored": cal.name}


def find_partial(out: Path, workflow: str, case: str) -> Path | None:
    """The latest run directory of (workflow, case) that was interrupted after its first call, if any."""
    prefix = f"{workflow}-{case}-".replace("_", "-")
    runs = sorted(p for p in (out / "runs").glob(f"{prefix}*") if p.name[len(prefix):].isdigit())
    if not runs or (runs[-1] / "report.json").exists() or not (runs[-1] / "ledger.jsonl").exists():
        return None
    return runs[-1]


def ledger_span(run_dir: Path) -> float:
    """Seconds from the first call's start to the last call's end in a run's ledger (the time already spent)."""
    lines = [json.loads(x) for x in (run_dir / "ledger.jsonl").read_text(encoding="utf-8").splitlines() if x]
    if not lines:
        return 0.0
    t = [datetime.fromisoformat(x["started"]).timestamp() for x in lines]
    return max(a + x["latency_s"] for a, x in zip(t, lines, strict=True)) - min(t)


def score_result(result: dict[str, Any], defects: list[Any], strict: bool = False, key: str = "findings",
                 min_truth: float | None = None, reported: bool = False) -> Any:
    """Score a stored result against the case's defects (rescored on every load).

    `key="review_issues"` scores every issue the reviews raised (before compile); `min_truth` keeps only
    the findings with that truth; `reported` leaves out the claims the report set aside."""
    found = [S.Found(file=f["file"], line_start=f["line_start"], line_end=f["line_end"], title=f["title"],
                     evidence=f["evidence"], fix=f["fix"], truth=f.get("truth")) for f in result.get(key, [])
             if (min_truth is None or (f.get("truth") or 0.0) >= min_truth) and not (reported and f.get("set_aside"))]
    return S.score_case(result["case"], found, defects, doc_sections(CORPUS / result["case"]), strict)


def review_issues(run_dir: Path) -> list[dict[str, Any]]:
    """Every issue the run's reviews raised (the last round of each reviewer), from debate.json."""
    path = run_dir / "debate.json"
    if not path.exists():
        return []
    debate = json.loads(path.read_text(encoding="utf-8"))
    latest: dict[str, dict[str, Any]] = {}
    for r in sorted(debate.get("reviews", []), key=lambda r: r.get("round", 1)):
        latest[r["persona"]] = r
    keys = ("id", "file", "line_start", "line_end", "title", "evidence", "fix")
    return [{k: i[k] for k in keys} for r in latest.values() for i in r["issues"]]


def losses(results: list[dict[str, Any]], defects: dict[str, list[Any]]) -> dict[str, Any]:
    """Labelled defects named by any review issue, by the compiled findings, and by findings with truth >= 0.5.

    The first difference is what compile lost, the second what the truth score lost. Results stored before
    review issues were recorded have no first column (None)."""
    per_case = []
    for r in results:
        d = defects[r["case"]]
        row = {"case": r["case"], "defects": len(d),
               "reviews": len(score_result(r, d, key="review_issues").found_defects) if "review_issues" in r else None,
               "findings": len(score_result(r, d).found_defects),
               "trusted": len(score_result(r, d, min_truth=0.5).found_defects)}
        per_case.append(row)
    with_reviews = [c for c in per_case if c["reviews"] is not None]
    return {
        "reviews": sum(c["reviews"] for c in with_reviews) if with_reviews else None,
        "findings": sum(c["findings"] for c in per_case), "trusted": sum(c["trusted"] for c in per_case),
        "compile_loss": sum(max(0, c["reviews"] - c["findings"]) for c in with_reviews) if with_reviews else None,
        "judge_loss": sum(c["findings"] - c["trusted"] for c in per_case),
        "lost_in": [c["case"] for c in with_reviews if c["reviews"] > c["findings"]],
    }


def loss_table(rows: list[dict[str, Any]]) -> str:
    """Per workflow: defects named in reviews -> in findings -> in findings with truth >= 0.5."""
    lines = ["| workflow | defects | named in reviews | in findings | in findings truth ≥ 0.5 | compile loss | "
             "judge loss | cases where compile lost one |", "|" + "---|" * 8]
    for r in rows:
        x = r["loss"]
        lines.append(f"| {r['workflow']} | {r['defects']} | {fmt(x['reviews'])} | {x['findings']} | {x['trusted']} | "
                     f"{fmt(x['compile_loss'])} | {x['judge_loss']} | {', '.join(x['lost_in']) or '–'} |")
    return "\n".join(lines)


def result_path(out: Path, workflow: str, case: str) -> Path:
    return out / "results" / f"{workflow}__{case}.json"


def fmt(x: Any, digits: int = 2) -> str:
    if x is None:
        return "n/a"
    return f"{x:.{digits}f}" if isinstance(x, float) else str(x)


def summarise(workflow: str, results: list[dict[str, Any]], defects: dict[str, list[Any]]) -> dict[str, Any]:
    """One table row: metrics micro-averaged over the cases, cost summed."""
    scores = [score_result(r, defects[r["case"]]) for r in results]
    agg = S.aggregate(scores)
    strict = S.aggregate([score_result(r, defects[r["case"]], strict=True) for r in results])
    reported = S.aggregate([score_result(r, defects[r["case"]], strict=True, reported=True) for r in results])
    trusted = S.aggregate([score_result(r, defects[r["case"]], strict=True, reported=True, min_truth=0.5)
                           for r in results])
    return {
        "workflow": workflow, **agg,
        "strict": {k: strict[k] for k in ("found", "matched", "recall", "precision", "f1", "truth_auroc")},
        "reported": {k: reported[k] for k in ("found", "findings", "matched", "recall", "precision", "f1",
                                              "clean_findings")},
        "trusted": {k: trusted[k] for k in ("found", "findings", "matched", "recall", "precision", "clean_findings")},
        "set_aside": sum(bool(f.get("set_aside")) for r in results for f in r["findings"]),
        "calls": sum(r["calls"] for r in results), "tokens": sum(r["tokens"] for r in results),
        "wall_s": round(sum(r["wall_s"] for r in results), 1),
        "judged": S.ratio(sum(f.get("scored_by") != "mechanical" for r in results for f in r["findings"]),
                          sum(len(r["findings"]) for r in results)),
        "loss": losses(results, defects),
        "conformity": conformity(results),
        "per_case": [{"case": s.case, "defects": s.defects, "found": s.found_defects, "missed": s.missed_defects,
                      "findings": s.findings, "matched": s.matched_findings} for s in scores],
    }


def table(rows: list[dict[str, Any]]) -> str:
    """A markdown table with COLUMNS."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in rows:
        cells = [r["workflow"], r["cases"], r["defects"], r["found"], fmt(r["recall"]), fmt(r["precision"]),
                 fmt(r["f1"]), fmt(r["strict"]["f1"]), fmt(r["truth_auroc"]),
                 fmt(r["strict"]["truth_auroc"]), fmt(r["judged"]), r["findings"],
                 r["clean_findings"], r["set_aside"],
                 f"{r['reported']['found']} / {fmt(r['reported']['precision'])} / {fmt(r['reported']['f1'])}",
                 f"{r['trusted']['found']} / {r['trusted']['findings']} / {fmt(r['trusted']['precision'])}",
                 r["calls"], r["tokens"], fmt(float(r["wall_s"]), 1)]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines)


def per_case_table(rows: list[dict[str, Any]]) -> str:
    """Cases x workflows: labelled defects found / labelled, then matched / all findings."""
    cases = list(dict.fromkeys(c["case"] for r in rows for c in r["per_case"]))
    lines = ["| case | " + " | ".join(r["workflow"] for r in rows) + " |", "|" + "---|" * (len(rows) + 1)]
    for case in cases:
        cells = []
        for r in rows:
            c = next((x for x in r["per_case"] if x["case"] == case), None)
            cells.append("–" if c is None else f"{len(c['found'])}/{c['defects']} ({c['matched']}/{c['findings']})")
        lines.append(f"| {case} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the corpus through one or all workflows and print the quality table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workflow", default="single", choices=WORKFLOWS)
    ap.add_argument("--compare", action="store_true", help="run all five workflows at matched N")
    ap.add_argument("--model", default="local", help="provider:model (default: the embedded local model)")
    ap.add_argument("--judge", default=None, help="judge model (default: --model)")
    ap.add_argument("--panel", default=None,
                    help="models round-robin over the reviewers of sample/fusion/debate, e.g. local:1.5b,local:0.5b")
    ap.add_argument("--cases", default="", help="comma-separated case names (default: every case of --split)")
    ap.add_argument("--split", default="all", choices=["tuning", "held-out", "all"],
                    help="tuning cases, held-out cases (labels.yaml `held_out: true`) or all (default)")
    ap.add_argument("--personas", type=int, default=3, help="reviewers for sample/fusion/debate (default 3)")
    ap.add_argument("-k", type=int, default=1, help="reviews each debater answers (default 1)")
    ap.add_argument("--concurrency", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=1800, help="seconds per model call (slow CPUs need more)")
    ap.add_argument("--out", type=Path, default=None, help="results folder (default runs/quality/<model>)")
    ap.add_argument("--fresh", action="store_true", help="ignore stored results and run again")
    ap.add_argument("--no-run", action="store_true", help="only tabulate the stored results")
    ap.add_argument("--json", action="store_true", help="print the rows as JSON instead of a table")
    ap.add_argument("--execute", action="store_true",
                    help="run each finding's reproducer in the sandbox (review --execute) and report what it decided")
    ap.add_argument("--calibration", type=Path, default=None,
                    help="with --no-run: score every stored finding's truth again under this calibration file "
                         "(from its stored features, those added since computed from its stored fields)")
    ap.add_argument("--prompts", type=Path, default=None,
                    help="folder of prompt templates (prompts/<stage>.md.j2) overriding templates/ for an A/B test")
    args = ap.parse_args(argv)
    args.prompt_hashes = use_prompts(args.prompts) if args.prompts else {}
    if args.calibration and not args.no_run:
        ap.error("--calibration rescores stored results: use it with --no-run")
    cal = load_calibration_file(ap, args.calibration) if args.calibration else None
    args.engine = engine_fingerprint()  # at start: the code this process runs, whatever is edited meanwhile
    try:
        labels = load_labels()
    except ValueError as exc:
        ap.error(str(exc))
    defects = S.defects_from_labels(labels)
    in_split = split_cases(labels, args.split)
    cases = [c.strip() for c in args.cases.split(",") if c.strip()] or in_split
    if unknown := [c for c in cases if c not in defects]:
        ap.error(f"unknown case(s): {', '.join(unknown)}")
    if outside := [c for c in cases if c not in in_split]:
        ap.error(f"case(s) not in the {args.split} split: {', '.join(outside)}")
    workflows = WORKFLOWS if args.compare else [args.workflow]
    out = args.out or ROOT / "runs" / "quality" / args.model.replace(":", "-")
    (out / "results").mkdir(parents=True, exist_ok=True)
    results: dict[str, list[dict[str, Any]]] = {w: [] for w in workflows}
    for case in cases:  # case-major: an interrupted run still compares every workflow on the cases it did
        for w in workflows:
            path = result_path(out, w, case)
            stored = json.loads(path.read_text(encoding="utf-8")) if path.exists() and not args.fresh else None
            if stored is not None and (stored["error"] is None or args.no_run):
                stored = mark_labels(stored, defects[case], labels["cases"][case])
                if cal is not None:
                    results[w].append(rescored(stored, cal, out))
                    continue  # a what-if: the stored file keeps the truth its run gave
                if args.no_run and not args.fresh:
                    path.write_text(json.dumps(stored, indent=1), encoding="utf-8")  # labels follow the scorer
                results[w].append(stored)  # a failed run is tried again unless only tabulating
                continue
            if args.no_run:
                continue
            res = mark_labels(run_case(case, w, args, out), defects[case], labels["cases"][case])
            path.write_text(json.dumps(res, indent=1), encoding="utf-8")
            results[w].append(res)
            s = score_result(res, defects[case])
            print(f"[{w} {case}] found {len(s.found_defects)}/{s.defects}, {s.matched_findings}/{s.findings} "
                  f"findings matched, {res['calls']} calls, {res['wall_s']}s" + (f" ERROR {res['error']}"
                                                                                 if res["error"] else ""),
                  file=sys.stderr, flush=True)
    failed = [f"{r['workflow']} {r['case']}: {r['error']}" for w in workflows for r in results[w] if r["error"]]
    ok = {w: [r for r in results[w] if not r["error"]] for w in workflows}
    complete = [c for c in cases if all(any(r["case"] == c for r in ok[w]) for w in workflows)]
    if args.compare:  # compare workflows on the same cases only
        ok = {w: [r for r in ok[w] if r["case"] in complete] for w in workflows}
    rows = [summarise(w, ok[w], defects) for w in workflows if ok[w]]
    held = S.held_out_cases(labels)
    held_rows = [summarise(w, h, defects) for w in workflows
                 if args.split == "all" and (h := [r for r in ok[w] if r["case"] in held])]
    if args.json:
        print(json.dumps([r | {"split": args.split} for r in rows] + [r | {"split": "held-out"} for r in held_rows],
                         indent=1))
    else:
        print(f"model {args.model}, judge {args.judge or args.model}, {platform.machine()} "
              f"{platform.system()}, {datetime.now(UTC):%Y-%m-%d}; personas {args.personas} (single 1, "
              f"self-review 2), k {args.k}")
        print(table(rows))
        if held_rows:
            print("\nHeld-out cases only (never used for tuning):")
            print(table(held_rows))
        print("\nWhere defects were lost: named by a review issue, kept by compile, trusted by the truth score")
        print(loss_table(rows))
        print("\nPer case: defects found / labelled (findings matching a defect / all findings)")
        print(per_case_table(rows))
        print("\nConformity: findings the debate dropped (refuted or withdrawn), real / invented (labels)")
        for r in rows:
            c = r["conformity"]
            print(f"  {r['workflow']}: real dropped {c['real_dropped'][0]} of {c['real_dropped'][1]}, invented "
                  f"dropped {c['invented_dropped'][0]} of {c['invented_dropped'][1]}")
        for w in workflows:
            if (x := execution_summary(ok[w], defects)) is not None:
                print(f"\n--execute ({w}, {x['cases']} cases): labelled defects reproduced {x['reproduced']} of "
                      f"{x['defects']} ({x['found']} found); invented findings reproduced {x['invented_reproduced']} "
                      f"of {x['invented']}; findings with a reproducer run {x['findings_with_reproducer']}; "
                      f"truth-AUROC with execution {fmt(x['auroc_with'])}, the same findings without "
                      f"{fmt(x['auroc_without'])}")
        if args.compare and (left := [c for c in cases if c not in complete]):
            print(f"\nleft out (not run by every workflow yet): {', '.join(left)}")
        for e in failed:
            print(f"failed (not counted; run again to retry): {e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
