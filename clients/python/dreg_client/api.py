"""The functions a training job calls: each opens the registry once (or uses the `Registry` it is given), resolves
the reference once and reads through that one handle.

`ref` is `DATASET`, `DATASET@1.2.0`, `DATASET@v1.2.0`, `DATASET@latest`, `DATASET@<stage>` or the tag; the older
call form `(dataset, path, version)` still works (`version` completes a bare dataset name). `repo` is a git URL, a
`file://` URL, a plain path to a registry (clone or bare origin), or an open `Registry`; `remote` names the DVC
remote (default: the one the release's `.dvc/config` selects).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from dreg_client import layout
from dreg_client.attest import KeySpec
from dreg_client.errors import PathNotFound, RegistryError
from dreg_client.registry import Progress, Registry, Release

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa
    import ray.data

Repo = str | os.PathLike[str] | Registry


@contextlib.contextmanager
def opened(repo: Repo, remote: str | None = None, trusted_keys: KeySpec = None,
           require_signed: bool | None = None) -> Iterator[Registry]:
    """`repo` itself when it is an open Registry, else one opened (and closed) for this call with the attestation
    policy given (default: `$DREG_TRUSTED_KEYS`, `$DREG_REQUIRE_SIGNED`)."""
    if isinstance(repo, Registry):
        yield repo
        return
    with Registry.open(repo, remote=remote, trusted_keys=trusted_keys, require_signed=require_signed) as reg:
        yield reg


def resolve(ref: str, version: str | None = None, repo: Repo = ".", remote: str | None = None) -> Release:
    """The release a reference names: dataset, version, tag and commit."""
    with opened(repo, remote) as reg:
        return reg.resolve(ref, version)


def resolve_tag(ref: str, version: str | None = None, repo: Repo = ".") -> str:
    """The release tag a reference names (`wine-quality@prod` → `wine-quality-v1.2.0`)."""
    return resolve(ref, version, repo).tag


def read_bytes(ref: str, path: str, version: str | None = None, repo: Repo = ".", remote: str | None = None,
               trusted_keys: KeySpec = None, require_signed: bool | None = None) -> bytes:
    """Raw bytes of a file of a release, checked against the md5 the release records (IntegrityError if not)."""
    with opened(repo, remote, trusted_keys, require_signed) as reg:
        release = reg.resolve(ref, version)
        return reg.read_data(release, path)


def release_metadata(reg: Registry, release: Release) -> dict[str, Any]:
    """metadata.json of a release (PathNotFound for curated releases, which carry none)."""
    data = reg.read_file(release, layout.metadata_json(release.dataset))
    if data is None:
        raise PathNotFound(f"{release.tag} has no metadata.json", "curated datasets carry no metadata; see `dreg ls`")
    meta: dict[str, Any] = json.loads(data)
    return meta


def read_metadata(ref: str, version: str | None = None, repo: Repo = ".", remote: str | None = None,
                  trusted_keys: KeySpec = None, require_signed: bool | None = None) -> dict[str, Any]:
    """The release's metadata.json (schema, splits, metrics, lineage), as committed with its tag."""
    with opened(repo, remote, trusted_keys, require_signed) as reg:
        return release_metadata(reg, reg.resolve(ref, version))


def open_table(ref: str, path: str, version: str | None = None, repo: Repo = ".",
               remote: str | None = None, trusted_keys: KeySpec = None,
               require_signed: bool | None = None) -> pa.Table:
    """A parquet file of a release as a pyarrow Table (its bytes md5-checked first)."""
    import pyarrow.parquet as pq

    return pq.read_table(io.BytesIO(read_bytes(ref, path, version, repo, remote, trusted_keys, require_signed)))


def open_frame(ref: str, path: str, version: str | None = None, repo: Repo = ".",
               remote: str | None = None, trusted_keys: KeySpec = None,
               require_signed: bool | None = None) -> pd.DataFrame:
    """A parquet or CSV file of a release as a pandas DataFrame."""
    import pandas as pd

    if path.endswith(".csv"):
        frame: pd.DataFrame = pd.read_csv(io.BytesIO(read_bytes(ref, path, version, repo, remote, trusted_keys,
                                                                  require_signed)))
    else:
        frame = open_table(ref, path, version, repo, remote, trusted_keys, require_signed).to_pandas()
    return frame


def get_url(ref: str, path: str, version: str | None = None, repo: Repo = ".", remote: str | None = None) -> str:
    """Storage URL of a file of a release (in its DVC remote: a local folder, `s3://…`)."""
    with opened(repo, remote) as reg:
        fs, where = reg.storage(reg.resolve(ref, version), path)
        url: str = fs.unstrip_protocol(where)
        return url


def read_ray(ref: str, path: str, version: str | None = None, repo: Repo = ".", remote: str | None = None,
             **read_args: Any) -> ray.data.Dataset:
    """A released parquet file as a lazy Ray Dataset, read from the DVC remote itself (local folder or S3/MinIO).

    DVC objects have no extension and Ray 2.60's `read_parquet` ignores `file_extensions=None`
    (ray-project/ray#65557), so this reads through Ray's ParquetDatasource, which honours it.
    """
    import pyarrow.fs as pafs
    import ray.data
    from ray.data._internal.datasource.parquet_datasource import ParquetDatasource

    with opened(repo, remote) as reg:
        fs, where = reg.storage(reg.resolve(ref, version), path)
    arrow_fs = pafs.LocalFileSystem() if fs.protocol == "local" else pafs.PyFileSystem(pafs.FSSpecHandler(fs.fs))
    dataset: ray.data.Dataset = ray.data.read_datasource(
        ParquetDatasource(where, filesystem=arrow_fs, file_extensions=None, **read_args))
    return dataset


def download(ref: str, path: str, dest: str | os.PathLike[str], version: str | None = None, repo: Repo = ".",
             remote: str | None = None, force: bool = False, trusted_keys: KeySpec = None,
             require_signed: bool | None = None, progress: Progress | None = None) -> Path:
    """Copy a file or folder of a release to `dest` (the file, or the folder's contents, land at `dest`); every
    file md5-checked, all or nothing, like `dreg get`; `progress(done, total)` as bytes arrive."""
    import shutil
    import tempfile

    target = Path(dest)
    if target.exists() and not force:
        raise RegistryError(f"{target} already exists", "choose another destination, or pass force=True")
    target.parent.mkdir(parents=True, exist_ok=True)
    with (
        opened(repo, remote, trusted_keys, require_signed) as reg,
        tempfile.TemporaryDirectory(prefix=".dreg-download-", dir=target.parent) as tmp,
    ):
        got = reg.download(reg.resolve(ref, version), path, tmp, progress=progress)
        if target.exists():
            aside = Path(tmp) / ".old"
            os.replace(target, aside)
        os.replace(got, target)
        shutil.rmtree(Path(tmp) / ".old", ignore_errors=True)
    return target


def split_files(reg: Registry, release: Release, split: str) -> list[str]:
    """The parquet files of a split (`processed/<split>/*.parquet`, paths under `data/<dataset>/`)."""
    fs, folder = reg.fs(release), layout.data_file(release.dataset, f"processed/{split}")
    found = sorted(p for p in fs.find(folder) if p.endswith(".parquet")) if fs.isdir(folder) else []
    return [p.removeprefix(layout.data_dir(release.dataset) + "/") for p in found]


def load(ref: str, split: str | None = None, repo: Repo = ".", format: Literal["pandas", "arrow"] = "pandas",
         remote: str | None = None, version: str | None = None, trusted_keys: KeySpec = None,
         require_signed: bool | None = None, mlflow_context: str | None = None) -> Any:
    """A release's split as a pandas DataFrame (or pyarrow Table with `format="arrow"`), like
    `datasets.load_dataset(..., revision=)`: `load("wine-quality@prod", split="train", repo=URL)`.

    Without `split`, a dict of every split the release's metadata lists. One resolution, one DVC filesystem.
    With `mlflow_context` (e.g. "training"), the release is also logged as a dataset input of the active MLflow
    run (`dreg-client[mlflow]`): its tag, digest, registry and schema.
    """
    if format not in ("pandas", "arrow"):
        raise RegistryError(f"unknown format {str(format)[:20]!r}", 'use format="pandas" or format="arrow"')
    with opened(repo, remote, trusted_keys, require_signed) as reg:
        release = reg.resolve(ref, version)
        meta = release_metadata(reg, release)
        splits = sorted(meta.get("splits") or {})
        data = ({name: load_split(reg, release, name, splits, format) for name in splits} if split is None
                else load_split(reg, release, split, splits, format))
        if mlflow_context is not None:
            from dreg_client.tracking import log_release_input

            log_release_input(reg, release, meta, mlflow_context)
        return data


def log_input(ref: str, context: str = "training", repo: Repo = ".", remote: str | None = None,
              version: str | None = None) -> Any:
    """Log the release `ref` names as a dataset input of the active MLflow run (`dreg-client[mlflow]`), for data
    read some other way than `load`; return the logged `mlflow.data` dataset."""
    from dreg_client.tracking import log_release_input

    with opened(repo, remote) as reg:
        release = reg.resolve(ref, version)
        return log_release_input(reg, release, release_metadata(reg, release), context)


def load_split(reg: Registry, release: Release, split: str, splits: list[str], format: str) -> Any:
    """One split of a release, its parquet files md5-checked and concatenated."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if split not in splits:
        raise PathNotFound(f"{release.tag} has no split {split[:40]!r}", f"splits: {', '.join(splits) or 'none'}")
    files = split_files(reg, release, split)
    if not files:
        raise PathNotFound(f"{release.tag}: split {split!r} has no parquet files under processed/{split}/",
                           f"read its files with open_frame or `dreg ls {release.ref}`")
    table = pa.concat_tables([pq.read_table(io.BytesIO(reg.read_data(release, f))) for f in files])
    return table if format == "arrow" else table.to_pandas()
