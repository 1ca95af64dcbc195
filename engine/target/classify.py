"""Skip rules and decoding: which files a persona may see, and how their bytes become text.

Rules, in order (the first that applies is the recorded reason):
- folders: version control, dependencies and build output (node_modules, vendor, third_party,
  .venv, dist, build, __pycache__, .git ...) are skipped whole, as one entry.
- secret files (.env, .env.*, *.pem, *.key, id_rsa*, *.p12 ...) are never read.
- lock files (package-lock.json, poetry.lock, uv.lock, Cargo.lock, *.lock ...).
- generated files by name (*.min.js, *.map, *_pb2.py, *.pb.go ...) and binaries by extension.
- by content: a NUL byte in the first 8 KiB (binary, unless a UTF-16 BOM), undecodable bytes,
  an `@generated` / `DO NOT EDIT` marker in the first lines, or minified text (long lines).
Non-UTF-8 text is decoded with charset-normalizer's best guess; its name is recorded.
"""

from __future__ import annotations

import codecs
import re
from pathlib import PurePosixPath

from charset_normalizer import from_bytes

SKIP_DIRS: dict[str, str] = {
    **dict.fromkeys((".git", ".hg", ".svn", ".bzr"), "version control folder"),
    **dict.fromkeys(
        ("node_modules", "vendor", "third_party", "bower_components", "site-packages", "Pods"),
        "vendored dependencies folder",
    ),
    **dict.fromkeys((".venv", "venv", ".tox", ".nox", ".eggs"), "virtual environment folder"),
    **dict.fromkeys(
        ("dist", "build", "__pycache__", ".next", ".nuxt", ".gradle", ".terraform"),
        "build output folder",
    ),
    **dict.fromkeys(
        (".mypy_cache", ".pytest_cache", ".ruff_cache", ".cache", ".idea", ".vscode"),
        "cache or editor folder",
    ),
}
SECRET_NAMES = {".npmrc", ".pypirc", ".netrc", ".git-credentials", ".htpasswd", "credentials"}
SECRET_SUFFIXES = {".pem", ".key", ".p12", ".pfx", ".jks", ".keystore", ".ppk", ".kdbx", ".tfstate"}
SECRET_PREFIXES = ("id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", ".env")
LOCK_NAMES = {
    "package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml", "poetry.lock",
    "pipfile.lock", "uv.lock", "cargo.lock", "gemfile.lock", "composer.lock", "go.sum",
    "mix.lock", "pubspec.lock", "podfile.lock", "packages.lock.json", "flake.lock",
    "bun.lockb", ".terraform.lock.hcl", "pdm.lock", "conda-lock.yml",
}  # fmt: skip
GENERATED_SUFFIXES = (
    ".min.js", ".min.css", ".map", "_pb2.py", "_pb2_grpc.py", ".pb.go", ".pb.cc", ".pb.h",
    ".g.dart", ".designer.cs", ".pyc", ".pyo",
)  # fmt: skip
_BINARY = """
.png .jpg .jpeg .gif .bmp .ico .webp .tiff .psd .mp3 .mp4 .wav .ogg .flac .avi .mov .mkv
.zip .gz .tgz .bz2 .xz .7z .rar .tar .jar .war .whl .egg .so .dll .dylib .exe .bin .o .a
.class .wasm .ttf .otf .woff .woff2 .eot .sqlite .sqlite3 .db .parquet .npy .npz .pkl
.pickle .pt .pth .onnx .gguf .safetensors .h5 .doc .docx .xls .xlsx .ppt .pptx
"""
BINARY_SUFFIXES = set(_BINARY.split())
DOCUMENT_SUFFIXES = {".md", ".markdown", ".rst", ".txt", ".pdf"}
LANGUAGES = {
    ".py": "python", ".pyi": "python", ".js": "javascript", ".mjs": "javascript",
    ".cjs": "javascript", ".jsx": "javascript", ".ts": "typescript", ".tsx": "typescript",
    ".go": "go", ".rs": "rust", ".java": "java", ".kt": "kotlin", ".kts": "kotlin",
    ".scala": "scala", ".rb": "ruby", ".php": "php", ".c": "c", ".h": "c", ".cc": "cpp",
    ".cpp": "cpp", ".cxx": "cpp", ".hpp": "cpp", ".hh": "cpp", ".cs": "csharp", ".swift": "swift",
    ".m": "objective-c", ".sh": "shell", ".bash": "shell", ".zsh": "shell", ".ps1": "powershell",
    ".sql": "sql", ".html": "html", ".htm": "html", ".css": "css", ".scss": "scss",
    ".vue": "vue", ".svelte": "svelte", ".json": "json", ".yaml": "yaml", ".yml": "yaml",
    ".toml": "toml", ".ini": "ini", ".cfg": "ini", ".xml": "xml", ".md": "markdown",
    ".markdown": "markdown", ".rst": "rst", ".txt": "text", ".pdf": "pdf", ".tf": "terraform",
    ".proto": "protobuf", ".lua": "lua", ".r": "r", ".jl": "julia", ".dart": "dart",
    ".ex": "elixir", ".exs": "elixir", ".erl": "erlang", ".hs": "haskell", ".ml": "ocaml",
    ".clj": "clojure", ".zig": "zig", ".nim": "nim", ".graphql": "graphql", ".j2": "jinja",
}  # fmt: skip
LANGUAGE_NAMES = {"dockerfile": "dockerfile", "makefile": "make", "cmakelists.txt": "cmake"}
_GENERATED_MARK = re.compile(r"@generated|DO NOT EDIT|Code generated .* DO NOT EDIT")


def dir_skip_reason(name: str) -> str | None:
    """Why a folder with this name is skipped whole, or None."""
    if name in SKIP_DIRS:
        return SKIP_DIRS[name]
    if name.endswith(".egg-info"):
        return "build output folder"
    return None


def skipped_folder(path: str) -> tuple[str, str] | None:
    """(folder prefix, reason) when a file lies inside a folder that is skipped whole."""
    parts = PurePosixPath(path).parts
    for i, part in enumerate(parts[:-1]):
        reason = dir_skip_reason(part)
        if reason:
            return "/".join(parts[: i + 1]) + "/", reason
    return None


def path_skip_reason(path: str) -> str | None:
    """Why a file is skipped from its path alone (never read), or None."""
    folder = skipped_folder(path)
    if folder:
        return folder[1]
    parts = PurePosixPath(path).parts
    name = parts[-1].lower() if parts else ""
    suffix = PurePosixPath(name).suffix
    if name in SECRET_NAMES or suffix in SECRET_SUFFIXES or name.startswith(SECRET_PREFIXES):
        return "secret file (never sent to a model)"
    if name in LOCK_NAMES or suffix == ".lock":
        return "lock file"
    if name.endswith(GENERATED_SUFFIXES):
        return "generated file"
    if suffix in BINARY_SUFFIXES:
        return f"binary file ({suffix})"
    return None


def is_secret_path(path: str) -> bool:
    """True for files that must never leave the machine (.env, keys...)."""
    return path_skip_reason(PurePosixPath(path).name) == "secret file (never sent to a model)"


def language_of(path: str) -> str | None:
    """The language name from the file extension (or a well-known file name)."""
    p = PurePosixPath(path)
    return LANGUAGES.get(p.suffix.lower()) or LANGUAGE_NAMES.get(p.name.lower())


def is_document_path(path: str) -> bool:
    """True for markdown, reStructuredText, plain text and PDF files."""
    return PurePosixPath(path).suffix.lower() in DOCUMENT_SUFFIXES


def folder_kind(paths: list[str]) -> str:
    """A folder's target kind: "document" when every file in it is a document (a folder of design docs is
    critiqued as documents: stakeholder personas, the claims stage), else "folder"."""
    return "document" if paths and all(is_document_path(p) for p in paths) else "folder"


_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)  # fmt: skip


def _try_decode(data: bytes, encoding: str) -> tuple[str, str] | None:
    try:
        return normalise_newlines(data.decode(encoding)), encoding
    except (UnicodeDecodeError, LookupError):
        return None


def decode(data: bytes) -> tuple[str, str] | None:
    """(text, encoding) for text bytes, None for binary or undecodable bytes."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return _try_decode(data, encoding)
    if b"\x00" in data[:8192]:
        return None
    text = _try_decode(data, "utf-8")
    if text is not None:
        return text
    matches = list(from_bytes(data[:200_000]))
    if not matches:
        return None
    # Several code pages often fit equally well; Western Windows-1252 is by far the most
    # common non-UTF-8 text, so it wins a tie (charset-normalizer alone picks e.g. cp1250).
    least_chaos = min(m.percent_chaos for m in matches)
    tied = [m for m in matches if m.percent_chaos == least_chaos]
    if any("cp1252" in m.could_be_from_charset for m in tied):
        return _try_decode(data, "cp1252") or _try_decode(data, "latin-1")
    return _try_decode(data, tied[0].encoding)


def normalise_newlines(text: str) -> str:
    """CRLF and lone CR become LF, so line numbers match what editors show."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def content_skip_reason(text: str) -> str | None:
    """Why decoded text is skipped (generated or minified), or None."""
    head = text[:2000].split("\n", 5)[:5]
    if any(_GENERATED_MARK.search(line) for line in head):
        return "generated file (marked @generated / DO NOT EDIT)"
    if len(text) > 2000:
        lines = text.count("\n") + 1
        if len(text) / lines > 300 and max(len(x) for x in text.split("\n")) > 5000:
            return "minified or generated (very long lines)"
    return None
