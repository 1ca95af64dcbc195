"""`python -m engine` runs the rebuttal CLI."""

from engine.cli import main

main()
