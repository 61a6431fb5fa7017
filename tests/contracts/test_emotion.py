"""emotion as the DistilBERT trainer reads it: `text`/`label` columns and label2id from the sorted class names."""

from __future__ import annotations

import pytest

from dreg_client import open_frame, read_metadata

pytestmark = pytest.mark.xdist_group("contracts")  # one released registry per worker


def test_distilbert_trainer_builds_label2id_from_metadata(released_all, registry_address, outside):
    meta = read_metadata("emotion", "1.0.0", repo=registry_address)
    classes = meta["schema"]["features"]["label"]["classes"]
    label2id = {name: i for i, name in enumerate(sorted(classes))}
    assert len(label2id) == 13
    for split in ("train", "val"):
        frame = open_frame("emotion", f"processed/{split}/{split}.parquet", "1.0.0", repo=registry_address)
        ids = frame["label"].map(label2id)
        assert not ids.isna().any() and frame["text"].str.len().min() > 0
        assert (ids == frame["label_id"]).all()
        assert len(frame) == meta["splits"][split]["num_samples"]
    assert meta["lineage"]["hub"]["repo"] == "boltuix/emotions-dataset"
    assert len(meta["lineage"]["hub"]["revision"]) == 40
