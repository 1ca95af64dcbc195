"""Server hardening: inputs are redacted at rest, a rejected request leaves nothing, errors hide server paths."""

from __future__ import annotations

import base64
from pathlib import Path

from starlette.testclient import TestClient

from engine.serve.app import ServeConfig, create_app
from tests.secret_corpus import CORPUS, IN_NAMES

GHP = IN_NAMES[0]


def client(tmp_path: Path) -> TestClient:
    return TestClient(create_app(ServeConfig(out_dir=tmp_path / "out", model="fake", check_providers=False)))


def post(c: TestClient, content: object, **extra: object) -> tuple[int, dict]:
    body = {"model": "rebuttal/single", "messages": [{"role": "user", "content": content}], **extra}
    r = c.post("/v1/chat/completions", json=body)
    return r.status_code, r.json()


def test_request_inputs_are_redacted_at_rest(tmp_path: Path) -> None:
    text = "\n".join(f'{name} = "{value}"' for name, value, _ in CORPUS if "\n" not in value)
    data = base64.b64encode(f"token = '{GHP}'\n".encode()).decode()
    parts = [
        {"type": "text", "text": "def f():\n    return 1\n" + text},
        {"type": "file", "file": {"filename": f"notes-{GHP}.py", "file_data": data}},
    ]
    status, _ = post(client(tmp_path), parts)
    assert status == 200
    inputs = tmp_path / "out" / "_inputs"
    for p in inputs.rglob("*"):
        assert GHP not in p.name
        if p.is_file():
            body = p.read_text(encoding="utf-8")
            for _, value, _ in CORPUS:
                assert value not in body, (p.name, value)


def test_a_rejected_request_leaves_no_input_folder_and_no_server_path(tmp_path: Path) -> None:
    c = client(tmp_path)
    for content, extra in [
        ("   \n\t", {}),
        ("x = 1\n", {"rebuttal": {"personas": 0}}),
        ("x = 1\n", {"rebuttal": {"persona": ["no-such-persona"]}}),
    ]:
        status, body = post(c, content, **extra)
        assert status == 400, body
        message = body["error"]["message"]
        assert str(tmp_path) not in message, message
    inputs = tmp_path / "out" / "_inputs"
    assert not inputs.exists() or not any(inputs.iterdir())


def test_empty_input_message_names_no_path(tmp_path: Path) -> None:
    data = base64.b64encode(b"").decode()
    status, body = post(
        client(tmp_path),
        [{"type": "file", "file": {"filename": "a.py", "file_data": data}}, {"type": "text", "text": "x = 1"}],
    )
    assert status == 400
    assert str(tmp_path) not in body["error"]["message"]
    assert "a.py" in body["error"]["message"]


DEEP_PY = "x = (1\n" + "+ 1\n" * 60000 + ")\n\n\ndef f():\n    return x\n"


def test_deep_json_body_and_a_string_file_part_are_openai_400s(tmp_path: Path) -> None:
    c = client(tmp_path)
    deep = '{"model": "rebuttal/single", "messages": ' + "[" * 100000 + "]" * 100000 + "}"
    r = c.post("/v1/chat/completions", content=deep, headers={"content-type": "application/json"})
    assert r.status_code == 400 and "nested too deeply" in r.json()["error"]["message"]
    status, body = post(c, [{"type": "file", "file": "not-an-object"}])
    assert status == 400 and "'file' must be an object" in body["error"]["message"]


def test_a_60000_line_expression_is_reviewed_on_the_server(tmp_path: Path) -> None:
    status, body = post(client(tmp_path), DEEP_PY, rebuttal={"filename": "deep.py"})
    assert status == 200, body
