"""Prompts as code: `prompts/<name>.yaml` registered in the MLflow Prompt Registry, loaded by version or alias."""

from __future__ import annotations

import hashlib
import logging
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from pydantic import Field

from steps import layout
from steps.config import get_settings
from steps.errors import DregError
from steps.git import git
from steps.kit.files import load_yaml, redact_url
from steps.kit.params import Params, validate_params

PROMPTS_DIR = layout.PROMPTS
VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"



class PromptFile(Params):
    """One `prompts/<name>.yaml`: the template text and what to record with each version."""

    name: str = Field(pattern=NAME_PATTERN)
    template: str = Field(min_length=1)
    description: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)


@dataclass(frozen=True)
class ResolvedPrompt:
    """A prompt version as loaded from the registry, with how it was asked for."""

    name: str
    version: int
    alias: str | None
    template: str
    sha256: str
    tracking_uri_kind: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def variables(template: str) -> list[str]:
    """Template variables (`{{ name }}`, MLflow's syntax), sorted."""
    return sorted(set(VARIABLE.findall(template)))


def render(template: str, values: dict[str, Any]) -> str:
    """Fill every `{{ var }}` from `values`; a variable without a value is an error."""
    missing = [v for v in variables(template) if v not in values]
    if missing:
        raise DregError(f"prompt template uses unknown variable(s) {missing}",
                        f"available per sample: {', '.join(sorted(values)) or 'none'}")
    return VARIABLE.sub(lambda m: str(values[m[1]]), template)


def registry_root() -> Path:
    """The main work tree of the registry (also from a linked worktree, e.g. `dreg verify`)."""
    proc = git("rev-parse", "--path-format=absolute", "--git-common-dir", check=False)
    return Path(proc.stdout.strip()).parent if proc.returncode == 0 else Path.cwd().resolve()


def tracking_uri() -> str:
    """`MLFLOW_TRACKING_URI`, or the embedded SQLite store under the registry's `.dreg/`."""
    configured = get_settings().mlflow_tracking_uri
    if configured:
        return configured
    db = layout.state_dir(registry_root()) / "mlflow.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{db}"


def uri_kind(uri: str) -> str:
    """The scheme of a tracking URI (`sqlite`, `http`, `https`, `databricks`, `file`): never its credentials."""
    scheme = urlsplit(uri).scheme.lower()
    return scheme.split("+")[0] if scheme else "file"


def redact(uri: str) -> str:
    """A tracking URI safe to print: user info and query removed."""
    return redact_url(uri)


def check_reachable(uri: str) -> None:
    """Fail fast (instead of MLflow's long retries) when an HTTP tracking server does not answer."""
    if uri_kind(uri) not in ("http", "https"):
        return
    import requests  # only HTTP tracking servers need it; keeps `dreg` start-up light

    try:
        status = requests.get(f"{uri.rstrip('/')}/health", timeout=get_settings().mlflow_timeout_s).status_code
    except requests.RequestException as exc:
        status, failure = None, type(exc).__name__
    else:
        failure = f"it answered HTTP {status}"
    if status is None or status >= 500:
        raise DregError(
            f"cannot use the MLflow tracking server at {redact(uri)} ({failure})",
            "start it or fix MLFLOW_TRACKING_URI (unset it to use the embedded SQLite store); nothing was published",
        )


def bound_mlflow_retries() -> None:
    """MLflow's own HTTP retries (minutes by default) bounded by DREG_MLFLOW_TIMEOUT, unless set explicitly."""
    timeout = get_settings().mlflow_timeout_s
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", str(max(1, int(timeout))))
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")


def client(uri: str | None = None):
    """An MlflowClient on the configured tracking URI, checked for reachability."""
    import mlflow
    from mlflow import MlflowClient

    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    uri = uri or tracking_uri()
    check_reachable(uri)
    bound_mlflow_retries()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _mlflow_error(exc: Exception, what: str, uri: str) -> DregError:
    """A DregError for an MLflow failure: missing prompts get a hint, anything else names the server."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if "not found" in text.lower() or "RESOURCE_DOES_NOT_EXIST" in text:
        return DregError(f"{what} not found in the MLflow Prompt Registry ({uri_kind(uri)} at {redact(uri)})",
                         "register it with `dreg prompts register` or fix prompt.* in params.yaml")
    return DregError(f"MLflow failed on {what} at {redact(uri)}: {text}",
                     "check the tracking server and MLFLOW_TRACKING_URI")


def load_prompt(name: str, version: int | None = None, alias: str | None = None) -> ResolvedPrompt:
    """Load a prompt by version or alias (exactly one) from the registry."""
    if (version is None) == (alias is None):
        raise DregError(f"prompt {name}: give exactly one of version and alias", "set prompt.version or prompt.alias")
    uri = tracking_uri()
    mlflow_client = client(uri)
    ref = f"{name}@{alias}" if alias else f"{name}/{version}"
    try:
        pv = mlflow_client.get_prompt_version_by_alias(name, alias) if alias else mlflow_client.get_prompt_version(
            name, str(version))
    except Exception as exc:  # noqa: BLE001 - MLflow raises MlflowException and transport errors alike
        raise _mlflow_error(exc, f"prompt {ref}", uri) from None
    if pv is None:
        raise _mlflow_error(LookupError("not found"), f"prompt {ref}", uri)
    template = pv.template
    if not isinstance(template, str):
        raise DregError(f"prompt {ref} is a chat template", "register a text template for this pipeline")
    return ResolvedPrompt(name, int(pv.version), alias, template, text_sha256(template), uri_kind(uri))


def read_prompt_file(path: Path) -> PromptFile:
    """Validate one `prompts/<name>.yaml`; its name must match the file name."""
    try:
        data = load_yaml(path.read_text())
    except FileNotFoundError:
        raise DregError(f"{path} not found", f"prompt files live in {PROMPTS_DIR}/<name>.yaml") from None
    except yaml.YAMLError as exc:
        raise DregError(f"{path} is not valid YAML: {exc}".splitlines()[0], "fix the syntax") from None
    prompt = validate_params(data if isinstance(data, dict) else {}, PromptFile, str(path))
    if prompt.name != path.stem:
        raise DregError(f"{path}: name '{prompt.name}' differs from the file name", f"rename it to {prompt.name}.yaml")
    return prompt


def prompt_files(names: list[str] | None = None, root: Path | None = None) -> list[Path]:
    """The prompt files to register: the named ones, or all of `prompts/`."""
    folder = (root or Path.cwd()) / PROMPTS_DIR
    if names:
        return [folder / f"{n}.yaml" for n in names]
    files = sorted(folder.glob("*.yaml"))
    if not files:
        raise DregError(f"no prompt files in {folder}", f"add {PROMPTS_DIR}/<name>.yaml")
    return files


def register(prompt: PromptFile, alias: str | None = None) -> tuple[int, bool]:
    """Create a new version only when the template text changed; return (version, created)."""
    import mlflow

    uri = tracking_uri()
    mlflow_client = client(uri)
    try:
        latest = (mlflow.genai.load_prompt(f"prompts:/{prompt.name}@latest")
                  if mlflow_client.get_prompt(prompt.name) else None)
        if latest is not None and latest.template == prompt.template:
            version, created = int(latest.version), False
        else:
            tags = {**prompt.tags, "sha256": text_sha256(prompt.template),
                    "source": f"{PROMPTS_DIR}/{prompt.name}.yaml"}
            pv = mlflow.genai.register_prompt(prompt.name, prompt.template, commit_message=prompt.description,
                                              tags=tags)
            version, created = int(pv.version), True
        if alias:
            mlflow.genai.set_prompt_alias(prompt.name, alias, version)
    except DregError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise _mlflow_error(exc, f"prompt {prompt.name}", uri) from None
    return version, created


def set_alias(name: str, alias: str, version: int) -> None:
    """Point `alias` of prompt `name` at an existing `version`."""
    import mlflow

    uri = tracking_uri()
    mlflow_client = client(uri)
    try:
        mlflow_client.get_prompt_version(name, str(version))
        mlflow.genai.set_prompt_alias(name, alias, version)
    except Exception as exc:  # noqa: BLE001
        raise _mlflow_error(exc, f"prompt {name}/{version}", uri) from None
