"""A small real registry for the client's own tests: git + DVC with two splits and metadata, released as a tag,
its data pushed to a DVC remote (a local folder, or the S3 endpoint), read through the bare origin."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from tests.support.servers import S3Endpoint

DATASET, TAG = "toy", "toy-v1.0.0"
DVC = [sys.executable, "-m", "dvc"]


@dataclass(frozen=True)
class Toy:
    """The toy registry: its work tree, bare origin, DVC remote URL and the environment that reads it."""

    root: Path
    origin: Path
    remote_url: str
    env: dict[str, str]


def run(cwd: Path, *args: str, env: dict[str, str] | None = None) -> None:
    subprocess.run(args, cwd=cwd, check=True, capture_output=True, env=env)


def make_toy(base: Path, remote_url: str, env: dict[str, str], endpoint: str | None = None) -> Toy:
    """Build, push and tag the toy release; return where it lives."""
    root, origin = base / "registry", base / "origin.git"
    run(base, "git", "init", "-q", "-b", "main", str(root))
    for key, value in (("user.email", "t@example.org"), ("user.name", "t")):
        run(root, "git", "config", key, value)
    run(root, *DVC, "init", "-q", env=env)
    run(root, *DVC, "remote", "add", "-d", "store", remote_url, env=env)
    if endpoint:  # the producer's own setting: the release names no endpoint, consumers bring AWS_ENDPOINT_URL
        run(root, *DVC, "remote", "modify", "--local", "store", "endpointurl", endpoint, env=env)
    data = root / "data" / DATASET
    for split, rows in (("train", 6), ("val", 3)):
        (data / "processed" / split).mkdir(parents=True)
        pd.DataFrame({"x": range(rows), "label": ["a", "b", "c"] * (rows // 3)}).to_parquet(
            data / "processed" / split / f"{split}.parquet", index=False)
    (data / "metadata.json").write_text(json.dumps({
        "splits": {"train": {"num_samples": 6}, "val": {"num_samples": 3}},
        "schema": {"features": {"x": {"dtype": "int64"}, "label": {"dtype": "string", "classes": ["a", "b", "c"]}}}}))
    run(root, *DVC, "add", "-q", str(data / "processed"), env=env)
    run(root, *DVC, "push", "-q", env=env)
    run(root, "git", "add", "-A")
    run(root, "git", "commit", "-qm", "toy v1.0.0")
    run(root, "git", "tag", "-a", TAG, "-m", "toy v1.0.0")
    run(base, "git", "clone", "-q", "--bare", str(root), str(origin))
    return Toy(root, origin, remote_url, env)


def clean_env(**extra: str) -> dict[str, str]:
    """The environment a training job might have: no producer settings, no AWS files from this machine."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DREG_", "DVC_", "AWS_"))}
    env.update(DVC_NO_ANALYTICS="1", AWS_CONFIG_FILE="/nonexistent", AWS_SHARED_CREDENTIALS_FILE="/nonexistent",
               **extra)
    return env


@pytest.fixture(scope="module")
def toy_local(tmp_path_factory: pytest.TempPathFactory) -> Toy:
    base = tmp_path_factory.mktemp("toy-local")
    return make_toy(base, str(base / "dvc-remote"), clean_env(DREG_CACHE_DIR=str(base / "cache")))


@pytest.fixture(scope="module")
def toy_s3(tmp_path_factory: pytest.TempPathFactory, s3_endpoint: S3Endpoint) -> Toy:
    base = tmp_path_factory.mktemp("toy-s3")
    env = clean_env(DREG_CACHE_DIR=str(base / "cache"), AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                    AWS_DEFAULT_REGION="us-east-1", AWS_ENDPOINT_URL=s3_endpoint.url)
    return make_toy(base, f"s3://{s3_endpoint.bucket}/toy", env, endpoint=s3_endpoint.url)
