"""Settings, persona files and workflow files: data validated by pydantic."""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from engine import frontmatter, yamlio
from engine.errors import ConfigError
from engine.models import Persona
from engine.options import bounded, options_model
from engine.paths import slugify

REPO_ROOT = Path(__file__).resolve().parent.parent
_INSTALLED_DATA = Path(__file__).resolve().parent / "_data"  # where a built wheel carries the data (setup.py)


def data_dir(name: str) -> Path:
    """A data folder (personas, workflows, templates): inside an installed wheel, else the source checkout's."""
    installed = _INSTALLED_DATA / name
    return installed if installed.is_dir() else REPO_ROOT / name


PERSONAS_DIR = data_dir("personas")
WORKFLOWS_DIR = data_dir("workflows")
TEMPLATES_DIR = data_dir("templates")

StageKind = Literal["personas", "reviews", "responses", "rebuttals", "findings", "self_review", "verify", "compile"]
AnalyzerName = Literal["ruff", "bandit", "oxlint"]
STAGE_NEEDS: dict[str, tuple[str, ...]] = {
    "personas": (),
    "reviews": ("personas",),
    "responses": ("reviews",),
    "rebuttals": ("responses",),
    "findings": ("reviews",),
    "self_review": ("reviews",),
    "verify": ("reviews",),
    "compile": ("reviews",),
}


def _first_error(exc: ValidationError) -> str:
    """The first error as `field 'x': ...`; a missing field that an unknown one misspells names it."""
    errors = exc.errors()
    err = errors[0]
    loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
    unknown = [".".join(map(str, e["loc"])) for e in errors if e["type"] == "extra_forbidden"]
    if err["type"] == "missing" and unknown:
        close = difflib.get_close_matches(loc, unknown, n=1)
        hint = f"'{close[0]}' looks like a misspelling of it" if close else "unknown field(s) " + ", ".join(
            f"'{u}'" for u in unknown)
        return f"field '{loc}': {err['msg']} ({hint})"
    return f"field '{loc}': {err['msg']}"


class PersonaFile(BaseModel):
    """The YAML front matter of a persona file (`personas/<slug>.md`)."""

    model_config = ConfigDict(extra="forbid")
    slug: str
    name: str
    role: str
    perspective: str
    focus: list[str] = Field(min_length=1)
    applies_to: Literal["code", "document", "any"] = "any"
    model: str | None = None

    @field_validator("slug")
    @classmethod
    def _slug_is_clean(cls, v: str) -> str:
        if slugify(v) != v:
            raise ValueError(f"slug must be lowercase letters, digits and dashes (e.g. {slugify(v)!r})")
        return v


# Keys a run's persona artifact adds to the library format; ignored when loading it back.
ARTIFACT_KEYS = {"id", "kind", "persona", "derived_from", "created", "source"}


def split_front_matter(text: str, where: str) -> tuple[dict[str, Any], str]:
    """Split `---\\nyaml\\n---\\nbody`; raise ConfigError naming `where` on bad input."""
    try:
        found = frontmatter.split(text)
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        at = f" at line {line + 2}" if line is not None else ""
        raise ConfigError(f"{where}: invalid YAML front matter{at}") from None
    if found is None:
        raise ConfigError(f"{where}: missing YAML front matter (a '---' block at the top)")
    meta, body = found
    if not isinstance(meta, dict):
        raise ConfigError(f"{where}: front matter must be a mapping of fields")
    return meta, body.strip()


def load_persona_file(path: Path) -> Persona:
    """Load one persona file; errors name the file and the field."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read persona file ({exc.__class__.__name__})") from None
    meta, body = split_front_matter(text, str(path))
    meta = {k: v for k, v in meta.items() if k not in ARTIFACT_KEYS}
    try:
        pf = PersonaFile.model_validate(meta)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {_first_error(exc)}") from None
    return Persona(**pf.model_dump(), brief=body, source="library")


def persona_library(directory: Path | None = None) -> dict[str, Persona]:
    """All persona files in a directory (default: $REBUTTAL_PERSONAS_DIR, else `personas/`), by slug."""
    if directory is None:
        env = os.environ.get("REBUTTAL_PERSONAS_DIR")
        directory = Path(env) if env else PERSONAS_DIR
        if env and not directory.is_dir():
            raise ConfigError(f"REBUTTAL_PERSONAS_DIR is not a folder: {directory}")
    out: dict[str, Persona] = {}
    for path in sorted(directory.glob("*.md")):
        p = load_persona_file(path)
        if p.slug in out:
            raise ConfigError(f"{path}: duplicate persona slug '{p.slug}'")
        out[p.slug] = p
    return out


def resolve_personas(names: list[str], lib: dict[str, Persona] | None = None) -> list[Persona]:
    """`--persona` values as personas: a library slug, or the path of a persona file (`*.md`, same format as the
    library's); a ConfigError naming every one that is neither."""
    lib = persona_library() if lib is None else lib
    out: list[Persona] = []
    missing: list[str] = []
    for name in names:
        path = Path(name).expanduser()
        if name in lib:
            out.append(lib[name])
        elif path.suffix == ".md" and path.is_file():
            out.append(load_persona_file(path))
        else:
            missing.append(name)
    if missing:
        raise ConfigError(f"unknown persona(s): {', '.join(missing)} (--persona takes a library slug, listed by "
                          "`rebuttal personas`, or the path of a persona .md file)")
    slugs = [p.slug for p in out]
    if twice := sorted({s for s in slugs if slugs.count(s) > 1}):
        raise ConfigError(f"--persona names the slug {', '.join(twice)} twice: each panel seat needs its own slug")
    return out


def persona_refs(names: list[str]) -> list[str]:
    """`--persona` values checked (resolve_personas) and as stored in run.yaml: slugs as given, file paths absolute
    (a resume from another folder finds them)."""
    lib = persona_library()
    resolve_personas(names, lib)
    return [n if n in lib else str(Path(n).expanduser().resolve()) for n in names]


class StageSpec(BaseModel):
    """One stage of a workflow and its options."""

    model_config = ConfigDict(extra="forbid")
    stage: StageKind
    writers: Literal["all", "first"] = "all"
    max_rounds: int = Field(default=3, ge=1, le=10)
    mode: Literal["generate", "repeat"] = "generate"
    analyzers: list[AnalyzerName] = Field(default_factory=lambda: ["ruff", "bandit", "oxlint"])  # verify: [] runs none


Personas, K, Concurrency = bounded("personas"), bounded("k"), bounded("concurrency")  # bounds: engine/options.py


class WorkflowDefaults(BaseModel):
    model_config = ConfigDict(extra="forbid")
    personas: Personas = 5
    k: K = 3
    execute: bool = False  # run reproducers in the sandbox by default (a run may still turn it on or off)


class Workflow(BaseModel):
    """A workflow file (`workflows/<name>.yaml`): an ordered list of stages."""

    model_config = ConfigDict(extra="forbid")
    name: str
    description: str
    stages: list[StageSpec] = Field(min_length=1)
    defaults: WorkflowDefaults = Field(default_factory=WorkflowDefaults)

    @field_validator("stages", mode="before")
    @classmethod
    def _strings_to_specs(cls, v: Any) -> Any:
        if isinstance(v, list):
            return [{"stage": s} if isinstance(s, str) else s for s in v]
        return v

    def stage(self, kind: str) -> StageSpec | None:
        """The spec of a stage kind, or None when the workflow lacks it."""
        return next((s for s in self.stages if s.stage == kind), None)

    def check_order(self, where: str) -> None:
        """Each stage's prerequisites come before it; no stage twice; compile last."""
        seen: list[str] = []
        for i, spec in enumerate(self.stages):
            if spec.stage in seen:
                raise ConfigError(f"{where}: field 'stages.{i}': stage '{spec.stage}' appears twice (a cycle)")
            for need in STAGE_NEEDS[spec.stage]:
                if need not in seen:
                    raise ConfigError(
                        f"{where}: field 'stages.{i}': stage '{spec.stage}' needs '{need}' before it"
                    )
            seen.append(spec.stage)
        if seen[0] != "personas" or seen[-1] != "compile":
            raise ConfigError(f"{where}: field 'stages': must start with 'personas' and end with 'compile'")
        if "verify" in seen and seen[-2] != "verify":
            raise ConfigError(f"{where}: field 'stages.{seen.index('verify')}': stage 'verify' must come right "
                              "before 'compile' (it checks what the debate left)")


def load_workflow_file(path: Path) -> Workflow:
    """Load and validate one workflow file; errors name the file and the field."""
    try:
        data = yamlio.load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError:
        raise ConfigError(f"{path}: invalid YAML") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read workflow file ({exc.__class__.__name__})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a workflow file must be a mapping")
    try:
        wf = Workflow.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {_first_error(exc)}") from None
    wf.check_order(str(path))
    return wf


def workflow_library(directory: Path = WORKFLOWS_DIR) -> dict[str, Workflow]:
    """All workflow files, by name."""
    return {wf.name: wf for wf in (load_workflow_file(p) for p in sorted(directory.glob("*.yaml")))}


def load_workflow(name_or_path: str) -> Workflow:
    """A workflow by library name or by path to a YAML file."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") and p.exists():
        return load_workflow_file(p)
    path = WORKFLOWS_DIR / f"{name_or_path}.yaml"
    if not path.exists():
        known = ", ".join(sorted(x.stem for x in WORKFLOWS_DIR.glob("*.yaml")))
        raise ConfigError(f"unknown workflow '{name_or_path}' (known: {known})")
    return load_workflow_file(path)


Budget = options_model("Budget", "budget", "A run's limits: calls, tokens, USD (None: no limit).")


class SandboxLimits(BaseModel):
    """Limits of one sandboxed command (a reproducer, the setup command): see engine/verify/sandbox.py."""

    model_config = ConfigDict(extra="forbid")
    wall_s: float = Field(default=30, gt=0, le=3600)
    cpu_s: int = Field(default=20, ge=1, le=3600)
    memory_mb: int = Field(default=512, ge=16, le=65536)
    file_mb: int = Field(default=16, ge=1, le=65536)
    processes: int = Field(default=32, ge=1, le=4096)
    output_kb: int = Field(default=64, ge=1, le=10240)


class RunSettings(BaseModel):
    """Everything that defines a run; saved as `run.yaml` and reloaded by resume."""

    model_config = ConfigDict(extra="forbid")
    run_id: str
    target: str
    diff: str | None = None
    workflow: str = "debate"
    personas: Personas = 5
    persona_slugs: list[str] = Field(default_factory=list)
    k: K = 3
    model: str = "local"
    panel: list[str] = Field(default_factory=list)
    judge: str | None = None
    judge_fallback: str | None = None
    concurrency: Concurrency = 4
    budget: Budget = Field(default_factory=Budget)
    max_retries: int = Field(default=4, ge=0, le=20)
    parse_retries: int = Field(default=2, ge=0, le=10)
    timeout_s: float = Field(default=600, gt=0)
    strict: bool = False
    execute: bool = False  # run model-written reproducers against a sandboxed copy of the target (engine/verify)
    execute_unsafe: bool = False  # --execute-unsafe-no-sandbox: run them with limits but without isolation
    sandbox: SandboxLimits = Field(default_factory=SandboxLimits)
    seed: int = 0
    prices: dict[str, tuple[float, float]] = Field(default_factory=dict)
    created: str = ""
    passes: int = Field(default=1, ge=1)  # +1 each time a budget-stopped run is resumed with a larger budget

    @property
    def thread_id(self) -> str:
        """The checkpoint thread of the current pass (a new pass replays the finished calls, then goes on)."""
        return self.run_id if self.passes == 1 else f"{self.run_id}:pass{self.passes}"

    @property
    def judge_model(self) -> str:
        return self.judge or self.model

    def model_for(self, index: int, persona: Persona) -> str:
        """The model a persona uses: its file's `model:`, else the panel round-robin, else --model."""
        if persona.model:
            return persona.model
        if self.panel:
            return self.panel[index % len(self.panel)]
        return self.model
