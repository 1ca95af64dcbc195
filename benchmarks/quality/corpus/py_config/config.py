"""Load the service configuration from a YAML file and the environment."""

import os
from dataclasses import dataclass

import yaml


@dataclass
class Settings:
    database_url: str
    admin_user: str
    admin_password: str
    debug: bool = False
    workers: int = 4


def load(path: str) -> Settings:
    """Read settings from `path`, then let environment variables override them."""
    with open(path, encoding="utf-8") as fh:
        raw = yaml.load(fh, Loader=yaml.Loader) or {}
    return Settings(
        database_url=os.environ.get("DATABASE_URL", raw.get("database_url", "sqlite:///app.db")),
        admin_user=os.environ.get("ADMIN_USER", raw.get("admin_user", "admin")),
        admin_password=os.environ.get("ADMIN_PASSWORD", raw.get("admin_password", "changeme123")),
        debug=_flag(os.environ.get("DEBUG", raw.get("debug", False))),
        workers=int(os.environ.get("WORKERS", raw.get("workers", 4))),
    )


def _flag(value: object) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


def describe(settings: Settings) -> str:
    """A one-line summary for the startup log."""
    return f"db={settings.database_url} admin={settings.admin_user} debug={settings.debug} workers={settings.workers}"
