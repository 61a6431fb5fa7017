"""fashion-mnist released from the genuine upstream files (`make real-mirror`), checked against published figures.

Opt-in: deselected (not skipped) unless DREG_REAL_MIRROR names the mirror (see tests/contracts/conftest.py).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from steps.dev.scaffold import create_registry
from tests.contracts.conftest import REAL_MIRROR_ENV
from tests.support.registry import Released, cli_env

PUBLISHED_MD5 = {"train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                 "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
                 "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
                 "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310"}


@pytest.mark.real_data
def test_fashion_mnist_from_the_real_files(tmp_path: Path):
    mirror = Path(os.environ[REAL_MIRROR_ENV])
    assert not (mirror / ".sample").exists(), f"{mirror} is a sample mirror, not the real files"
    out = Released(create_registry(tmp_path), cli_env(DREG_MIRROR=str(mirror)))
    out.dreg("run", "fashion-mnist", "--push")
    meta = json.loads((out.reg.root / "data/fashion-mnist/metadata.json").read_text())
    files = {f["file"]: f for f in meta["lineage"]["source"]["files"]}
    assert {name: f["md5"] for name, f in files.items()} == PUBLISHED_MD5
    assert meta["lineage"]["source"]["kind"] == "mirror"
    assert meta["splits"] == {"train": {"num_samples": 60_000}, "val": {"num_samples": 10_000}}
    train = meta["metrics"]["train"]
    assert abs(train["pixel_mean"] - 0.2860) <= 0.0005 and abs(train["pixel_std"] - 0.3530) <= 0.0005
    assert set(meta["metrics"]["val"]["class_distribution"].values()) == {1000}
    import pyarrow.parquet as pq

    val = pq.read_table(out.reg.root / "data/fashion-mnist/processed/val/val.parquet")
    assert np.array(val.column("image")[0].as_py()).shape == (28, 28)
    print(f"real fashion-mnist: train pixel mean {train['pixel_mean']:.6f} std {train['pixel_std']:.6f}")
