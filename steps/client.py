"""Consumer client: read a dataset version by tag through dvc.api, wherever its data lives.

    from steps.client import open_frame, read_metadata
    train = open_frame("fashion-mnist", "processed/train/train.parquet", version="1.2.0", repo=REGISTRY_URL)
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from steps.dvcops import dvc_config
from steps.errors import DregError
from steps.versions import parse_tag


def remote_tags(repo: str) -> list[str]:
    """Tag names of a registry repo (path or git URL), without cloning it."""
    proc = subprocess.run(["git", "ls-remote", "--tags", "--refs", repo], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise DregError(f"cannot read tags of {repo}: {proc.stderr.strip()[:200]}", "check the registry URL or path")
    return [line.split("refs/tags/", 1)[1] for line in proc.stdout.splitlines() if "refs/tags/" in line]


def resolve_tag(dataset: str, version: str = "latest", repo: str = ".") -> str:
    """The release tag of `dataset` for `latest`, `1.2.0`, `v1.2.0` or a full tag name."""
    versions = sorted((v for t in remote_tags(repo) if (v := parse_tag(t, dataset))), reverse=True)
    if not versions:
        raise DregError(f"{dataset} has no published versions in {repo}", "check the dataset name with `dreg list`")
    if version == "latest":
        return versions[0].tag
    wanted = version.removeprefix(f"{dataset}-").removeprefix("v").removesuffix("-automated")
    for v in versions:
        if v.semver == wanted:
            return v.tag
    raise DregError(f"{dataset} has no version {version}", f"latest is {versions[0].tag}")


def _dvc_path(dataset: str, path: str) -> str:
    return f"data/{dataset}/{path.lstrip('/')}"


def get_url(dataset: str, path: str, version: str = "latest", repo: str = ".") -> str:
    """Storage URL of a file of a version (in the selected DVC remote)."""
    import dvc.api

    tag = resolve_tag(dataset, version, repo)
    return dvc.api.get_url(_dvc_path(dataset, path), repo=repo, rev=tag, config=dvc_config())


def read_bytes(dataset: str, path: str, version: str = "latest", repo: str = ".") -> bytes:
    """Raw bytes of a file of a version."""
    import dvc.api

    tag = resolve_tag(dataset, version, repo)
    return dvc.api.read(_dvc_path(dataset, path), repo=repo, rev=tag, mode="rb", config=dvc_config())


def read_metadata(dataset: str, version: str = "latest", repo: str = ".") -> dict[str, Any]:
    """The version's metadata.json (schema, splits, metrics, lineage)."""
    return json.loads(read_bytes(dataset, "metadata.json", version, repo))


def open_table(dataset: str, path: str, version: str = "latest", repo: str = ".") -> pa.Table:
    """A parquet file of a version as a pyarrow Table."""
    import dvc.api

    tag = resolve_tag(dataset, version, repo)
    with dvc.api.open(_dvc_path(dataset, path), repo=repo, rev=tag, mode="rb", config=dvc_config()) as f:
        return pq.read_table(f)


def open_frame(dataset: str, path: str, version: str = "latest", repo: str = ".") -> pd.DataFrame:
    """A parquet or CSV file of a version as a pandas DataFrame."""
    if path.endswith(".csv"):
        import io

        return pd.read_csv(io.BytesIO(read_bytes(dataset, path, version, repo)))
    return open_table(dataset, path, version, repo).to_pandas()
