"""roco-radiology as the Qwen2.5-VL job reads it: DVCFileSystem.get of each split, `annotations.json` conversations,
JPEG files in `images/`, and `metadata.prompt.prompt_name/prompt_version`."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from dreg_client import download, read_metadata

pytestmark = pytest.mark.xdist_group("contracts")  # one released registry per worker


@pytest.mark.parametrize("split", ["train", "test"])
def test_qwen_vl_job_reads_annotations_and_jpeg_images(released_all, registry_address, outside, split):
    meta = read_metadata("roco-radiology", "1.0.0", repo=registry_address)
    prompt = meta["prompt"]
    assert (prompt["prompt_name"], prompt["prompt_version"]) == ("radiology-caption", 1)
    assert {"alias", "sha256", "template"} <= set(prompt)

    folder = download("roco-radiology", f"processed/{split}", outside / split, "1.0.0", repo=registry_address)
    records = json.loads((folder / "annotations.json").read_text())
    assert isinstance(records, list) and len(records) == meta["splits"][split]["num_samples"]
    assert sorted(p.name for p in (folder / "images").iterdir()) == sorted(r["image"] for r in records)
    for record in records:
        assert set(record) == {"image", "conversations"}
        human, gpt = record["conversations"]
        assert human["from"] == "human" and human["value"].startswith("<image>\n")
        assert human["value"].removeprefix("<image>\n") == prompt["template"]  # the template has no variables
        assert gpt["from"] == "gpt" and gpt["value"]
        with Image.open(folder / "images" / record["image"]) as image:
            assert image.format == "JPEG" and min(image.size) > 0
    assert len(meta["lineage"]["hub"]["revision"]) == 40


def test_card_documents_the_files_download(released_all, registry_address, outside):
    from dreg_client import read_bytes

    card = read_bytes("roco-radiology", "README.md", "1.0.0", repo=registry_address).decode()
    assert 'download("roco-radiology", "processed/train", "train", VERSION, repo=REGISTRY)' in card
    assert "| prompt_version | 1 |" in card
