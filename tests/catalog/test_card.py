"""Dataset cards: a pure function of the metadata, written atomically, with per-consumer loading snippets."""

from __future__ import annotations

import copy
from pathlib import Path

from steps import layout
from steps.kit.files import write_json
from steps.release.card import render_card, write_card

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
