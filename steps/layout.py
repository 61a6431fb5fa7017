"""Every path of a registry checkout in one place: a dataset's pipeline, params, lock, data and metadata.

Functions return paths relative to the registry root, in POSIX form (what git and DVC take);
join them to a root with `root / layout.dvc_lock(dataset)` where a file must be opened.
"""

from __future__ import annotations

from pathlib import Path

from dreg_client.layout import (
    DATA,
    PIPELINES,
    attestation,
    card_md,
    check_data_path,
    curated_datasets,
    data_dir,
    data_file,
    dvc_lock,
    dvc_yaml,
    metadata_json,
    params_yaml,
    pipeline_datasets,
    pipeline_dir,
    published_key,
)

__all__ = ["CODE_ROOT", "DATA", "HUB_PIN", "PIPELINES", "PROMPTS", "STATE", "attestation", "card_md", "check_data_path",
           "croissant_json", "curated_datasets", "curated_dvcfiles", "data_dir", "data_file", "dvc_lock", "dvc_yaml",
           "hub_pin", "metadata_json", "params_yaml", "pipeline_datasets", "pipeline_dir", "published_key",
           "sources_json", "stage_target", "state_dir"]

CODE_ROOT = Path(__file__).resolve().parent.parent  # the checkout this code runs from (demo, scratch registries)
PROMPTS = "prompts"
HUB_PIN = "hub-pin.json"
STATE = ".dreg"  # git-ignored local state: embedded PostgreSQL, MLflow's SQLite store


def hub_pin(dataset: str) -> str:
    """The commit a Hub source's branch or tag resolved to (`dreg update` moves it): DVC's rev_lock, for the Hub."""
    return f"{pipeline_dir(dataset)}/{HUB_PIN}"


def croissant_json(dataset: str) -> str:
    """The Croissant (MLCommons) description a release commits beside its metadata."""
    return data_file(dataset, "croissant.json")


def sources_json(dataset: str) -> str:
    """Where a download stage records its sources (URLs, checksums) for the lineage block."""
    return data_file(dataset, "raw/sources.json")


def stage_target(root: Path | str, dataset: str, stage: str | None = None) -> str:
    """Absolute `.../dvc.yaml[:stage]` of a pipeline (DVC resolves relative targets against the cwd)."""
    target = str(Path(root).resolve() / dvc_yaml(dataset))
    return f"{target}:{stage}" if stage else target


def state_dir(root: Path | str) -> Path:
    """`<root>/.dreg`: local state that never goes into git."""
    return Path(root) / STATE


def curated_dvcfiles(root: Path | str, dataset: str) -> list[Path]:
    """The `.dvc` files of a curated dataset, sorted."""
    return sorted(Path(root, data_dir(dataset)).glob("*.dvc"))
