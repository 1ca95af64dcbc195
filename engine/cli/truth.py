"""`rebuttal triage` (label a run's findings) and `rebuttal calibrate` (fit the truth model to labels)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from engine.console import err, fail, out
from engine.errors import ConfigError, RebuttalError
from engine.rundir import RunDir
from engine.triage import Label, read_triage, set_labels
from engine.verify import calibration, fitting

Opt = typer.Option
ANSWERS: dict[str, Label | None] = {"a": "accept", "accept": "accept", "d": "dismiss", "dismiss": "dismiss",
                                    "s": None, "skip": None, "": None}


def load_findings(run_dir: Path) -> tuple[str, list[dict[str, Any]]]:
    """(run id, findings) of a finished run directory."""
    data = RunDir(run_dir).report_data()
    return str(data["run_id"]), list(data["findings"])


def labels_from_options(ids: set[str], accept: list[str], dismiss: list[str]) -> dict[str, Label]:
    """finding id -> label from --accept/--dismiss; unknown or doubly-labelled ids are a clear error."""
    norm = {i.upper(): i for i in ids}
    both = {a.upper() for a in accept} & {d.upper() for d in dismiss}
    if both:
        raise ConfigError(f"both accepted and dismissed: {', '.join(sorted(both))}")
    unknown = sorted({x for x in [*accept, *dismiss] if x.upper() not in norm})
    if unknown:
        raise ConfigError(f"no such finding(s) in this run: {', '.join(unknown)} (ids look like F-001)")
    out_: dict[str, Label] = {norm[a.upper()]: "accept" for a in accept}
    out_.update({norm[d.upper()]: "dismiss" for d in dismiss})
    return out_


def parse_label_args(tokens: list[str]) -> tuple[list[str], list[str]]:
    """`--accept F-001 F-004 --dismiss F-002` (also `--accept=F-001`, comma lists) -> (accepted, dismissed)."""
    lists: dict[str, list[str]] = {"--accept": [], "--dismiss": []}
    current: list[str] | None = None
    for tok in tokens:
        opt, eq, value = tok.partition("=")
        if opt in lists:
            current = lists[opt]
            if eq:
                current.extend(v for v in value.split(",") if v)
            continue
        if tok.startswith("-") or current is None:
            raise ConfigError(f"unexpected argument {tok!r} (use --accept ID ... --dismiss ID ...)")
        current.extend(v for v in tok.split(",") if v)
    return lists["--accept"], lists["--dismiss"]


def describe(f: dict[str, Any], current: str | None) -> str:
    """What the user sees of one finding before labelling it."""
    s = f["scores"]
    lines = [f"{f['id']}  {f['title']}",
             f"  {f['severity']} · {f['status']} · truth {s['truth']:.2f} · usefulness {s['usefulness']:.2f}"
             + (f" · now: {current}" if current else ""),
             f"  {f['file']}:{f['line_start']}-{f['line_end']}",
             *(f"  > {line}" for line in str(f.get("evidence", "")).splitlines()[:6]),
             f"  fix: {f.get('fix', '')}", f"  truth: {s.get('truth_rationale', '')}"]
    return "\n".join(lines)


def ask_labels(findings: list[dict[str, Any]], current: dict[str, str], ask: Callable[[str], str],
               show: Callable[[str], None]) -> dict[str, Label]:
    """Show each finding and ask accept / dismiss / skip (or quit); returns the labels given."""
    labels: dict[str, Label] = {}
    for n, f in enumerate(findings, 1):
        show(f"\n[{n}/{len(findings)}] " + describe(f, current.get(f["id"])))
        while True:
            answer = ask("accept, dismiss, skip or quit? [a/d/s/q] ").strip().lower()
            if answer in ("q", "quit"):
                return labels
            if answer in ANSWERS:
                break
            show("  please answer a, d, s or q")
        label = ANSWERS[answer]
        if label is not None:
            labels[f["id"]] = label
    return labels


def weights_table(base: calibration.Calibration, fitted: calibration.Calibration) -> Table:
    t = Table(title=f"{fitted.name}: weights ({base.name} → fitted)")
    for col in ("feature", base.name, fitted.name):
        t.add_column(col)
    t.add_row("intercept", f"{base.intercept:+.2f}", f"{fitted.intercept:+.2f}")
    for f in fitted.features:
        t.add_row(f, f"{base.weights.get(f, 0.0):+.2f}", f"{fitted.weights.get(f, 0.0):+.2f}")
    return t


def register(app: typer.Typer) -> None:
    """Add `triage` and `calibrate` to the `rebuttal` app."""

    @app.command("triage", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
    def triage_cmd(
        ctx: typer.Context,
        run_dir: Annotated[Path, typer.Argument(help="A finished run directory.")],
    ) -> None:
        """Mark a run's findings accept / dismiss into triage.yaml: asked one by one in a terminal, or given
        as `--accept F-001 F-004 --dismiss F-002` (for scripts)."""
        try:
            run_id, findings = load_findings(run_dir)
            accept, dismiss = parse_label_args(ctx.args)
            if accept or dismiss:
                labels = labels_from_options({f["id"] for f in findings}, accept, dismiss)
            elif not sys.stdin.isatty():
                raise ConfigError("not a terminal: label findings with --accept F-001 ... --dismiss F-002 ...")
            else:
                current = {k: v.label for k, v in read_triage(run_dir, run_id).findings.items()}
                labels = ask_labels(findings, current, lambda q: typer.prompt(q, default="s", show_default=False),
                                    lambda text: out.print(text, highlight=False, markup=False))
            tri = set_labels(run_dir, run_id, labels, at=datetime.now(UTC).isoformat(timespec="seconds"))
        except RebuttalError as exc:
            fail(str(exc))
            return
        counts = {x: sum(e.label == x for e in tri.findings.values()) for x in ("accept", "dismiss")}
        out.print(f"{len(labels)} label(s) written to {run_dir / 'triage.yaml'}: {counts['accept']} accepted, "
                  f"{counts['dismiss']} dismissed of {len(findings)} findings in all", highlight=False)

    @app.command("calibrate")
    def calibrate_cmd(
        run_dirs: Annotated[list[Path] | None, typer.Argument(help="Triaged run directories.")] = None,
        corpus: Annotated[list[Path] | None, Opt(help="benchmarks/quality.py results folder, or one result JSON "
                                                      "(repeatable).")] = None,
        out_path: Annotated[Path | None, Opt("--out", help="Where to write (default: the user's config "
                                                           "directory, used by later runs).")] = None,
        name: Annotated[str | None, Opt(help="Name of the calibration (default user-<time>).")] = None,
        l2: Annotated[float, Opt(help="L2 pull toward the shipped prior's weights.")] = 1.0,
        for_model: Annotated[list[str] | None, Opt(help="Judge model the fit is for (repeatable; runs with another "
                                                        "judge keep their own). Default: any model.")] = None,
        hold: Annotated[list[str] | None, Opt(help="A feature held at 0 (repeatable), e.g. judge when some runs "
                                                   "asked the judge and others did not.")] = None,
    ) -> None:
        """Refit the truth model from triaged runs and/or the quality corpus; report held-out AUROC and ECE."""
        now = datetime.now(UTC)
        try:
            if not run_dirs and not corpus:
                raise ConfigError("give triaged run directories and/or --corpus RESULTS_DIR")
            rows = []
            for d in run_dirs or []:
                got = fitting.rows_from_run(d)
                labelled = len(read_triage(d, load_findings(d)[0]).findings)
                if labelled > len(got):
                    err.print(f"warning: {d}: {labelled - len(got)} labelled finding(s) left out (no feature vector: "
                              "a run from before calibrated truth, or a label for a finding it does not have)",
                              highlight=False)
                rows += got
            rows += [r for c in corpus or [] for r in fitting.rows_from_corpus(c)]
            base = calibration.shipped()
            sources = [str(d) for d in run_dirs or []] + [f"corpus:{c}" for c in corpus or []]
            models = [calibration.canonical_model(m) for m in for_model or []]
            if "judge" not in (hold or []) and fitting.mixed_judge([r for r in rows if not r.held_out]):
                err.print("warning: some runs asked the truth judge and others did not; its weight would learn "
                          "which runs a finding came from (give --hold judge to keep it at 0)", highlight=False)
            fitted = fitting.calibrate(rows, base, name=name or f"user-{now:%Y%m%d-%H%M%S}", l2=l2,
                                       sources=sources, created=now.isoformat(timespec="seconds"), models=models,
                                       hold=hold or ())
            target = out_path or calibration.user_path()
            calibration.save(fitted, target)
        except (RebuttalError, OSError) as exc:
            fail(str(exc))
            return
        out.print(weights_table(base, fitted))
        held = [r for r in rows if r.held_out]
        base_scored = [(calibration.predict(base, r.features), r.label) for r in held]
        fmt = lambda x: "n/a" if x is None else f"{x:.3f}"  # noqa: E731
        out.print(f"fitted on {fitted.n} labelled findings ({sum(r.label for r in rows if not r.held_out)} "
                  f"positive); held out {fitted.n_held_out} ({sum(r.label for r in held)} positive): AUROC "
                  f"{fmt(fitted.held_out_auroc)}, ECE {fmt(fitted.held_out_ece)} (the shipped {base.name}: AUROC "
                  f"{fmt(fitting.auroc(base_scored))}, ECE {fmt(fitting.ece(base_scored))})", highlight=False)
        out.print(f"written to {target}" + ("" if out_path else " (later runs use it)"), highlight=False)
        if fitted.n_held_out == 0:
            err.print("warning: nothing was held out, so the fit is not evaluated (label more findings)")
