"""Safe YAML load and dump through libyaml's C implementation when PyYAML was built with it.

A run writes and re-reads one front matter block per artifact; the pure-Python parser and emitter were
about a fifth of the engine's CPU time per call (benchmarks/RESULTS.md). Both paths are the safe ones.
"""

from __future__ import annotations

from typing import Any

import yaml

_Loader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper: type = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def load(text: str) -> Any:
    """yaml.safe_load, in C when available; nesting too deep for the parser is a YAMLError, not a crash."""
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a safe loader
    except (RecursionError, MemoryError):
        raise yaml.YAMLError("nested too deeply") from None


def dump(data: Any, **options: Any) -> str:
    """yaml.safe_dump to a string, in C when available."""
    return yaml.dump(data, Dumper=_Dumper, **options)
