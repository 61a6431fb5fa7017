"""Which datasets the registry has, their stages and the modules that implement them; params checked up front."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

from steps import layout
from steps.errors import DregError
from steps.kit.files import load_yaml
from steps.kit.params import read_params_file
from steps.layout import curated_datasets, pipeline_datasets
from steps.registry.versions import check_dataset


def all_datasets(root: Path | str = ".") -> list[str]:
    """Every dataset of the registry: pipelines and curated data."""
    return sorted({*pipeline_datasets(root), *curated_datasets(root)})


def require_pipeline(dataset: str, root: Path | str = ".") -> None:
    """Raise a clear error for a dataset that has no pipeline here."""
    check_dataset(dataset)
    known = pipeline_datasets(root)
    if dataset not in known:
        raise DregError(f"unknown dataset '{dataset}'", f"known pipelines: {', '.join(known) or 'none'}")


def stages_of(dataset: str, root: Path | str = ".") -> list[str]:
    """Stage names of a pipeline, in dvc.yaml order."""
    doc = load_yaml(Path(root, layout.dvc_yaml(dataset)).read_text()) or {}
    return list(doc.get("stages", {}))


def dataset_module(dataset: str) -> ModuleType | None:
    """The `steps.datasets.<module>` implementing a dataset's stages, if there is one."""
    try:
        return importlib.import_module(f"steps.datasets.{dataset.replace('-', '_')}")
    except ModuleNotFoundError:
        return None


def params_unchanged_since_lock(dataset: str, root: Path | str = ".") -> bool:
    """True when every params section recorded in dvc.lock equals params.yaml (already validated by that run)."""
    lock_file = Path(root, layout.dvc_lock(dataset))
    if not lock_file.exists():
        return False
    current = read_params_file(Path(root, layout.params_yaml(dataset)))
    lock = load_yaml(lock_file.read_text()) or {}
    recorded = [section for stage in (lock.get("stages") or {}).values()
                for section in (stage.get("params") or {}).values()]
    return bool(recorded) and all(current.get(k) == v for section in recorded for k, v in section.items())


def check_params(dataset: str) -> None:
    """Validate a pipeline's params before anything runs (the module's `params()` raises DregError).

    Skipped when dvc.lock already records exactly these params: the run that wrote it validated them. The file is
    always read first (bounded: no alias bomb reaches DVC's parser; a list or bad YAML is one error naming it).
    """
    if not Path(layout.dvc_lock(dataset)).exists():
        read_params_file(Path(layout.params_yaml(dataset)))
    elif params_unchanged_since_lock(dataset):
        return
    module = dataset_module(dataset)
    if module is not None and hasattr(module, "params"):
        module.params()
