"""The catalogue: which datasets the registry has and where their definitions live."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

from steps.errors import DregError


def pipeline_datasets(root: Path | str = ".") -> list[str]:
    """Datasets defined as pipelines (`pipelines/<dataset>/dvc.yaml`)."""
    return sorted(p.parent.name for p in Path(root, "pipelines").glob("*/dvc.yaml"))


def curated_datasets(root: Path | str = ".") -> list[str]:
    """Datasets tracked by `dreg add` (`data/<dataset>/*.dvc`, no pipeline)."""
    return sorted({p.parent.name for p in Path(root, "data").glob("*/*.dvc")} - set(pipeline_datasets(root)))


def all_datasets(root: Path | str = ".") -> list[str]:
    return sorted({*pipeline_datasets(root), *curated_datasets(root)})


def require_pipeline(dataset: str, root: Path | str = ".") -> None:
    """Raise a clear error for a dataset that has no pipeline here."""
    known = pipeline_datasets(root)
    if dataset not in known:
        raise DregError(f"unknown dataset '{dataset}'", f"known pipelines: {', '.join(known) or 'none'}")


def stages_of(dataset: str, root: Path | str = ".") -> list[str]:
    """Stage names of a pipeline, in dvc.yaml order."""
    import yaml

    doc = yaml.safe_load(Path(root, "pipelines", dataset, "dvc.yaml").read_text()) or {}
    return list(doc.get("stages", {}))


def dataset_module(dataset: str) -> ModuleType | None:
    """The `steps.datasets.<module>` implementing a dataset's stages, if there is one."""
    try:
        return importlib.import_module(f"steps.datasets.{dataset.replace('-', '_')}")
    except ModuleNotFoundError:
        return None


def check_params(dataset: str) -> None:
    """Validate a pipeline's params before anything runs (the module's `params()` raises DregError)."""
    module = dataset_module(dataset)
    if module is not None and hasattr(module, "params"):
        module.params()
