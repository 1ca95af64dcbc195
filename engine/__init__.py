"""rebuttal: a multi-agent review workflow engine."""

__version__ = "0.1.0"
