"""fashion-mnist as the Lightning-on-Ray trainer reads it: Ray Datasets of the released parquet, each `image` a
28x28 array, normalised with the metadata's pixel mean/std; train = official training set, val = official t10k."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
import torch

from dreg_client import read_metadata, read_ray
from steps.dev.samples import fashion_files

pytestmark = pytest.mark.xdist_group("contracts")  # one released registry (and one Ray) per worker


def official(prefix: str) -> tuple[np.ndarray, np.ndarray]:
    """The generated IDX pair (`train` or `t10k`) the release was built from: images (n, 28, 28), labels."""
    files = fashion_files()
    images = np.frombuffer(gzip.decompress(files[f"{prefix}-images-idx3-ubyte.gz"]), np.uint8, offset=16)
    labels = np.frombuffer(gzip.decompress(files[f"{prefix}-labels-idx1-ubyte.gz"]), np.uint8, offset=8)
    return images.reshape(-1, 28, 28), labels


@pytest.mark.parametrize(("split", "prefix"), [("train", "train"), ("val", "t10k")])
def test_lightning_trainer_reads_28x28_images_through_ray(released_all, registry_address, outside, ray_local,
                                                           split, prefix):
    meta = read_metadata("fashion-mnist", "1.0.0", repo=registry_address)
    mean, std = meta["metrics"]["train"]["pixel_mean"], meta["metrics"]["train"]["pixel_std"]
    ds = read_ray("fashion-mnist", f"processed/{split}/{split}.parquet", "1.0.0", repo=registry_address)
    schema = ds.schema()
    assert dict(zip(schema.names, map(str, schema.types), strict=True)) == {
        "image": "fixed_size_list<element: fixed_size_list<element: uint8>[28]>[28]", "label": "uint8"}

    images, labels = official(prefix)
    assert ds.count() == len(labels) == meta["splits"][split]["num_samples"]
    rows = ds.take(4)
    for i, row in enumerate(rows):
        image = np.array(row["image"])
        assert image.shape == (28, 28) and image[27][27] == images[i][27][27]
        np.testing.assert_array_equal(image, images[i])
        assert row["label"] == labels[i]
        x = (torch.tensor(image, dtype=torch.float32) / 255.0 - mean) / std
        assert x.shape == (28, 28)
    if split == "train":
        assert abs(images.mean() / 255.0 - mean) < 1e-6 and abs(images.std() / 255.0 - std) < 1e-6


def test_card_documents_the_ray_read(released_all, registry_address, outside):
    from dreg_client import read_bytes

    card = read_bytes("fashion-mnist", "README.md", "1.0.0", repo=registry_address).decode()
    assert 'read_ray("fashion-mnist", "processed/train/train.parquet", VERSION, repo=REGISTRY)' in card


def test_sample_fraction_keeps_the_same_seeded_subset_of_each_official_split(tmp_path, monkeypatch):
    import pyarrow.parquet as pq
    import yaml

    from steps import layout
    from steps.datasets import fashion_mnist as fm

    params = yaml.safe_load((layout.CODE_ROOT / layout.params_yaml("fashion-mnist")).read_text())
    params["process"]["sample_fraction"] = 0.25
    (tmp_path / layout.params_yaml("fashion-mnist")).parent.mkdir(parents=True)
    (tmp_path / layout.params_yaml("fashion-mnist")).write_text(yaml.safe_dump(params))
    (tmp_path / fm.RAW).mkdir(parents=True)
    for name, data in fashion_files().items():
        (tmp_path / fm.RAW / name).write_bytes(data)
    monkeypatch.chdir(tmp_path)
    fm.process()
    first = {s: (tmp_path / fm.PROCESSED / s / f"{s}.parquet").read_bytes() for s in fm.SPLITS}
    fm.process()
    assert first == {s: (tmp_path / fm.PROCESSED / s / f"{s}.parquet").read_bytes() for s in fm.SPLITS}
    for split, prefix in (("train", "train"), ("val", "t10k")):
        images, labels = official(prefix)
        table = pq.read_table(tmp_path / fm.PROCESSED / split / f"{split}.parquet")
        assert table.num_rows == round(len(labels) * 0.25)
        kept = fm.sample_rows(len(labels), 0.25, params["process"]["seed"])
        np.testing.assert_array_equal(table.column("label").to_numpy(), labels[kept])
        np.testing.assert_array_equal(np.array(table.column("image")[0].as_py()), images[kept[0]])
        assert len(set(kept.tolist())) == len(kept) and kept.tolist() == sorted(kept.tolist())
