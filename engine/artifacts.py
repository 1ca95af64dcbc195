"""Render artifacts (pure, jinja2) and write them atomically inside the run directory."""

from __future__ import annotations

import itertools
import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from engine import frontmatter, yamlio
from engine.config import TEMPLATES_DIR
from engine.models import note_label
from engine.paths import inside

# templates/ holds two kinds of template, in two folders: what the models are asked (prompts/<name>.md.j2)
# and what the run directory is made of (artifacts/<kind>.md.j2, report.html.j2, reproducer.j2)
PROMPTS, ARTIFACTS = "prompts", "artifacts"
ARTIFACT_KINDS = ("persona", "review", "response", "rebuttal", "findings", "critique", "verification", "report",
                  "claims")


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The shared jinja2 environment: strict undefined, no autoescape (markdown out)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
        auto_reload=False,  # templates ship with the package; a stat per render was ~4% of a run's CPU
    )
    env.filters["oneline"] = lambda s: " ".join(str(s).split())
    env.filters["quote"] = lambda s: "\n".join("> " + line for line in str(s).splitlines()) or "> "
    env.filters["pct"] = lambda x: f"{x:.2f}"
    env.filters["note_label"] = note_label
    return env


def render_template(name: str, **context: Any) -> str:
    """Render a template by its path under templates/ (`prompts/...` or `artifacts/...`) with the strict environment."""
    return environment().get_template(name).render(**context)


def front_matter(meta: dict[str, Any]) -> str:
    """YAML front matter block, safely dumped."""
    body = yamlio.dump(meta, sort_keys=False, allow_unicode=True, width=1000)
    return f"---\n{body}---\n"


def render_artifact(kind: str, meta: dict[str, Any], **context: Any) -> str:
    """Front matter + the kind's template (`templates/artifacts/<kind>.md.j2`)."""
    head = {"id": meta["id"], "kind": kind, **{k: v for k, v in meta.items() if k != "id"}}
    return front_matter(head) + render_template(f"{ARTIFACTS}/{kind}.md.j2", **context)


_TMP_SEQ = itertools.count()


def write_atomic(root: Path, relative: str, text: str, durable: bool = True) -> Path:
    """Write text to root/relative via a temp file + rename; never outside root.

    The rename makes the write all-or-nothing whatever happens to the process (crash, kill -9, Ctrl-C).
    `durable` adds an fsync before it, so the file also survives a power cut or a kernel crash: for what
    a model call paid for (calls/<id>.json) and the run's inputs. Markdown artifacts skip it (an fsync
    per artifact was a third of a large panel's wall time); like the checkpoint (WAL, synchronous=NORMAL)
    they may lose the last seconds of writes to a power cut, never to a process crash."""
    path = inside(root, relative)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{os.getpid()}-{next(_TMP_SEQ)}.tmp"  # swept by resume if a kill leaves it
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json(root: Path, relative: str, data: Any) -> Path:
    """Atomic JSON write (sorted keys, indented)."""
    return write_atomic(root, relative, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def read_front_matter(path: Path) -> dict[str, Any]:
    """The front matter of an artifact file (empty dict when absent)."""
    return frontmatter.meta(path.read_text(encoding="utf-8"))
