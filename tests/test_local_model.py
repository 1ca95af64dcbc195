"""The embedded local model: GGUF header reader, assembly and verification, names, server."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import struct
import threading
import uuid
from pathlib import Path

import pytest
from pydantic import BaseModel

from engine.errors import LocalModelError
from engine.llm import local
from engine.llm.gguf import read_gguf_metadata

# --- a hand-written GGUF file -----------------------------------------------------------------


def _str(s: str) -> bytes:
    data = s.encode()
    return struct.pack("<Q", len(data)) + data


def _kv_string(key: str, value: str) -> bytes:
    return _str(key) + struct.pack("<I", 8) + _str(value)


def _kv_string_array(key: str, values: list[str]) -> bytes:
    items = b"".join(_str(v) for v in values)
    return _str(key) + struct.pack("<IIQ", 9, 8, len(values)) + items


def _kv_u32_array(key: str, values: list[int]) -> bytes:
    return _str(key) + struct.pack(f"<IIQ{len(values)}I", 9, 4, len(values), *values)


def _kv_u32(key: str, value: int) -> bytes:
    return _str(key) + struct.pack("<II", 4, value)


def _kv_f32(key: str, value: float) -> bytes:
    return _str(key) + struct.pack("<If", 6, value)


def _kv_bool(key: str, value: bool) -> bytes:
    return _str(key) + struct.pack("<I?", 7, value)


def gguf_bytes(arch: str = "qwen2", name: str = "Qwen2.5 Coder Tiny", tail: bytes = b"") -> bytes:
    """A GGUF v3 header: no tensors, arrays before the wanted keys, then `tail`."""
    kvs = [
        _kv_string_array("tokenizer.ggml.tokens", ["<s>", "hello", "wörld", ""]),
        _kv_u32_array("tokenizer.ggml.token_type", [1, 2, 3, 4]),
        _kv_f32("qwen2.rope.freq_base", 1000000.0),
        _kv_bool("tokenizer.ggml.add_bos_token", False),
        _kv_string("general.architecture", arch),
        _kv_u32("qwen2.context_length", 32768),
        _kv_string("general.name", name),
    ]
    header = b"GGUF" + struct.pack("<IQQ", 3, 0, len(kvs) + (1 if tail else 0))
    return header + b"".join(kvs) + tail


def test_reads_wanted_keys_and_skips_arrays(tmp_path: Path) -> None:
    path = tmp_path / "m.gguf"
    path.write_bytes(gguf_bytes())
    wanted = {"general.architecture", "general.name", "qwen2.context_length", "absent.key"}
    assert read_gguf_metadata(path, wanted) == {
        "general.architecture": "qwen2",
        "general.name": "Qwen2.5 Coder Tiny",
        "qwen2.context_length": 32768,
    }


def test_reads_arrays_and_scalars_when_asked(tmp_path: Path) -> None:
    path = tmp_path / "m.gguf"
    path.write_bytes(gguf_bytes())
    keys = {"tokenizer.ggml.tokens", "tokenizer.ggml.token_type", "tokenizer.ggml.add_bos_token"}
    meta = read_gguf_metadata(path, keys | {"qwen2.rope.freq_base"})
    assert meta["tokenizer.ggml.tokens"] == ["<s>", "hello", "wörld", ""]
    assert meta["tokenizer.ggml.token_type"] == [1, 2, 3, 4]
    assert meta["tokenizer.ggml.add_bos_token"] is False
    assert meta["qwen2.rope.freq_base"] == 1000000.0


def test_stops_once_the_wanted_keys_are_read(tmp_path: Path) -> None:
    path = tmp_path / "m.gguf"
    path.write_bytes(gguf_bytes(tail=b"\xff" * 3))  # a truncated, garbage last pair
    assert read_gguf_metadata(path, {"general.name"}) == {"general.name": "Qwen2.5 Coder Tiny"}
    with pytest.raises(LocalModelError, match="truncated GGUF header"):
        read_gguf_metadata(path, {"never.there"})


@pytest.mark.parametrize(
    ("data", "message"),
    [(b"GGML" + bytes(20), "not a GGUF file"), (b"GGUF" + struct.pack("<I", 1), "version 1")],
)
def test_refuses_non_gguf(tmp_path: Path, data: bytes, message: str) -> None:
    path = tmp_path / "bad.gguf"
    path.write_bytes(data)
    with pytest.raises(LocalModelError, match=message):
        read_gguf_metadata(path, {"general.name"})


# --- assembly from chunk packages -------------------------------------------------------------


@pytest.fixture
def fake_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Register a local model "fake" whose GGUF comes in 3 chunk packages on sys.path."""
    monkeypatch.setenv("REBUTTAL_CACHE", str(tmp_path / "cache"))
    site = tmp_path / "site"
    monkeypatch.syspath_prepend(str(site))

    def register(data: bytes, *, sha256: str | None = None) -> local.LocalModelSpec:
        prefix = f"fake_chunks_{uuid.uuid4().hex}_part"  # fresh module names: no import caching
        thirds = [data[: len(data) // 3], data[len(data) // 3 : -5], data[-5:]]
        for i, chunk in enumerate(thirds, start=1):
            (site / f"{prefix}{i}" / "data").mkdir(parents=True)
            (site / f"{prefix}{i}" / "__init__.py").write_text("")
            (site / f"{prefix}{i}" / "data" / f"part{i:02d}.bin").write_bytes(chunk)
        spec = local.LocalModelSpec(
            name="fake",
            filename="fake.gguf",
            packages=[(f"fake-chunks-part{i}", f"{prefix}{i}") for i in (1, 2, 3)],
            sha256=sha256 or hashlib.sha256(data).hexdigest(),
            architecture="qwen2",
            name_contains="qwen2.5",
            context_per_slot=1024,
            description="test double",
        )
        monkeypatch.setitem(local.LOCAL_MODELS, "fake", spec)
        return spec

    return register


def test_assembles_verifies_and_caches(fake_model, tmp_path: Path, monkeypatch) -> None:
    data = gguf_bytes()
    fake_model(data)
    path = local.model_path("fake")
    assert path == tmp_path / "cache" / "models" / "fake.gguf"
    assert path.read_bytes() == data
    assert path.with_name("fake.gguf.sha256").read_text().startswith(hashlib.sha256(data).hexdigest())
    assert sorted(p.name for p in path.parent.iterdir()) == ["fake.gguf", "fake.gguf.sha256"]

    def no_rehash(_path: Path) -> str:
        raise AssertionError("a verified file must not be hashed again")

    monkeypatch.setattr(local, "_hash_file", no_rehash)
    assert local.model_path("fake") == path


def test_removes_stale_partial_files(fake_model, tmp_path: Path) -> None:
    fake_model(gguf_bytes())
    models = tmp_path / "cache" / "models"
    models.mkdir(parents=True)
    stale, fresh = models / "fake.gguf.dead.part", models / "fake.gguf.busy.part"
    stale.write_bytes(b"x")
    fresh.write_bytes(b"x")
    os.utime(stale, (1, 1))
    local.model_path("fake")
    assert not stale.exists() and fresh.exists()  # another process may still be writing the fresh one


def test_reassembles_a_corrupted_cache(fake_model) -> None:
    data = gguf_bytes()
    fake_model(data)
    path = local.model_path("fake")
    path.write_bytes(data[:-1] + b"!")  # same size, new mtime: the marker no longer matches
    assert local.model_path("fake").read_bytes() == data


def test_concurrent_assembly_is_safe(fake_model) -> None:
    data = gguf_bytes()
    fake_model(data)
    paths: list[Path] = []
    threads = [threading.Thread(target=lambda: paths.append(local.model_path("fake"))) for _ in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(paths) == 2 and paths[0].read_bytes() == data


def test_refuses_sha_mismatch(fake_model, tmp_path: Path) -> None:
    fake_model(gguf_bytes(), sha256="0" * 64)
    with pytest.raises(LocalModelError, match=r"fake: assembled file has sha256 \w+, expected 0+"):
        local.model_path("fake")
    assert list((tmp_path / "cache" / "models").iterdir()) == []  # no temp file left behind


def test_unwritable_cache_is_a_one_line_error(fake_model, tmp_path: Path) -> None:
    fake_model(gguf_bytes())
    (tmp_path / "cache").write_text("a file where the cache folder should be")
    with pytest.raises(LocalModelError, match=r"^local model fake: cannot write .*; set REBUTTAL_CACHE$"):
        local.model_path("fake")


def test_refuses_wrong_architecture(fake_model) -> None:
    fake_model(gguf_bytes(arch="llama"))
    with pytest.raises(LocalModelError, match="architecture 'llama', expected 'qwen2'"):
        local.model_path("fake")


def test_refuses_wrong_model_name(fake_model) -> None:
    fake_model(gguf_bytes(name="Gemma 3 270m"))
    with pytest.raises(LocalModelError, match="named 'Gemma 3 270m'"):
        local.model_path("fake")


def test_missing_package_names_it(fake_model, monkeypatch) -> None:
    spec = fake_model(gguf_bytes())
    packages = [*spec.packages[:2], ("fake-chunks-part3", "no_such_module_anywhere")]
    monkeypatch.setitem(local.LOCAL_MODELS, "fake", dataclasses.replace(spec, packages=packages))
    with pytest.raises(LocalModelError) as err:
        local.model_path("fake")
    assert str(err.value) == "local model fake: package fake-chunks-part3 is not installed; run pip install -e ."


# --- names ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("", local.DEFAULT_LOCAL_MODEL),
        ("default", local.DEFAULT_LOCAL_MODEL),
        ("1.5b", "qwen2.5-coder-1.5b"),
        ("0.5B", "qwen2.5-coder-0.5b"),
        ("qwen2.5-coder-0.5b", "qwen2.5-coder-0.5b"),
        (" Qwen2.5-Coder-1.5B ", "qwen2.5-coder-1.5b"),
    ],
)
def test_resolves_names(name: str, key: str) -> None:
    assert local.resolve_local_name(name) == key


def test_unknown_name_lists_known_ones() -> None:
    with pytest.raises(LocalModelError) as err:
        local.resolve_local_name("llama-70b")
    message = str(err.value)
    assert "\n" not in message and "'llama-70b'" in message
    assert all(name in message for name in local.LOCAL_MODELS)


def test_specs_are_consistent() -> None:
    assert local.DEFAULT_LOCAL_MODEL in local.LOCAL_MODELS
    for key, spec in local.LOCAL_MODELS.items():
        assert spec.name == key and len(spec.sha256) == 64 and spec.context_per_slot >= 4096
        assert local.context_window(key) == spec.context_per_slot


def test_cache_dir_honours_env(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("REBUTTAL_CACHE", str(tmp_path))
    assert local.cache_dir() == tmp_path
    monkeypatch.delenv("REBUTTAL_CACHE")
    assert local.cache_dir() == Path.home() / ".cache" / "rebuttal"


def test_external_server_is_reused_not_started(monkeypatch) -> None:
    monkeypatch.setenv("REBUTTAL_LOCAL_URL", "http://127.0.0.1:9/")
    monkeypatch.setattr(local, "_servers", {})
    server = local.get_server("0.5b")
    assert server.base_url == "http://127.0.0.1:9/v1" and server.running
    assert local.get_server("qwen2.5-coder-0.5b") is server
    model = local.chat_model("0.5b", max_tokens=123)
    assert (str(model.openai_api_base), model.max_retries, model.max_tokens) == (
        "http://127.0.0.1:9/v1", 0, 123)  # fmt: skip
    server.stop()  # a no-op for a server we did not start
    assert server.running


# --- the real model (slow) --------------------------------------------------------------------


class Verdict(BaseModel):
    language: str
    has_bug: bool


@pytest.fixture(scope="module")
def small_server():
    server = local.get_server("0.5b", slots=2)
    yield server
    server.stop()


@pytest.mark.local_model
def test_real_plain_call(small_server) -> None:
    reply = local.chat_model("0.5b", max_tokens=16, seed=0, slots=2).invoke("Count from 1 to 100, one per line.")
    assert isinstance(reply.content, str) and reply.content.strip()
    assert reply.response_metadata["finish_reason"] == "length"  # max_tokens reaches the server
    usage = reply.usage_metadata
    assert usage and usage["input_tokens"] > 0 and usage["output_tokens"] == 16
    assert usage["input_tokens"] == reply.response_metadata["token_usage"]["prompt_tokens"]


@pytest.mark.local_model
def test_real_structured_call(small_server) -> None:
    model = local.chat_model("0.5b", max_tokens=64, temperature=0.0, seed=0, slots=2)
    out = model.with_structured_output(Verdict, method="json_schema", include_raw=True).invoke(
        "Which language is this and is it buggy? def div(a, b): return a / b"
    )
    assert out["parsing_error"] is None and isinstance(out["parsed"], Verdict)
    assert out["raw"].usage_metadata["output_tokens"] > 0
