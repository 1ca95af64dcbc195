"""Serving reviews over HTTP: an OpenAI-compatible API (`app`) and the text-to-target helpers (`inputs`)."""
