"""Dataset cards: a pure function of the metadata, written atomically, with per-consumer loading snippets."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import pytest

from steps import layout
from steps.errors import DregError
from steps.kit.files import write_json
from steps.release.card import render_card, split_front_matter, write_card

META = {
    "dataset": {"name": "wine-quality"},
    "schema": {"features": {"alcohol": {"dtype": "float64"}, "quality": {"dtype": "int64", "classes": [5, 6]}},
               "files": {"train": "processed/train/train.parquet"}},
    "splits": {"train": {"num_samples": 10}},
    "metrics": {"features": {"alcohol": {"mean": 10.5, "std": 1.0}}, "train": {"class_distribution": {"5": 4, "6": 6}}},
    "lineage": {"source": {"kind": "url", "files": [{"file": "red.csv", "url": "https://x/red.csv", "sha256": "ab"}]},
                "params": {"process": {"seed": 42}}, "code_commit": "c0ffee", "upstream": {}},
}


def test_card_is_byte_identical_for_the_same_metadata_and_follows_a_statistic(tmp_path: Path) -> None:
    (tmp_path / layout.pipeline_dir("wine-quality")).mkdir(parents=True)
    shutil.copy(layout.CODE_ROOT / layout.dvc_yaml("wine-quality"), tmp_path / layout.dvc_yaml("wine-quality"))
    write_json(tmp_path / layout.metadata_json("wine-quality"), META)
    assert write_card("wine-quality", tmp_path) == layout.card_md("wine-quality")
    first = (tmp_path / layout.card_md("wine-quality")).read_bytes()
    write_card("wine-quality", tmp_path)
    written = (tmp_path / layout.card_md("wine-quality")).read_bytes()
    assert written == first == render_card(copy.deepcopy(META)).encode()
    changed = copy.deepcopy(META)
    changed["metrics"]["features"]["alcohol"]["mean"] = 10.75
    assert render_card(changed) != render_card(META)
    text = first.decode()
    for expected in ("CC BY 4.0", "float64", "| train | 10 |", "red.csv", "c0ffee", "open_frame", "dvc get"):
        assert expected in text


def test_card_front_matter_is_what_the_hub_reads_and_follows_the_metadata() -> None:
    from huggingface_hub import DatasetCard

    meta = copy.deepcopy(META)
    meta["schema"]["features"]["wine_type"] = {"dtype": "int64", "classes": ["red", "white"]}
    meta["schema"]["features"]["label"] = {"column": "quality", "classes": [5, 6]}  # an alias: no column of its own
    text = render_card(meta)
    header, body = split_front_matter(text)
    assert DatasetCard(text).data.to_dict() == header and body.startswith("# wine-quality\n")
    assert header["license"] == "cc-by-4.0" and header["size_categories"] == ["n<1K"]
    assert header["configs"] == [{"config_name": "default",
                                  "data_files": [{"split": "train", "path": "processed/train/train.parquet"}]}]
    assert header["dataset_info"] == {
        "features": [{"name": "alcohol", "dtype": "float64"}, {"name": "quality", "dtype": "int64"},
                     {"name": "wine_type", "dtype": {"class_label": {"names": {"0": "red", "1": "white"}}}}],
        "splits": [{"name": "train", "num_examples": 10}]}
    meta["splits"]["train"]["num_samples"] = 12_000
    assert split_front_matter(render_card(meta))[0]["size_categories"] == ["10K<n<100K"]
    assert split_front_matter(render_card({"dataset": {"name": "my-questions"}}))[0]["license"] == "other"


def test_card_has_the_prompt_version_and_a_pgvector_snippet() -> None:
    roco = {**META, "dataset": {"name": "roco-radiology"},
            "prompt": {"prompt_name": "radiology-caption", "prompt_version": 3}}
    assert "| prompt_version | 3 |" in render_card(roco)
    embeddings = {"dataset": {"name": "opencloudhub-readmes-embeddings"}, "schema": {"table": "readme_chunks"}}
    text = render_card(embeddings)
    assert "pgvector" in text and "FROM readme_chunks" in text


def test_curated_datasets_get_a_generic_card_and_no_metadata_means_no_card(tmp_path: Path) -> None:
    assert "dreg add" in render_card({"dataset": {"name": "my-questions"}})
    assert write_card("my-questions", tmp_path) is None


def test_the_card_reads_description_licence_and_homepage_from_the_pipelines_dvc_yaml(tmp_path: Path) -> None:
    """The facts live next to the pipeline: editing its `artifacts:` entry changes the card, nothing else does."""
    (tmp_path / layout.pipeline_dir("wine-quality")).mkdir(parents=True)
    source = (layout.CODE_ROOT / layout.dvc_yaml("wine-quality")).read_text()
    edited = source.replace("license: \"CC BY 4.0\"", "license: \"CC0 1.0\"")
    assert edited != source
    (tmp_path / layout.dvc_yaml("wine-quality")).write_text(edited)
    text = render_card(META, tmp_path)
    assert "- **Licence:** CC0 1.0" in text and "CC BY 4.0" not in text
    assert "UCI Wine Quality" in text and "<https://archive.ics.uci.edu/dataset/186/wine+quality>" in text
    (tmp_path / layout.dvc_yaml("wine-quality")).write_text("stages:" + source.split("stages:", 1)[1])
    with pytest.raises(DregError, match="declares no artifact `wine-quality`"):
        render_card(META, tmp_path)
