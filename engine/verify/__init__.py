"""Verification: evidence the engine gathers itself (quotes, analyzers, reproducers, document claims)."""
