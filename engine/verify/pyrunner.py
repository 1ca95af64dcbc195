"""Copied into the sandbox next to a Python reproducer and run there: runs it, prints one result record.

Usage (inside the sandbox only): `python _rebuttal_runner.py REPRODUCER MARKER`. It runs the reproducer's
top level, then calls every function whose name starts with `test`, and prints MARKER + a JSON record:
status (passed / failed), the exception's type and message, the traceback's files relative to the copy,
and the copy's files loaded as modules. Standard library only: it must run on any interpreter.
"""

import json
import os
import runpy
import sys
import traceback

ROOT = os.path.dirname(os.path.abspath(__file__))


def relative(path):
    """A path relative to the copy when inside it, else as is."""
    full = os.path.abspath(path)
    return os.path.relpath(full, ROOT) if full.startswith(ROOT + os.sep) else path


def loaded():
    """The copy's files loaded as modules (the target's code that ran)."""
    files = (getattr(m, "__file__", None) for m in list(sys.modules.values()))
    return sorted({relative(f) for f in files if f and os.path.abspath(f).startswith(ROOT + os.sep)})


def record(status, exc=None):
    """The result record of one run."""
    out = {"status": status, "loaded": loaded()}
    if exc is not None:
        out.update(type=type(exc).__name__, message=str(exc)[:500],
                   frames=[relative(f.filename) for f in traceback.extract_tb(exc.__traceback__)],
                   missing=getattr(exc, "name", None) if isinstance(exc, ImportError) else None,
                   filename=relative(exc.filename) if isinstance(exc, SyntaxError) and exc.filename else None)
    return out


def main():
    """Run the reproducer and print the record after the marker."""
    path, marker = sys.argv[1], sys.argv[2]
    sys.path.insert(0, ROOT)
    for extra in ("src", ".deps"):  # src layouts import without `src.`; a setup command may install into .deps
        if os.path.isdir(os.path.join(ROOT, extra)):
            sys.path.insert(1, os.path.join(ROOT, extra))
    try:
        namespace = runpy.run_path(path, run_name="__rebuttal_reproducer__")
        for name, value in list(namespace.items()):
            if name.startswith("test") and callable(value):
                value()
    except SystemExit as exc:
        result = record("failed", exc) if exc.code not in (0, None) else record("passed")
    except BaseException as exc:  # every outcome is reported, that is the point of the runner
        traceback.print_exc()
        result = record("failed", exc)
    else:
        result = record("passed")
    sys.stdout.flush()
    sys.__stdout__.write("\n" + marker + json.dumps(result) + "\n")
    sys.__stdout__.flush()
    return 0 if result["status"] == "passed" else 1


if __name__ == "__main__":
    sys.exit(main())
