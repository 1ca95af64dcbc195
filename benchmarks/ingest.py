"""Benchmark ingest: time and peak memory on a generated 10,000-file repository.

    python benchmarks/ingest.py [--files 10000] [--keep]

Builds the tree in a temp dir, then measures each mode in a fresh subprocess (so peak RSS
is per mode; CPU seconds are reported too, as a busy machine distorts them less): folder
mode (before `git init`), git mode, and a diff touching 20 files (which still maps the whole
repo). Also renders one budgeted view per mode.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GIT_ENV = {**os.environ, "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1"}

PY = '''"""Module {i} of package {p}."""

import os
from dataclasses import dataclass


@dataclass
class Record{i}:
    name: str
    value: int = {i}

    def total(self, other: "Record{i}") -> int:
        return self.value + other.value


def load_{i}(path: str) -> list[Record{i}]:
    rows = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            key, _, value = line.partition("=")
            rows.append(Record{i}(key.strip(), int(value or 0)))
    return rows


def main() -> None:
    api_key = os.environ.get("API_KEY", "")
    print(len(load_{i}(os.path.join("data", "{p}.txt"))), bool(api_key))
'''
JS = """export function handler{i}(req, res) {{
  const token = req.headers["authorization"];
  if (!token) {{
    return res.status(401).json({{ error: "missing token" }});
  }}
  return res.json({{ id: {i}, ok: true }});
}}
"""
MD = "# Package {p}\n\n## Usage\n\nRun `make {i}`.\n\n## Notes\n\nNothing to add.\n"


def build(root: Path, n: int) -> None:
    """Write about n files: 70% Python, 20% JavaScript, 10% markdown, 100 per folder."""
    for i in range(n):
        p = f"pkg{i // 100:03d}"
        kind = i % 10
        folder = root / "packages" / p
        folder.mkdir(parents=True, exist_ok=True)
        if i % 500 == 0:  # a few planted secrets and files that are skipped
            (folder / f"settings{i}.py").write_text(f'AWS_KEY = "AKIA{i:016d}"\npassword = "pw{i}x"\n')
            (folder / f"logo{i}.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
            continue
        if kind < 7:
            (folder / f"mod{i}.py").write_text(PY.format(i=i, p=p))
        elif kind < 9:
            (folder / f"handler{i}.js").write_text(JS.format(i=i))
        else:
            (folder / f"README{i}.md").write_text(MD.format(i=i, p=p))


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, env=GIT_ENV, capture_output=True)


def measure(target: str, diff: str | None, trace: bool) -> dict[str, float | int]:
    """Ingest once in this process; report seconds, peak RSS and (optionally) tracemalloc."""
    sys.path.insert(0, str(ROOT))
    from engine.target import ingest

    if trace:
        import tracemalloc

        tracemalloc.start()
    start, cpu = time.perf_counter(), time.process_time()
    snap = ingest(target, diff)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    start = time.perf_counter()
    view = snap.view(100_000, ["token", "authorization"])
    view_seconds = time.perf_counter() - start
    out: dict[str, float | int] = {
        "ingest_s": round(seconds, 2),
        "ingest_cpu_s": round(cpu, 2),
        "view_s": round(view_seconds, 2),
        "files": len(snap.files),
        "view_files": len(view.included),
        "map_entries": len(snap.file_map),
        "skipped": len(snap.skipped),
        "redactions": snap.redactions,
        "text_mb": round(snap.total_bytes / 1e6, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    if trace:
        import tracemalloc

        out["tracemalloc_peak_mb"] = round(tracemalloc.get_traced_memory()[1] / 1e6, 1)
    return out


def run_mode(target: Path, diff: str | None, trace: bool) -> dict[str, float | int]:
    cmd = [sys.executable, __file__, "--measure", str(target)]
    cmd += ["--diff", diff] if diff else []
    cmd += ["--trace"] if trace else []
    done = subprocess.run(cmd, check=True, capture_output=True, text=True, env=GIT_ENV)
    result: dict[str, float | int] = json.loads(done.stdout)
    return result


def main() -> None:
    """Build the repo and print one JSON line per mode."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--files", type=int, default=10_000)
    ap.add_argument("--keep", action="store_true", help="keep the generated repo")
    ap.add_argument("--trace", action="store_true", help="also run tracemalloc (slower)")
    ap.add_argument("--measure", help=argparse.SUPPRESS)
    ap.add_argument("--diff", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.diff, args.trace)))
        return
    tmp = Path(tempfile.mkdtemp(prefix="rebuttal-bench-"))
    try:
        start = time.perf_counter()
        build(tmp, args.files)
        print(f"built {args.files} files in {time.perf_counter() - start:.1f}s at {tmp}")
        print("folder", json.dumps(run_mode(tmp, None, args.trace)))
        git(tmp, "init", "-q", "-b", "main")
        git(tmp, "add", "-A")
        git(tmp, "-c", "user.name=b", "-c", "user.email=b@e", "commit", "-qm", "init")
        print("git   ", json.dumps(run_mode(tmp, None, args.trace)))
        for i in range(1, 20 * 100, 100):
            f = tmp / "packages" / f"pkg{i // 100:03d}" / f"mod{i}.py"
            f.write_text(f.read_text().replace("return rows", "return sorted(rows)"))
        print("diff   ", json.dumps(run_mode(tmp, "HEAD", args.trace)))
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
