"""`read_ray` on the pinned Ray: a released parquet read straight from the DVC remote, local folder and S3."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from dreg_client import Registry, get_url, open_table, read_ray

pytestmark = pytest.mark.xdist_group("contracts")  # one Ray per worker


def test_plain_read_parquet_finds_no_files_on_the_pinned_ray(released_all, outside, ray_local):
    """Why the client exists: DVC objects have no extension and Ray ignores `file_extensions=None` (#65557)."""
    import ray.data

    url = get_url("wine-quality", "processed/train/train.parquet", "1.0.0", repo=str(released_all.reg.origin))
    with pytest.raises(ValueError, match="no files found"):
        ray.data.read_parquet(url, file_extensions=None)
    ds = read_ray("wine-quality", "processed/train/train.parquet", "1.0.0", repo=str(released_all.reg.origin))
    expected = open_table("wine-quality", "processed/train/train.parquet", "1.0.0", repo=str(released_all.reg.origin))
    assert ds.count() == expected.num_rows
    pd.testing.assert_frame_equal(ds.to_pandas(), expected.to_pandas(), check_dtype=False)


def test_read_ray_from_the_s3_remote(registry, dreg, s3_endpoint, outside, ray_local, monkeypatch):
    env = {"DVC_REMOTE": "minio", "DVC_S3_URL": f"s3://{s3_endpoint.bucket}/ray",
           "DVC_S3_ENDPOINT_URL": s3_endpoint.url, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    result = dreg("run", "fashion-mnist", "--push", **env)
    assert result.returncode == 0, result.stderr
    shutil.rmtree(registry.remote)  # the data must come from S3
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, env[key])
    # a consumer names the remote and where it is (DVC's remote/remote_config), never the producer's settings
    config = {"remote": {"minio": {"url": env["DVC_S3_URL"], "endpointurl": s3_endpoint.url}}}
    with Registry.open(registry.origin, remote="minio", config=config) as reg:
        url = get_url("fashion-mnist", "processed/val/val.parquet", repo=reg)
        assert url.startswith(f"s3://{s3_endpoint.bucket}/ray/files/md5/")
        ds = read_ray("fashion-mnist", "processed/val/val.parquet", repo=reg)
        table = open_table("fashion-mnist", "processed/val/val.parquet", repo=reg)
    assert ds.count() == table.num_rows > 0
    row = ds.take(1)[0]
    np.testing.assert_array_equal(np.array(row["image"]), np.array(table.column("image")[0].as_py()))
