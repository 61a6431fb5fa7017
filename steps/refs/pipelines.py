"""Which datasets the registry has, their stages and the modules that implement them; params checked up front."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from steps import layout
from steps.errors import DregError
from steps.kit.files import load_yaml
from steps.layout import curated_datasets, pipeline_datasets
from steps.refs.lock import read_lock, recorded_params
from steps.refs.versions import check_dataset, unknown_dataset


def all_datasets(root: Path | str = ".") -> list[str]:
    """Every dataset of the registry: pipelines and curated data."""
    return sorted({*pipeline_datasets(root), *curated_datasets(root)})


def require_pipeline(dataset: str, root: Path | str = ".") -> None:
    """Raise a clear error for a dataset that has no pipeline here."""
    check_dataset(dataset)
    known = pipeline_datasets(root)
    if dataset not in known:
        raise unknown_dataset(dataset, known)


def pipeline_doc(dataset: str, root: Path | str = ".") -> dict:
    """A pipeline's dvc.yaml, parsed."""
    return load_yaml(Path(root, layout.dvc_yaml(dataset)).read_text()) or {}


def stages_of(dataset: str, root: Path | str = ".") -> list[str]:
    """Stage names of a pipeline, in dvc.yaml order."""
    return list(pipeline_doc(dataset, root).get("stages", {}))


SCHEDULES = ("nightly", "weekly", "manual")  # nightly: the chart's CronWorkflow; weekly: GitHub Actions


@dataclass(frozen=True)
class Facts:
    """What a dataset is and how it runs, from the `artifacts:` entry of its dvc.yaml (one place per fact)."""

    dataset: str
    description: str
    license: str
    homepage: str
    schedule: str
    profile: str
    ray_stage: str | None = None
    responsible_ai: tuple[tuple[str, str], ...] = ()  # limitations, biases, intended_use, collection, citation
    hub_tags: tuple[tuple[str, tuple[str, ...]], ...] = ()  # task_categories, language (the card's front matter)


def facts(dataset: str, root: Path | str = ".") -> Facts:
    """The `artifacts: <dataset>:` entry of `pipelines/<dataset>/dvc.yaml` (desc, and meta: license, homepage,
    schedule, profile, ray_stage); a missing or malformed entry is one error naming the file and the key."""
    where = layout.dvc_yaml(dataset)
    doc = pipeline_doc(dataset, root)
    entry = (doc.get("artifacts") or {}).get(dataset)
    hint = (f"declare `artifacts: {dataset}: {{path, type: dataset, desc, meta: {{license, homepage, schedule, "
            "profile}}}}` in it (see pipelines/wine-quality/dvc.yaml)")
    if not isinstance(entry, dict) or not isinstance(entry.get("meta"), dict):
        raise DregError(f"{where} declares no artifact `{dataset}` with a `meta` block", hint)
    meta = entry["meta"]
    values = {"description": entry.get("desc"), **{k: meta.get(k) for k in ("license", "homepage", "schedule",
                                                                             "profile")}}
    missing = [k for k, v in values.items() if not isinstance(v, str) or not v]
    if missing:
        raise DregError(f"{where}: artifact `{dataset}` lacks {', '.join(missing)}", hint)
    if values["schedule"] not in SCHEDULES:
        raise DregError(f"{where}: schedule {values['schedule']!r} is not one of {', '.join(SCHEDULES)}", hint)
    ray_stage = meta.get("ray_stage")
    if ray_stage is not None and ray_stage not in doc.get("stages", {}):
        raise DregError(f"{where}: ray_stage {ray_stage!r} is not a stage of the pipeline", hint)
    rai = meta.get("responsible_ai") or {}
    if not isinstance(rai, dict) or not all(isinstance(v, str) for v in rai.values()):
        raise DregError(f"{where}: responsible_ai of `{dataset}` must map field names to text", hint)
    tags = {k: meta[k] for k in ("task_categories", "language") if k in meta}
    if not all(isinstance(v, list) and all(isinstance(x, str) for x in v) for v in tags.values()):
        raise DregError(f"{where}: task_categories and language of `{dataset}` must be lists of names", hint)
    return Facts(dataset=dataset, ray_stage=ray_stage, responsible_ai=tuple(rai.items()),
                 hub_tags=tuple((k, tuple(v)) for k, v in tags.items()), **values)


def dataset_module(dataset: str) -> ModuleType | None:
    """The `steps.datasets.<module>` implementing a dataset's stages, if there is one."""
    try:
        return importlib.import_module(f"steps.datasets.{dataset.replace('-', '_')}")
    except ModuleNotFoundError:
        return None


def params_unchanged_since_lock(dataset: str, root: Path | str = ".") -> bool:
    """True when every params section recorded in dvc.lock equals params.yaml (already validated by that run)."""
    from steps.kit.params import param_value, read_params_file  # pydantic: only for commands that run stages

    if not Path(root, layout.dvc_lock(dataset)).exists():
        return False
    current = read_params_file(Path(root, layout.params_yaml(dataset)))
    recorded = recorded_params(read_lock(dataset, root), layout.params_yaml(dataset))
    return bool(recorded) and all(param_value(current, k) == v for section in recorded for k, v in section.items())


def check_params(dataset: str) -> None:
    """Validate a pipeline's declared facts and its params before anything runs (the module's `params()` raises
    DregError); the release's card needs the facts, so a missing `artifacts:` entry fails here, not after the run.

    The params check is skipped when dvc.lock already records exactly these params: the run that wrote it
    validated them. The file is always read first (bounded: no alias bomb reaches DVC's parser; a list or bad
    YAML is one error naming it).
    """
    from steps.kit.params import read_params_file

    facts(dataset)
    if not Path(layout.dvc_lock(dataset)).exists():
        read_params_file(Path(layout.params_yaml(dataset)))
    elif params_unchanged_since_lock(dataset):
        return
    module = dataset_module(dataset)
    if module is not None and hasattr(module, "params"):
        module.params()


def require_registry(root: Path | str = ".") -> Path:
    """The registry's root (a git work tree with `pipelines/`), or "not a data registry" naming what was looked for."""
    from steps.git import repo_root

    try:
        top = repo_root(root)
    except DregError:
        top = None
    if top is None or not (top / layout.PIPELINES).is_dir():
        found = "no git work tree" if top is None else f"git work tree {top} has no {layout.PIPELINES}/ folder"
        raise DregError(f"not a data registry: {Path(root).resolve()} ({found})",
                        f"run dreg in a registry clone (a git work tree with {layout.PIPELINES}/); "
                        "list, show, diff, history, ls and get also read one with --repo URL")
    return top
