"""Every released card starts with Hugging Face–style front matter that the Hub's own card parser reads and that
agrees with the release's metadata.json: licence, splits and sizes, split files, features."""

from __future__ import annotations

import json

import pytest
from huggingface_hub import DatasetCard

from dreg_client import Registry
from steps import layout
from steps.release.card import split_front_matter
from tests.contracts.conftest import RELEASED
from tests.support.registry import Released

pytestmark = pytest.mark.xdist_group("contracts")  # one released registry per worker


@pytest.mark.parametrize("dataset", RELEASED)
def test_card_front_matter_agrees_with_metadata(released_all: Released, dataset: str) -> None:
    with Registry.open(released_all.reg.origin) as reg:
        release = reg.resolve(f"{dataset}@1.0.0")
        card = reg.read_text(release, layout.card_md(dataset)) or ""
        meta = json.loads(reg.read_text(release, layout.metadata_json(dataset)) or "{}")
        names = {f.path for f in reg.files(release)}
    header, body = split_front_matter(card)
    assert DatasetCard(card).data.to_dict() == header and body.startswith(f"# {dataset}\n")
    assert header["pretty_name"] == dataset and header["license"] and header["task_categories"]
    splits = {s["name"]: s["num_examples"] for s in header["dataset_info"]["splits"]}
    assert splits == {name: info["num_samples"] for name, info in meta["splits"].items()}
    files = {f["split"]: f["path"] for f in header["configs"][0]["data_files"]}
    assert files == {s: p for s, p in meta["schema"]["files"].items() if s in meta["splits"]}
    assert set(files.values()) <= names  # each split's file is in the release
    features = {f["name"] for f in header["dataset_info"]["features"]}
    columns = {n for n, spec in meta["schema"]["features"].items() if spec.get("column", n) == n}
    assert features == columns
    total = sum(splits.values())
    assert header["size_categories"] == ["n<1K" if total < 1000 else "1K<n<10K"]
