"""A corpus of fake secrets: deterministic, obviously fake (they spell FAKE or EXAMPLE), format-valid.

Each entry is (name, secret value, line templates). `{v}` in a template is the value; every template
puts the value where a real file would. The whole value must never appear in a run directory.
"""

from __future__ import annotations

import base64
import json
import random
import string

_rng = random.Random(20261126)
ALNUM = string.ascii_letters + string.digits
LOWER_HEX = "0123456789abcdef"


def rand(n: int, alphabet: str = ALNUM) -> str:
    """n deterministic pseudo-random characters."""
    return "".join(_rng.choice(alphabet) for _ in range(n))


def fake(n: int, alphabet: str = ALNUM, mark: str = "FAKE") -> str:
    """n characters that spell `mark` first, so no one mistakes them for a real secret."""
    mark = "".join(c for c in mark if c in alphabet) or ""
    return mark + rand(n - len(mark), alphabet)


def _b64url(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


JWT = (
    f"{_b64url({'alg': 'HS256', 'typ': 'JWT'})}.{_b64url({'sub': 'FAKE-user', 'iat': 1700000000})}."
    f"{rand(43, ALNUM + '-_')}"
)
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYFAKEKEY" + rand(3)
KEYED = ['{name} = "{v}"', "{name}: {v}", "{name}={v}"]  # .py, .yaml/.md, .env
ANYWHERE = [*KEYED, "see {v} here", "- value: `{v}`"]

# (name, value, contexts): `name` is the key a config would use.
CORPUS: list[tuple[str, str, list[str]]] = [
    # detect-secrets plugins (1.5.0)
    ("artifactory_token", "AKC" + fake(70), KEYED),
    ("aws_access_key_id", "AKIA" + fake(16, string.ascii_uppercase + string.digits), ANYWHERE),
    ("aws_secret_access_key", AWS_SECRET, KEYED),
    ("AWS_SECRET_ACCESS_KEY", AWS_SECRET[::-1].replace("/", "+"), KEYED),
    ("azure_storage", "AccountKey=" + fake(86) + "==", ANYWHERE),
    ("basic_auth_url", "https://admin:" + fake(14) + "@example.invalid/", ANYWHERE),
    ("cloudant_password", fake(64, LOWER_HEX + "FAKE"), KEYED),
    ("discord_bot_token", "MT" + rand(24) + "." + rand(6) + "." + fake(27), ANYWHERE),
    ("github_token", "ghp_" + fake(36), ANYWHERE),
    ("gitlab_token", "glpat-" + fake(20), ANYWHERE),
    ("base64_secret", fake(40, ALNUM + "+/"), KEYED),
    ("hex_secret", fake(48, LOWER_HEX, "fa4e"), KEYED),
    ("ibm_cloud_iam_key", fake(44, ALNUM + "_-"), KEYED),
    ("ibm_cos_secret_access_key", fake(48, LOWER_HEX, "fa4e"), KEYED),
    ("jwt", JWT, ANYWHERE),
    ("password", "FakePass" + rand(6) + "!9", KEYED),
    ("mailchimp_key", fake(32, LOWER_HEX, "fa4e") + "-us12", ANYWHERE),
    ("npm_token", "npm_" + fake(36), ANYWHERE),
    ("openai_api_key", "sk-" + fake(20) + "T3BlbkFJ" + rand(20), ANYWHERE),
    ("pypi_token", "pypi-AgEIcHlwaS5vcmc" + fake(70, ALNUM + "-_"), ANYWHERE),
    ("sendgrid_key", "SG." + fake(22) + "." + rand(43), ANYWHERE),
    ("slack_token", "xoxb-1234567890-" + fake(24, ALNUM + "-"), ANYWHERE),
    ("slack_webhook", "https://hooks.slack.com/services/T0FAKE000/B0FAKE000/" + fake(24), ANYWHERE),
    ("softlayer_api_key", fake(64, LOWER_HEX, "fa4e"), KEYED),
    ("square_secret", "sq0csp-" + fake(43, ALNUM + "-_"), ANYWHERE),
    ("stripe_key", "sk_live_" + fake(24), ANYWHERE),
    ("telegram_bot_token", "1234567890:AA" + fake(33, ALNUM + "_-"), ANYWHERE),
    ("twilio_key", "SK" + fake(32, LOWER_HEX, "fa4e"), ANYWHERE),
    # common cloud formats
    ("google_api_key", "AIza" + fake(35), ANYWHERE),
    ("google_client_secret", "GOCSPX-" + fake(28), ANYWHERE),
    ("digitalocean_token", "dop_v1_" + fake(64, LOWER_HEX, "fa4e"), ANYWHERE),
    ("anthropic_api_key", "sk-ant-api03-" + fake(80, ALNUM + "-_") + "AA", ANYWHERE),
    ("openai_project_key", "sk-proj-" + fake(48) + "1", ANYWHERE),
    ("hf_token", "hf_" + fake(34), ANYWHERE),
    ("vault_token", "hvs." + fake(24), ANYWHERE),
    ("databricks_token", "dapi" + fake(32, LOWER_HEX, "fa4e"), ANYWHERE),
    # VCS
    ("github_pat", "github_pat_11FAKE" + rand(17) + "_" + rand(59), ANYWHERE),
    ("gho_token", "gho_" + fake(36), ANYWHERE),
    ("bitbucket_app_password", "ATBB" + fake(32), ANYWHERE),
    # payment
    ("stripe_restricted", "rk_live_" + fake(24), ANYWHERE),
    ("stripe_webhook_secret", "whsec_" + fake(32), ANYWHERE),
    ("braintree_token", "access_token$production$" + fake(16, LOWER_HEX, "fa4e") + "$" + rand(32, LOWER_HEX), ANYWHERE),
    ("square_access_token", "EAAA" + fake(60), ANYWHERE),
    ("shopify_token", "shpat_" + fake(32, LOWER_HEX, "fa4e"), ANYWHERE),
    # chat
    ("discord_webhook", "https://discord.com/api/webhooks/123456789012345678/" + fake(68, ALNUM + "_-"), ANYWHERE),
    ("slack_app_token", "xapp-1-A0FAKE-" + fake(30, ALNUM + "-"), ANYWHERE),
    ("mailgun_key", "key-" + fake(32, LOWER_HEX, "fa4e"), ANYWHERE),
    # database URLs (the password is the secret)
    (
        "postgres_password",
        "PgFake" + rand(12),
        ["DATABASE_URL=postgres://app:{v}@db.internal:5432/app", "see postgresql://app:{v}@db/app here"],
    ),
    ("mysql_password", "MyFake" + rand(12), ['url = "mysql://root:{v}@localhost/db"']),
    ("mongo_password", "MoFake" + rand(12), ["uri: mongodb+srv://user:{v}@cluster0.example.invalid/db"]),
    ("redis_password", "ReFake" + rand(12), ["REDIS_URL=redis://:{v}@cache:6379/0"]),
    ("amqp_password", "AmFake" + rand(12), ["see amqp://guest:{v}@rabbit:5672/ here"]),
    # unquoted under a secret-looking parent key (Markdown / YAML)
    ("secrets_api", fake(32), ["secrets:\n  api: {v}"]),
]

# Tokens that must also never survive in a file or folder name.
IN_NAMES = [
    "ghp_" + fake(36),
    "glpat-" + fake(20),
    "xoxb-1234567890-" + fake(24, ALNUM + "-"),
    "AKIA" + fake(16, string.ascii_uppercase + string.digits),
    JWT,
]


def secret_values() -> list[str]:
    """Every value the corpus plants."""
    return [v for _, v, _ in CORPUS] + IN_NAMES


def write_corpus(folder: object) -> None:
    """Plant every secret of the corpus in a folder, in every context its entry names, and in names."""
    from pathlib import Path

    root = Path(str(folder))
    root.mkdir(parents=True, exist_ok=True)
    py, yml, env, md = [], [], [], ["# Deployment notes", ""]
    for name, value, contexts in CORPUS:
        for template in contexts:
            line = template.format(name=name, v=value)
            if template.startswith("{name} = "):
                py.append(line)
            elif template.startswith("{name}: "):
                yml.append(line)
                md.append(line)
            elif template.startswith("{name}="):
                env.append(line)
            else:
                md.append(line)
                yml.append(f"# {line}" if "\n" not in line else line)
    (root / "settings.py").write_text("\n".join(py) + "\n\n\ndef connect():\n    return 42\n", encoding="utf-8")
    (root / "config.yaml").write_text("\n".join(yml) + "\n", encoding="utf-8")
    (root / "settings.env").write_text("\n".join(env) + "\n", encoding="utf-8")
    (root / "NOTES.md").write_text("\n".join(md) + "\n", encoding="utf-8")
    for i, token in enumerate(IN_NAMES):
        (root / f"notes-{token}.txt").write_text(f"note {i}: rotate every quarter\n", encoding="utf-8")
    (root / f"dir-{IN_NAMES[0]}").mkdir(exist_ok=True)
    (root / f"dir-{IN_NAMES[0]}" / "main.py").write_text("def main():\n    return 1\n", encoding="utf-8")
