"""Every path of a registry checkout in one place: a dataset's pipeline, params, lock, data and metadata.

Functions return paths relative to the registry root, in POSIX form (what git and DVC take);
join them to a root with `root / layout.dvc_lock(dataset)` where a file must be opened.
"""

from __future__ import annotations

from pathlib import Path

CODE_ROOT = Path(__file__).resolve().parent.parent  # the checkout this code runs from (demo, scratch registries)
PIPELINES = "pipelines"
DATA = "data"
PROMPTS = "prompts"
HUB_PIN = "hub-pin.json"
STATE = ".dreg"  # git-ignored local state: embedded PostgreSQL, MLflow's SQLite store


def pipeline_dir(dataset: str) -> str:
    return f"{PIPELINES}/{dataset}"


def dvc_yaml(dataset: str) -> str:
    return f"{pipeline_dir(dataset)}/dvc.yaml"


def params_yaml(dataset: str) -> str:
    return f"{pipeline_dir(dataset)}/params.yaml"


def dvc_lock(dataset: str) -> str:
    return f"{pipeline_dir(dataset)}/dvc.lock"


def hub_pin(dataset: str) -> str:
    """The commit a Hub source's branch or tag resolved to (`dreg update` moves it): DVC's rev_lock, for the Hub."""
    return f"{pipeline_dir(dataset)}/{HUB_PIN}"


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


def pipeline_datasets(root: Path | str = ".") -> list[str]:
    """Datasets defined as pipelines (`pipelines/<dataset>/dvc.yaml`)."""
    return sorted(p.parent.name for p in Path(root, PIPELINES).glob("*/dvc.yaml"))


def curated_datasets(root: Path | str = ".") -> list[str]:
    """Datasets tracked by `dreg add` (`data/<dataset>/*.dvc`, no pipeline)."""
    return sorted({p.parent.name for p in Path(root, DATA).glob("*/*.dvc")} - set(pipeline_datasets(root)))


def curated_dvcfiles(root: Path | str, dataset: str) -> list[Path]:
    """The `.dvc` files of a curated dataset, sorted."""
    return sorted(Path(root, data_dir(dataset)).glob("*.dvc"))
