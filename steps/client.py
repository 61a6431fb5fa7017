"""Consumer client: read a dataset version by tag through dvc.api, wherever its data lives.

    from steps.client import open_frame, read_metadata
    train = open_frame("fashion-mnist", "processed/train/train.parquet", version="1.2.0", repo=REGISTRY_URL)
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from steps import layout
from steps.config import dvc_config
from steps.git import remote_tags
from steps.registry.versions import pick_version, versions_in


def resolve_tag(dataset: str, version: str = "latest", repo: str = ".") -> str:
    """The release tag of `dataset` for `latest`, `1.2.0`, `v1.2.0` or a full tag name."""
    return pick_version(versions_in(remote_tags(repo), dataset), dataset, version, f" in {repo}").tag


def get_url(dataset: str, path: str, version: str = "latest", repo: str = ".") -> str:
    """Storage URL of a file of a version (in the selected DVC remote)."""
    import dvc.api

    tag = resolve_tag(dataset, version, repo)
    return dvc.api.get_url(layout.data_file(dataset, path), repo=repo, rev=tag, config=dvc_config())


def read_bytes(dataset: str, path: str, version: str = "latest", repo: str = ".") -> bytes:
    """Raw bytes of a file of a version."""
    import dvc.api

    tag = resolve_tag(dataset, version, repo)
    return dvc.api.read(layout.data_file(dataset, path), repo=repo, rev=tag, mode="rb", config=dvc_config())


def read_metadata(dataset: str, version: str = "latest", repo: str = ".") -> dict[str, Any]:
    """The version's metadata.json (schema, splits, metrics, lineage)."""
    return json.loads(read_bytes(dataset, "metadata.json", version, repo))


def open_table(dataset: str, path: str, version: str = "latest", repo: str = ".") -> pa.Table:
    """A parquet file of a version as a pyarrow Table."""
    import dvc.api

    tag = resolve_tag(dataset, version, repo)
    with dvc.api.open(layout.data_file(dataset, path), repo=repo, rev=tag, mode="rb", config=dvc_config()) as f:
        return pq.read_table(f)


def open_frame(dataset: str, path: str, version: str = "latest", repo: str = ".") -> pd.DataFrame:
    """A parquet or CSV file of a version as a pandas DataFrame."""
    if path.endswith(".csv"):
        import io

        return pd.read_csv(io.BytesIO(read_bytes(dataset, path, version, repo)))
    return open_table(dataset, path, version, repo).to_pandas()
