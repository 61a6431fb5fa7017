"""emotion end to end: run → tag → the training repo's reads by tag; quality gates stop bad data before a release."""

from __future__ import annotations

import json

import dvc.api
import pyarrow.parquet as pq
import pytest

from steps.dev.scaffold import update_params
from tests.support.registry import commit_all, tags
from tests.support.sources import EMOTION_FILE, hub_download, hub_revision, sha256_of

TAG = "emotion-v1.0.0"


def test_release_is_readable_by_tag_as_the_training_repo_reads_it(registry, dreg, dataset_sources):
    result = dreg("run", "emotion", "--push")
    assert result.returncode == 0, result.stderr
    assert tags(registry.origin) == [TAG]

    repo = str(registry.origin)
    meta = json.loads(dvc.api.read("data/emotion/metadata.json", repo=repo, rev=TAG))
    classes = meta["schema"]["features"]["label"]["classes"]
    assert classes == sorted(classes) and len(classes) == 13
    assert meta["label_map"] == {str(i): name for i, name in enumerate(classes)}
    frames = {}
    for split in ("train", "val"):
        with dvc.api.open(f"data/emotion/processed/{split}/{split}.parquet", repo=repo, rev=TAG, mode="rb") as f:
            frames[split] = pq.read_table(f).to_pandas()
    for split, frame in frames.items():
        assert list(frame.columns) == ["text", "label", "label_id"]
        assert (frame["label"] == frame["label_id"].map(dict(enumerate(classes)))).all()
        assert set(frame["label"]) == set(classes)
        assert meta["splits"][split]["num_samples"] == len(frame)
        assert meta["metrics"][split]["class_distribution"] == frame["label"].value_counts().sort_index().to_dict()
        chars = meta["metrics"][split]["text_length_chars"]
        assert chars["max"] == frame["text"].str.len().max() and chars["p50"] <= chars["p95"] <= chars["max"]
        assert set(meta["metrics"][split]["text_length_tokens"]) == {"mean", "p50", "p95", "max"}
        assert meta["metrics"][split]["empty_texts"] == 0
        assert meta["metrics"][split]["duplicate_texts"] == int(frame["text"].duplicated().sum())
    assert len(frames["train"]) + len(frames["val"]) == 400
    assert abs(len(frames["val"]) / 400 - 0.2) < 0.03
    source = meta["lineage"]["source"]["files"][0]
    assert source["sha256"] == sha256_of(dataset_sources.root / "emotion" / EMOTION_FILE)
    assert meta["lineage"]["params"]["process"]["seed"] == 42
    revision = hub_revision(dataset_sources.root, "emotion", "emotion")
    assert meta["lineage"]["hub"] == {"repo": "boltuix/emotions-dataset", "revision": revision,
                                      "path": EMOTION_FILE, "ref": "main"}
    assert source["revision"] == revision and f"/resolve/{revision}/" in source["url"]


@pytest.mark.parametrize(("variant", "message"), [
    ("empty", "1 empty text(s)"),
    ("unknown", "unknown label(s) ['boredom']"),
    ("rare", "class(es) ['desire'] missing from the val split"),
], ids=["empty-text", "unknown-label", "class-missing-from-split"])
def test_quality_gates_stop_the_pipeline_before_publishing(registry, dreg, dataset_sources, variant, message):
    folder = dataset_sources.root / f"emotion-{variant}"
    update_params(registry.root, "emotion", {"download": {
        **hub_download(dataset_sources, f"emotion-{variant}", "emotion"), "sha256": sha256_of(folder / EMOTION_FILE)}})
    commit_all(registry.root, f"emotion from the {variant} source")
    result = dreg("run", "emotion", "--push")
    assert result.returncode == 1
    assert message in result.stderr
    assert tags(registry.root) == [] and tags(registry.origin) == []
    assert not (registry.root / "data/emotion/processed").exists()
