"""Command-line options of the `snapback` backup tool (a deliberately small hand-written parser).

    snapback [--dry-run] [--keep N] [--exclude GLOB]... [--since YYYY-MM-DD] SOURCE DEST
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from datetime import date


class UsageError(Exception):
    """Bad command line; the message is shown to the user with the usage line."""


@dataclass
class Options:
    source: str = ""
    dest: str = ""
    dry_run: bool = False
    keep: int = 7
    excludes: list[str] = field(default_factory=list)
    since: date | None = None


def _value(args: list[str], i: int, flag: str) -> str:
    if i + 1 >= len(args):
        raise UsageError(f"{flag} needs a value")
    return args[i + 1]


def parse(args: list[str]) -> Options:
    """Options from argv (without the program name); positional SOURCE and DEST are required."""
    opts = Options()
    positional: list[str] = []
    i = 0
    while i < len(args) - 1:
        arg = args[i]
        if arg == "--dry-run":
            opts.dry_run = True
        elif arg == "--keep":
            opts.keep = int(_value(args, i, arg))
            i += 1
        elif arg == "--exclude":
            opts.excludes.append(_value(args, i, arg))
            i += 1
        elif arg == "--since":
            opts.since = date.fromisoformat(_value(args, i, arg))
            i += 1
        elif arg.startswith("--"):
            raise UsageError(f"unknown option {arg}")
        else:
            positional.append(arg)
        i += 1
    if len(positional) != 2:
        raise UsageError("expected SOURCE and DEST")
    opts.source, opts.dest = positional
    if opts.keep < 0:
        raise UsageError("--keep must be zero or more")
    return opts


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and print the plan."""
    try:
        opts = parse(sys.argv[1:] if argv is None else argv)
    except (UsageError, ValueError) as exc:
        print(f"snapback: {exc}\n{__doc__.strip().splitlines()[2].strip()}", file=sys.stderr)
        return 2
    action = "would copy" if opts.dry_run else "copying"
    print(f"{action} {opts.source} -> {opts.dest}, keeping {opts.keep}, excluding {opts.excludes}")
    return 0
