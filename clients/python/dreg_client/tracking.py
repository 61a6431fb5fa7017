"""MLflow knows what a run read: a release logged as an `mlflow.data` dataset input of the active run (name, the
release's content digest, its source — tag, commit and registry — and its schema). Needs `dreg-client[mlflow]`;
mlflow is imported only when something is logged."""

from __future__ import annotations

import hashlib
from typing import Any

from dreg_client.errors import RegistryError
from dreg_client.registry import Registry, Release

SOURCE_TYPE = "dreg"
MLFLOW_TYPES = {"float64": "double", "float32": "float", "float": "double", "int64": "long", "int32": "integer",
                "int16": "integer", "int8": "integer", "uint8": "integer", "uint16": "integer", "uint32": "long",
                "bool": "boolean", "string": "string", "str": "string"}


def release_digest(reg: Registry, release: Release) -> str:
    """The release's content digest: sha256 over its data files' paths and md5s (32 hex characters, which fits
    MLflow's digest column); equal data gives an equal digest, whatever the tag."""
    lines = sorted(f"{f.path} {f.md5}" for f in reg.files(release) if f.md5)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:32]


def import_mlflow() -> Any:
    """mlflow, or one clear error saying which extra to install."""
    try:
        import mlflow
    except ImportError:
        raise RegistryError("logging dataset inputs needs MLflow", 'pip install "dreg-client[mlflow]"') from None
    return mlflow


def schema_of(meta: dict[str, Any]) -> Any:
    """The release's features as an MLflow Schema (column names and types; arrays and lists as arrays)."""
    from mlflow.types.schema import Array, ColSpec, Schema, TensorSpec

    cols: list[ColSpec | TensorSpec] = []
    for name, spec in sorted(((meta.get("schema") or {}).get("features") or {}).items()):
        spec = spec if isinstance(spec, dict) else {"dtype": spec}
        if spec.get("column", name) != name:
            continue  # an alias of another column
        kind = MLFLOW_TYPES.get(str(spec.get("dtype")), "string")
        cols.append(ColSpec(Array(kind) if spec.get("shape") or spec.get("dtype") == "list" else kind, name))
    return Schema(cols) if cols else None


def registry_source(registry: str, release: Release) -> Any:
    """An `mlflow.data` DatasetSource naming the release: its tag and commit in the registry at `registry`."""
    from mlflow.data.dataset_source import DatasetSource

    class RegistrySource(DatasetSource):
        """A data-registry release (`dreg get`/`dreg_client.load` read it)."""

        @staticmethod
        def _get_source_type() -> str:
            return SOURCE_TYPE

        def load(self, **kwargs: Any) -> str:
            return release.tag

        @staticmethod
        def _can_resolve(raw_source: Any) -> bool:
            return False

        @classmethod
        def _resolve(cls, raw_source: Any) -> Any:
            raise NotImplementedError

        def to_dict(self) -> dict[str, Any]:
            return {"registry": registry, "tag": release.tag, "commit": release.commit, "dataset": release.dataset,
                    "version": release.version}

        @classmethod
        def from_dict(cls, source_dict: dict[str, Any]) -> Any:
            raise NotImplementedError

    return RegistrySource()


def log_release_input(reg: Registry, release: Release, meta: dict[str, Any], context: str = "training") -> Any:
    """Log `release` as a dataset input of the active MLflow run (one is started if none is); return the dataset."""
    mlflow = import_mlflow()
    from mlflow.data.meta_dataset import MetaDataset

    # mlflow marks Dataset.profile abstract, yet MetaDataset (meant to be built as is) leaves it out
    dataset = MetaDataset(source=registry_source(reg.url, release), name=release.tag,  # type: ignore[abstract]
                          digest=release_digest(reg, release), schema=schema_of(meta))
    mlflow.log_input(dataset, context=context)
    return dataset

