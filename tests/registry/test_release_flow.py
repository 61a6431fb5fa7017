"""End to end on real git, real DVC and a local source server: run → tag → consumer read by tag."""

from __future__ import annotations

import json
import subprocess

import dvc.api
import pandas as pd
import pyarrow.parquet as pq

from dreg_client import open_frame, read_metadata, resolve_tag
from tests.support.registry import tags


def test_run_publishes_v1_and_consumers_read_it_by_tag(registry, dreg, source_server):
    result = dreg("run", "fashion-mnist", "--push")
    assert result.returncode == 0, result.stderr
    assert tags(registry.origin) == ["fashion-mnist-v1.0.0"]

    repo = str(registry.origin)
    with dvc.api.open("data/fashion-mnist/processed/train/train.parquet", repo=repo,
                      rev="fashion-mnist-v1.0.0", mode="rb") as f:
        train = pq.read_table(f)
    image_type = train.schema.field("image").type
    assert (image_type.list_size, image_type.value_type.list_size, str(image_type.value_type.value_type)) == (28, 28,
                                                                                                         "uint8")
    assert str(train.schema.field("label").type) == "uint8"
    meta = json.loads(dvc.api.read("data/fashion-mnist/metadata.json", repo=repo, rev="fashion-mnist-v1.0.0"))
    assert meta["dataset"]["name"] == "fashion-mnist"
    assert meta["schema"]["features"]["label"]["classes"][0] == "T-shirt/top"
    assert meta["splits"]["train"]["num_samples"] == train.num_rows
    assert 0 < meta["metrics"]["train"]["pixel_mean"] < 1 and 0 < meta["metrics"]["train"]["pixel_std"] < 1
    lineage = meta["lineage"]
    files = {f["file"]: f for f in lineage["source"]["files"]}
    name = "train-images-idx3-ubyte.gz"
    assert files[name]["md5"] == source_server.md5["fashion-mnist"][name]
    assert lineage["source"]["kind"] == "url" and lineage["params"]["process"]["sample_fraction"] == 1.0
    assert lineage["code_commit"]

    frame = open_frame("fashion-mnist", "processed/val/val.parquet", version="1.0.0", repo=repo)
    assert isinstance(frame, pd.DataFrame) and len(frame) == meta["splits"]["val"]["num_samples"]
    assert read_metadata("fashion-mnist", repo=repo)["splits"] == meta["splits"]
    assert resolve_tag("fashion-mnist", "latest", repo) == "fashion-mnist-v1.0.0"

    images = train.column("image").combine_chunks().flatten().flatten().to_numpy() / 255.0
    assert abs(images.mean() - meta["metrics"]["train"]["pixel_mean"]) < 1e-6


def test_noop_rerun_creates_no_tag_and_no_commit(registry, dreg):
    assert dreg("run", "wine-quality").returncode == 0
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=registry.root, capture_output=True, text=True,
                          check=True).stdout
    again = dreg("run", "wine-quality")
    assert again.returncode == 0
    assert "nothing changed" in again.stdout
    assert tags(registry.root) == ["wine-quality-v1.0.0"]
    assert subprocess.run(["git", "rev-parse", "HEAD"], cwd=registry.root, capture_output=True,
                          text=True, check=True).stdout == head
