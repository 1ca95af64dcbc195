"""Secrets never reach a prompt: redaction in text, views and the serialised snapshot."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from engine.target import ingest
from engine.target.secrets import redact

AWS_ID = "AKIAIOSFODNN7EXAMPLE"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
KEY_BODY = [
    "MIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM2Yr2GQeFxAtC6aJ5sDlRDGN8lPEC",
    "q1s9Xw0p8D7mJqkTzR4vB2nY6uH3cL5eFgK1oZ2wT8rM7iN4sQ9xA0dE6fV3bU2h",
]
PEM = "-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(KEY_BODY) + "\n-----END RSA PRIVATE KEY-----"
SECRETS = [AWS_ID, AWS_SECRET, *KEY_BODY, "hunter2hunter2", "s3cr3tP4ss"]

CONFIG = f"""import os

AWS_ACCESS_KEY_ID = "{AWS_ID}"
aws_secret_access_key = "{AWS_SECRET}"
DATABASE_URL = "postgres://app:s3cr3tP4ss@db.internal:5432/app"
password = "hunter2hunter2"
DEPLOY_KEY = \"\"\"{PEM}\"\"\"
checksum_sha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def connect():
    return os.environ["DB"]
"""


def assert_clean(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "settings.py").write_text(CONFIG)
    (tmp_path / "README.md").write_text(f"Use the key {AWS_ID} for staging.\n")
    (tmp_path / "deploy.key").write_text(PEM + "\n")
    (tmp_path / ".env").write_text(f"AWS_SECRET_ACCESS_KEY={AWS_SECRET}\n")
    (tmp_path / "ok.py").write_text("x = 1\n")
    return tmp_path


def test_planted_keys_never_appear_in_text_views_or_snapshot(project: Path) -> None:
    snap = ingest(project)
    for f in snap.files:
        assert_clean(f.text)
    for budget in (10**9, 300):
        assert_clean(snap.view(budget, ["aws key"]).text)
    assert_clean(snap.model_dump_json())
    reasons = {s.path: s.reason for s in snap.skipped}
    assert reasons["deploy.key"].startswith("secret file")
    assert reasons[".env"].startswith("secret file")
    settings = snap.file("settings.py")
    assert settings is not None
    assert settings.lines[2] == 'AWS_ACCESS_KEY_ID = "[REDACTED:aws-access-key]"'
    assert settings.lines[6] == 'DEPLOY_KEY = """[REDACTED:private-key]'
    assert settings.lines[7:10] == ["", "", '"""']  # the block kept its lines: numbers stay real
    assert settings.lines[13] == "def connect():"
    assert "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" in settings.text
    assert settings.redactions == 5
    assert snap.redactions == 6 and snap.redacted_files == ["README.md", "settings.py"]


def test_secret_in_a_diff_is_redacted(tmp_path: Path) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    git("config", "user.name", "t")
    git("config", "user.email", "t@e")
    (tmp_path / "app.py").write_text("x = 1\n")
    git("add", "-A")
    git("commit", "-qm", "base")
    (tmp_path / "app.py").write_text(CONFIG)
    snap = ingest(tmp_path, diff="HEAD")
    assert_clean(snap.view().text)
    assert_clean(snap.model_dump_json())
    assert snap.redactions == 5


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ('token = "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789"', "github-token"),
        ("slack: xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", "slack-token"),
        ('key = "sk_live_4eC39HqLyjWDarjtT1zdp7dc"', "stripe-access-key"),
        ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\n", "private-key"),
    ],
)
def test_detectors(line: str, kind: str) -> None:
    text, n = redact(line, "x.yaml")
    assert f"[REDACTED:{kind}]" in text and n >= 1
    assert text.count("\n") == line.count("\n")


def test_ordinary_code_is_left_alone() -> None:
    code = (
        "def get_user_by_email_address(key):\n"
        "    return cache[key]\n"
        'VERSION = "1.2.3"\n'
        'uuid = "123e4567-e89b-12d3-a456-426614174000"\n'
        'password = os.environ["PASSWORD"]\n'
    )
    assert redact(code, "app.py") == (code, 0)
