"""Fit the truth model to labelled findings (pure Python): rows from triaged runs and the quality corpus.

A row is one finding's feature vector (report.json `scores.features`) with a label: 1 when a person
accepted it (`triage.yaml`) or its claim matched a labelled defect of the corpus (`claim_matched`: the
defect's place and a word naming it; older results carry only the place, `matched`), 0 when dismissed or
unmatched. Fitting is Newton's method on the log-likelihood with an L2 penalty that pulls every weight
toward the base calibration's (the shipped prior): with few labels the model stays near the prior,
with many the data win. The intercept is not penalised. Held-out rows (the corpus's `held_out` cases,
and a deterministic quarter of triaged findings by a hash of run id and finding id) are never used for
fitting (a corpus whose results carry no `held_out` key holds out a deterministic quarter of its cases, by case name);
AUROC and expected calibration error (ECE, 10 equal-width bins) are reported on them.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from engine.claims.crosscheck import claim_checks
from engine.claims.model import Hit
from engine.errors import ConfigError
from engine.models import SEVERITY_RANK
from engine.rundir import RunDir
from engine.triage import read_triage
from engine.verify.analyzers import rule_severity
from engine.verify.calibration import Calibration, predict, sigmoid
from engine.verify.checks import Subject
from engine.verify.features import FEATURES, claims_strength, echoes_checklist, raiser_features
from engine.verify.matching import ANALYZERS

MIN_ROWS = 8


@dataclass(frozen=True)
class Row:
    """One labelled finding."""

    key: str  # run id / finding id, or corpus case / finding index
    features: dict[str, float]
    label: int
    held_out: bool


def held_out_by_hash(key: str, every: int = 4) -> bool:
    """A deterministic 1-in-`every` split by the key's sha256."""
    return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % every == 0


def rows_from_run(run_dir: Path) -> list[Row]:
    """The triaged findings of a run directory (report.json features + triage.yaml labels)."""
    report = RunDir(run_dir).report_data()
    labels = read_triage(run_dir, report["run_id"]).findings
    rows = []
    for f in report["findings"]:
        entry, feats = labels.get(f["id"]), (f.get("scores") or {}).get("features")
        if entry is None or not feats:
            continue
        key = f"{report['run_id']}/{f['id']}"
        rows.append(Row(key, dict(feats), int(entry.label == "accept"), held_out_by_hash(key)))
    return rows


def backfilled(finding: dict[str, Any], hits: list[Hit] | None = None) -> dict[str, float]:
    """A stored finding's features, with those added since it was stored computed from its stored fields
    (`hits`: its run's claims cross-check hits, kept for a document run: the claims features are computed from
    them by this engine's rule, which since 2026-11-27 supports a finding by claim rather than by its lines)."""
    x = dict(finding["features"])
    x["analyzer_support"] = min(1.0, x.get("analyzer_support", 0.0))  # stored as a count before 2026-11-28
    if "checker_agrees" not in x:  # stored before 2026-11-28: `raisers` counted the engine's checkers too
        x.update(raiser_features(int(x.get("raisers", 0.0)) + 1, finding.get("personas") or []))
    if "generic_title" not in x:
        x["generic_title"] = float(echoes_checklist(str(finding.get("title", "")), finding.get("personas") or []))
    if hits or "claims_certain" not in x:
        x["claims_certain"] = x["claims_confirmed"] = 0.0
        subject = Subject(id="stored", title=str(finding.get("title", "")), file=str(finding.get("file", "")),
                          line_start=int(finding.get("line_start") or 0), line_end=int(finding.get("line_end") or 0),
                          fix=str(finding.get("fix") or ""))
        if key := claims_strength(claim_checks([], subject, hits or [])):
            x[key] = 1.0
    return x


def unraised_today(finding: dict[str, Any]) -> bool:
    """A stored finding only the analyzers raised, for rules they no longer raise on their own (every rule its fix
    lists at the line now low: ruff's S311 and the other bandit-twin rules bandit rates low); refitting replays
    today's engine, which would not have reported it."""
    if finding.get("personas") != [ANALYZERS]:
        return False
    listed = re.match(r"Address ((?:\w+ [\w/-]+(?:, )?)+):", str(finding.get("fix", "")))  # every hit at the line
    rules = [tuple(r.split(" ", 1)) for r in listed.group(1).split(", ")] if listed else [
        (None, str(finding.get("title", "")).split(":", 1)[0])]
    return all(SEVERITY_RANK[rule_severity(tool, rule)] < SEVERITY_RANK["medium"] for tool, rule in rules)


def stored_hits(result: dict[str, Any], folder: Path) -> list[Hit]:
    """A stored quality result's claims cross-check hits: its run's claims.json, from the results folder's
    `run-records/` copy or the run directory itself (none for code, or when neither is kept)."""
    name = Path(str(result.get("run_dir") or "")).name
    for path in (folder / "run-records" / name / "claims.json", Path(str(result.get("run_dir") or "")) / "claims.json"):
        if name and path.is_file():
            try:
                return [Hit.model_validate(h) for h in json.loads(path.read_text(encoding="utf-8")).get("hits", [])]
            except (OSError, ValueError, ValidationError) as exc:
                raise ConfigError(f"{path}: not a claims.json this engine reads ({exc.__class__.__name__})") from None
    return []


def rows_from_corpus(folder: Path) -> list[Row]:
    """Findings of benchmarks/quality.py result JSONs (`matched` per finding, `held_out` per case): a results
    folder, or one result JSON of one (to fit on chosen runs of a folder that holds several of one case)."""
    files = [folder] if folder.is_file() else sorted({*folder.glob("*.json"), *folder.glob("results/*.json")})
    if not files:
        raise ConfigError(f"{folder}: no quality result JSONs (benchmarks/quality.py writes them to <out>/results/)")
    results = []
    for path in files:
        try:
            res = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{path}: not a quality result JSON ({exc.__class__.__name__})") from None
        if isinstance(res, dict) and not res.get("error") and "findings" in res:
            results.append(res)
    marked = any("held_out" in res for res in results)  # else: a deterministic quarter of the cases
    rows = []
    base = folder.parent if folder.is_file() else folder
    root = base if (base / "results").is_dir() else base.parent
    for res in results:
        held = bool(res.get("held_out")) if marked else held_out_by_hash(str(res.get("case")))
        hits = stored_hits(res, root)
        for n, f in enumerate(res["findings"], 1):
            label = f.get("claim_matched", f.get("matched"))  # the claim names the defect, else its place
            if f.get("features") and label is not None and not unraised_today(f):
                rows.append(Row(f"{res.get('workflow')}/{res.get('case')}/{n}", backfilled(f, hits),
                                int(bool(label)), held))
    return rows


def solve(a: list[list[float]], b: list[float]) -> list[float]:
    """x with a·x = b (Gaussian elimination with partial pivoting; a is small and positive definite here)."""
    n = len(b)
    m = [row[:] + [b[i]] for i, row in enumerate(a)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(m[r][col]))
        m[col], m[pivot] = m[pivot], m[col]
        if abs(m[col][col]) < 1e-12:
            raise ValueError("singular system")
        for r in range(col + 1, n):
            f = m[r][col] / m[col][col]
            for c in range(col, n + 1):
                m[r][c] -= f * m[col][c]
    x = [0.0] * n
    for r in range(n - 1, -1, -1):
        x[r] = (m[r][n] - sum(m[r][c] * x[c] for c in range(r + 1, n))) / m[r][r]
    return x


def fit_weights(rows: Sequence[Row], base: Calibration, l2: float = 1.0, iterations: int = 50,
                hold: Sequence[str] = ()) -> tuple[float, dict[str, float]]:
    """(intercept, weights) maximising log-likelihood − l2/2·Σ(w − w_base)², by Newton's method, keeping the sign
    the base gives a weight: a feature whose fitted weight would cross zero (a higher judge P(yes) lowering truth,
    a verified quote counting against a finding) is held at 0 and the rest fitted again. The features in `hold`
    are held at 0 from the start (the judge, when some runs asked it and others did not: its 0 for "not asked"
    would otherwise stand in for which runs the rows came from)."""
    names = list(FEATURES)
    unknown = sorted(set(hold) - set(names))
    if unknown:
        raise ConfigError(f"unknown feature(s) to hold: {', '.join(unknown)} (known: {', '.join(names)})")
    prior = [base.intercept] + [base.weights.get(f, 0.0) for f in names]
    pinned: set[int] = {names.index(f) + 1 for f in hold}
    while True:
        theta = newton(rows, names, prior, pinned, l2, iterations)
        crossed = {i for i in range(1, len(theta)) if i not in pinned and prior[i] * theta[i] < 0}
        if not crossed:
            return theta[0], {f: round(v, 4) for f, v in zip(names, theta[1:], strict=True)}
        pinned |= crossed


def newton(rows: Sequence[Row], names: list[str], prior: list[float], pinned: set[int], l2: float,
           iterations: int) -> list[float]:
    """The penalised maximum-likelihood parameters, with the `pinned` ones held at 0."""
    theta = [0.0 if i in pinned else v for i, v in enumerate(prior)]
    xs = [[1.0] + [0.0 if i + 1 in pinned else r.features.get(f, 0.0) for i, f in enumerate(names)] for r in rows]
    ys = [r.label for r in rows]
    d = len(theta)
    for _ in range(iterations):
        grad = [0.0] * d
        hess = [[0.0] * d for _ in range(d)]
        for x, y in zip(xs, ys, strict=True):
            p = sigmoid(sum(t * v for t, v in zip(theta, x, strict=True)))
            w = p * (1 - p)
            for i in range(d):
                if x[i]:
                    grad[i] += (y - p) * x[i]
                    for j in range(d):
                        hess[i][j] += w * x[i] * x[j]
        for i in range(d):
            if i in pinned:
                grad[i], hess[i] = 0.0, [0.0] * d
                hess[i][i] = 1.0
                continue
            penalty = l2 if i else 1e-6  # the intercept is (almost) free
            grad[i] -= penalty * (theta[i] - prior[i])
            hess[i][i] += penalty
        step = solve(hess, grad)
        theta = [t + s for t, s in zip(theta, step, strict=True)]
        if max(abs(s) for s in step) < 1e-8:
            break
    return theta


def auroc(scored: Iterable[tuple[float, int]]) -> float | None:
    """P(score of a positive > score of a negative), ties one half; None without both classes."""
    items = list(scored)
    pos = [s for s, y in items if y]
    neg = [s for s, y in items if not y]
    if not pos or not neg:
        return None
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def ece(scored: Sequence[tuple[float, int]], bins: int = 10) -> float | None:
    """Expected calibration error: Σ over equal-width bins of |mean prediction − share positive| × bin share."""
    if not scored:
        return None
    total = 0.0
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        inside = [(p, y) for p, y in scored if lo <= p < hi or (b == bins - 1 and p == 1.0)]
        if inside:
            gap = abs(sum(p for p, _ in inside) / len(inside) - sum(y for _, y in inside) / len(inside))
            total += gap * len(inside) / len(scored)
    return total


def calibrate(rows: Sequence[Row], base: Calibration, *, name: str, l2: float = 1.0, sources: Sequence[str] = (),
              created: str = "", models: Sequence[str] = (), hold: Sequence[str] = ()) -> Calibration:
    """Fit on the rows not held out; evaluate on the held-out ones; a clear error when there is too little."""
    check_rows(rows)
    train = [r for r in rows if not r.held_out]
    test = [r for r in rows if r.held_out]
    if len(train) < MIN_ROWS or len({r.label for r in train}) < 2:
        raise ConfigError(f"need at least {MIN_ROWS} labelled findings to fit, with both labels (accepted/real and "
                          f"dismissed/invented); got {len(train)} ({sum(r.label for r in train)} positive) outside "
                          "the held-out part")
    intercept, weights = fit_weights(train, base, l2, hold=hold)
    fitted = Calibration(
        name=name, kind="fitted", intercept=round(intercept, 4), weights=weights, n=len(train), n_held_out=len(test),
        description=(f"Fitted by `rebuttal calibrate` on {len(train)} labelled findings ({sum(r.label for r in train)}"
                     f" positive): logistic regression by Newton's method with L2 = {l2} toward {base.name}; "
                     f"evaluated on {len(test)} held-out findings never used for fitting."
                     + (f" Held at 0: {', '.join(hold)}." if hold else "")),
        l2=l2, sources=list(sources), created=created, models=list(models))
    scored = [(predict(fitted, r.features), r.label) for r in test]
    auc, err = auroc(scored), ece(scored)
    return fitted.model_copy(update={"held_out_auroc": None if auc is None else round(auc, 4),
                                     "held_out_ece": None if err is None else round(err, 4)})


def mixed_judge(rows: Sequence[Row]) -> bool:
    """Whether some rows carry a judge answer and others not (features leave the judge at exactly 0 when it was
    not asked): a fit then learns the judge's weight from which runs asked it, not from what it said."""
    asked = [r.features.get("judge", 0.0) != 0.0 for r in rows]
    return any(asked) and not all(asked)


def check_rows(rows: Sequence[Row]) -> None:
    """Refuse feature names the model does not know (a report from another engine version)."""
    unknown = sorted({f for r in rows for f in r.features} - set(FEATURES))
    if unknown:
        raise ConfigError(f"labelled findings carry unknown feature(s): {', '.join(unknown)}")


def log_loss(cal: Calibration, rows: Sequence[Row]) -> float:
    """Mean negative log-likelihood of the rows under a calibration (for tests and reports)."""
    eps = 1e-12
    return -sum(math.log(max(eps, p if r.label else 1 - p)) for r in rows
                for p in [predict(cal, r.features)]) / max(1, len(rows))
