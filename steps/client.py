"""Consumer client: read a dataset version by tag through dvc.api, wherever its data lives.

    from steps.client import load, open_frame, read_metadata, read_ray
    train = load("wine-quality@prod", split="train", repo=REGISTRY_URL)          # a pandas DataFrame
    val = open_frame("fashion-mnist", "processed/val/val.parquet", version="1.2.0", repo=REGISTRY_URL)
    ds = read_ray("fashion-mnist", "processed/train/train.parquet", version="prod", repo=REGISTRY_URL)

`repo` is a git URL, a `file://` URL, or a plain path to the registry (a clone or its bare origin). A version is
`latest`, `1.2.0`, `v1.2.0`, a promotion stage (`prod`, `staging`) or the full tag: the registry's one grammar
(`steps.registry.versions.resolve_ref`), read from the registry's refs without cloning it. Installable alone as
the `dreg-client` distribution (clients/python): no pipeline, Ray, MLflow or plotting dependencies.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from steps import layout
from steps.config import dvc_config
from steps.errors import DregError
from steps.registry.versions import resolve_ref

if TYPE_CHECKING:
    import ray.data


def registry_url(repo: str) -> str:
    """`repo` as DVC opens it: a plain path to a bare repository becomes its `file://` URL (DVC cannot open a
    bare repository by path); URLs and work-tree paths are returned unchanged."""
    if "://" in repo or not Path(repo).expanduser().is_dir():
        return repo
    path = Path(repo).expanduser().resolve()
    bare = (path / "HEAD").is_file() and (path / "objects").is_dir() and not (path / ".git").exists()
    return path.as_uri() if bare else repo


def resolve_tag(dataset: str, version: str = "latest", repo: str = ".") -> str:
    """The release tag of `dataset` for `latest`, `1.2.0`, `v1.2.0`, a stage (`prod`) or a full tag name."""
    return resolve_ref(f"{dataset}@{version or 'latest'}", repo=repo).tag


def remote_location(dataset: str, path: str, version: str = "latest", repo: str = ".") -> tuple[Any, str]:
    """The DVC remote filesystem (dvc-objects) and the path in it of a file of a version."""
    from dvc.repo import Repo
    from dvc_data.index import StorageKeyError

    tag = resolve_tag(dataset, version, repo)
    with Repo.open(registry_url(repo), rev=tag, subrepos=True, uninitialized=True, config=dvc_config()) as dvc_repo:
        index, entry = dvc_repo.get_data_index_entry(layout.data_file(dataset, path))
        try:
            return index.storage_map.get_remote(entry)
        except (StorageKeyError, ValueError):
            raise DregError(f"{tag}: no DVC remote holds {path}", "set DVC_REMOTE to the registry's remote") from None


def get_url(dataset: str, path: str, version: str = "latest", repo: str = ".") -> str:
    """Storage URL of a file of a version (in the selected DVC remote)."""
    fs, where = remote_location(dataset, path, version, repo)
    return fs.unstrip_protocol(where)


def read_ray(dataset: str, path: str, version: str = "latest", repo: str = ".", **read_args: Any) -> ray.data.Dataset:
    """A released parquet file as a lazy Ray Dataset, read from the DVC remote itself (local folder or S3/MinIO).

    DVC objects have no extension and Ray 2.60's `read_parquet` ignores `file_extensions=None`
    (ray-project/ray#65557), so this reads through Ray's ParquetDatasource, which honours it.
    """
    import pyarrow.fs as pafs
    import ray.data
    from ray.data._internal.datasource.parquet_datasource import ParquetDatasource

    fs, where = remote_location(dataset, path, version, repo)
    arrow_fs = pafs.LocalFileSystem() if fs.protocol == "local" else pafs.PyFileSystem(pafs.FSSpecHandler(fs.fs))
    return ray.data.read_datasource(ParquetDatasource(where, filesystem=arrow_fs, file_extensions=None, **read_args))


def read_bytes(dataset: str, path: str, version: str = "latest", repo: str = ".") -> bytes:
    """Raw bytes of a file of a version, checked against the md5 its release records: a corrupted object in the
    remote or cache raises DregError instead of returning altered data."""
    from dvc.api import DVCFileSystem

    from steps.registry.verify import read_verified

    tag = resolve_tag(dataset, version, repo)
    rel = layout.data_file(dataset, path)
    return read_verified(DVCFileSystem(registry_url(repo), rev=tag, config=dvc_config()), rel, f"{tag}:{rel}")


def download(dataset: str, path: str, dest: Path | str, version: str = "latest", repo: str = ".") -> Path:
    """Copy a file or folder of a version to `dest` with DVCFileSystem.get (how the Qwen-VL jobs fetch a split)."""
    from dvc.api import DVCFileSystem

    tag = resolve_tag(dataset, version, repo)
    fs = DVCFileSystem(registry_url(repo), rev=tag, config=dvc_config())
    fs.get(layout.data_file(dataset, path), str(dest), recursive=True)
    return Path(dest)


def read_metadata(dataset: str, version: str = "latest", repo: str = ".") -> dict[str, Any]:
    """The version's metadata.json (schema, splits, metrics, lineage)."""
    return json.loads(read_bytes(dataset, "metadata.json", version, repo))


def open_table(dataset: str, path: str, version: str = "latest", repo: str = ".") -> pa.Table:
    """A parquet file of a version as a pyarrow Table (its bytes checked against the release's md5 first)."""
    import io

    return pq.read_table(io.BytesIO(read_bytes(dataset, path, version, repo)))


def open_frame(dataset: str, path: str, version: str = "latest", repo: str = ".") -> pd.DataFrame:
    """A parquet or CSV file of a version as a pandas DataFrame."""
    if path.endswith(".csv"):
        import io

        return pd.read_csv(io.BytesIO(read_bytes(dataset, path, version, repo)))
    return open_table(dataset, path, version, repo).to_pandas()


def split_files(dataset: str, split: str, tag: str, repo: str) -> list[str]:
    """The parquet files of a split of a release (`processed/<split>/*.parquet`, paths under `data/<dataset>/`)."""
    from dvc.api import DVCFileSystem

    fs = DVCFileSystem(registry_url(repo), rev=tag, config=dvc_config())
    folder = layout.data_file(dataset, f"processed/{split}")
    found = sorted(p for p in fs.find(folder) if p.endswith(".parquet")) if fs.isdir(folder) else []
    return [p.removeprefix(layout.data_dir(dataset) + "/") for p in found]


def load(ref: str, split: str | None = None, repo: str = ".",
         format: Literal["pandas", "arrow"] = "pandas") -> Any:
    """A release's split as a pandas DataFrame (or pyarrow Table with `format="arrow"`), like
    `datasets.load_dataset(..., revision=)`: `load("wine-quality@prod", split="train", repo=URL)`.

    `ref` is `DATASET`, `DATASET@1.2.0`, `DATASET@latest`, `DATASET@<stage>` or the tag; without `split`, a dict of
    every split the release's metadata lists. Every file is checked against its released md5.
    """
    if format not in ("pandas", "arrow"):
        raise DregError(f"unknown format {str(format)[:20]!r}", 'use format="pandas" or format="arrow"')
    v = resolve_ref(ref, repo=repo)
    splits = sorted(read_metadata(v.dataset, v.tag, repo).get("splits") or {})
    if split is None:
        return {name: load(v.tag, name, repo, format) for name in splits}
    if split not in splits:
        raise DregError(f"{v.tag} has no split {split[:40]!r}", f"splits: {', '.join(splits) or 'none'}")
    files = split_files(v.dataset, split, v.tag, repo)
    if not files:
        raise DregError(f"{v.tag}: split {split!r} has no parquet files under processed/{split}/",
                        f"read its files with open_frame or `dreg ls {v.dataset}@{v.semver}`")
    table = pa.concat_tables([open_table(v.dataset, f, v.tag, repo) for f in files])
    return table if format == "arrow" else table.to_pandas()
