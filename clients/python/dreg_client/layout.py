"""Where a release keeps its files (a contract with every consumer): paths relative to the registry root, POSIX."""

from __future__ import annotations

from pathlib import Path

PIPELINES = "pipelines"
DATA = "data"


def pipeline_dir(dataset: str) -> str:
    return f"{PIPELINES}/{dataset}"


def dvc_yaml(dataset: str) -> str:
    return f"{pipeline_dir(dataset)}/dvc.yaml"


def params_yaml(dataset: str) -> str:
    return f"{pipeline_dir(dataset)}/params.yaml"


def dvc_lock(dataset: str) -> str:
    return f"{pipeline_dir(dataset)}/dvc.lock"


def data_dir(dataset: str) -> str:
    return f"{DATA}/{dataset}"


def data_file(dataset: str, name: str) -> str:
    """A file of a dataset's data folder (`name` relative to `data/<dataset>/`)."""
    return f"{data_dir(dataset)}/{name.lstrip('/')}"


def metadata_json(dataset: str) -> str:
    return data_file(dataset, "metadata.json")


def card_md(dataset: str) -> str:
    """The dataset card a release commits beside its metadata."""
    return data_file(dataset, "README.md")


def pipeline_datasets(root: Path | str = ".") -> list[str]:
    """Datasets defined as pipelines in a work tree (`pipelines/<dataset>/dvc.yaml`)."""
    return sorted(p.parent.name for p in Path(root, PIPELINES).glob("*/dvc.yaml"))


def curated_datasets(root: Path | str = ".") -> list[str]:
    """Datasets tracked by `dreg add` in a work tree (`data/<dataset>/*.dvc`, no pipeline)."""
    return sorted({p.parent.name for p in Path(root, DATA).glob("*/*.dvc")} - set(pipeline_datasets(root)))


def check_data_path(path: str) -> str:
    """`path` (under `data/<dataset>/`) normalised, or BadReference when it leaves the dataset (`..`, absolute)."""
    from dreg_client.errors import BadReference
    from dreg_client.grammar import shown

    parts = [p for p in path.replace("\\", "/").split("/") if p not in ("", ".")]
    if path.startswith(("/", "\\")) or ".." in parts or any("\x00" in p for p in parts):
        raise BadReference(f"path {shown(path)!r} leaves the dataset's folder",
                           "give a path inside data/DATASET/, e.g. processed/train (see `dreg ls DATASET@VERSION`)")
    return "/".join(parts)


def attestation(dataset: str) -> str:
    """The DSSE envelope (signed in-toto Statement) a release commits beside its metadata."""
    return data_file(dataset, "attestation.dsse.json")


KEYS = "keys"


def published_key(keyid: str) -> str:
    """Where a registry publishes the public key (PEM) its releases are signed with."""
    return f"{KEYS}/{keyid}.pub.pem"
