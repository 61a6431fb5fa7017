"""Stage parameters: `pipelines/<dataset>/params.yaml` validated by a pydantic model."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from steps import layout
from steps.errors import DregError
from steps.kit.files import load_yaml

M = TypeVar("M", bound=BaseModel)


class Params(BaseModel):
    """Base for params models: unknown keys are an error (a typo must not be silently ignored)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class SplitParams(Params):
    """A seeded train/validation split: the `process` section of most pipelines."""

    val_fraction: float = Field(gt=0, lt=1)
    seed: int


def read_params_file(path: Path) -> dict[str, Any]:
    """The raw params mapping of a params.yaml file."""
    try:
        data = load_yaml(path.read_text()) or {}
    except FileNotFoundError:
        raise DregError(f"{path} not found", "every pipeline needs a params.yaml beside its dvc.yaml") from None
    except UnicodeDecodeError as exc:
        raise DregError(f"{path} is not UTF-8 text (byte {exc.start})", "save it as UTF-8 YAML") from None
    except yaml.YAMLError as exc:
        raise DregError(f"{path} is not valid YAML: {str(exc).splitlines()[0][:200]}", "fix the syntax") from None
    if not isinstance(data, dict):
        raise DregError(f"{path} must be a mapping", "use `key: value` sections per stage")
    return data


_MISSING = object()


def param_value(doc: dict[str, Any], key: str) -> Any:
    """A params value as dvc.lock names it: a top-level key (`process`) or a dotted leaf (`process.num_samples`)."""
    if key in doc:
        return doc[key]
    value: Any = doc
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def validate_params(data: dict[str, Any], model: type[M], source: str) -> M:
    """Validate a params mapping; the first problem becomes a one-line DregError."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        shown = err["type"] != "missing" and not isinstance(err["input"], dict)
        got = f" (got {bounded(err['input'])})" if shown else ""
        raise DregError(f"{source}: {bounded(where)}: {err['msg'][:200]}{got}",
                        f"fix {bounded(where)} in {source}") from None


def bounded(value: Any, limit: int = 80) -> str:
    """A short printable form of user input (repr, cut at `limit` characters): errors never echo unbounded input."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def load_params(dataset: str, model: type[M], root: Path | None = None) -> M:
    """Load and validate `pipelines/<dataset>/params.yaml`."""
    rel = layout.params_yaml(dataset)
    return validate_params(read_params_file((root or Path.cwd()) / rel), model, rel)
