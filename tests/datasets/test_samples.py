"""The sample mirror covers the seed datasets in their real file formats."""

from __future__ import annotations

import io

import pandas as pd
import pyarrow.parquet as pq
from PIL import Image

from steps.dev.samples import ROCO_ROW_GROUP, sample_checksum_params, write_sample_mirror
from steps.kit.digests import file_digests
from steps.kit.download import SAMPLE_MARKER


def test_mirror_has_emotion_and_roco_in_hub_formats(tmp_path):
    write_sample_mirror(tmp_path, ["emotion", "roco-radiology"])
    assert (tmp_path / SAMPLE_MARKER).exists()

    emotion = pq.read_table(tmp_path / "emotion" / "emotions_dataset.parquet")
    assert emotion.column_names == ["Sentence", "Label"]
    assert len(set(emotion.column("Label").to_pylist())) == 13

    roco = pq.ParquetFile(tmp_path / "roco-radiology" / "train-00000-of-00001.parquet")
    assert roco.schema_arrow.names == ["image", "image_id", "caption", "cui"]
    assert str(roco.schema_arrow.field("image").type) == "struct<bytes: binary, path: string>"
    assert b"huggingface" in roco.schema_arrow.metadata
    assert roco.metadata.num_row_groups == -(-roco.metadata.num_rows // ROCO_ROW_GROUP) > 1
    row = roco.read_row_group(0).slice(0, 1).to_pylist()[0]
    with Image.open(io.BytesIO(row["image"]["bytes"])) as image:
        assert image.format == "JPEG" and image.mode == "L" and min(image.size) >= 192
    assert row["image"]["path"] == f"{row['image_id']}.jpg" and row["cui"] and row["caption"].strip()


def test_wine_samples_have_exact_duplicates_and_checksum_params_pin_them(tmp_path):
    digests = write_sample_mirror(tmp_path, ["wine-quality", "fashion-mnist"])
    red = pd.read_csv(tmp_path / "wine-quality" / "winequality-red.csv", sep=";")
    assert red.columns[0] == "fixed acidity" and red["quality"].between(3, 9).all()
    assert 0 < red.duplicated().sum() < len(red) / 3
    params = sample_checksum_params(tmp_path, digests)
    assert params["wine-quality"]["download"]["sources"]["white"]["sha256"] == file_digests(
        tmp_path / "wine-quality" / "winequality-white.csv")["sha256"]
    assert params["fashion-mnist"]["download"]["files"]["test_images"]["md5"] == digests["fashion-mnist"][
        "t10k-images-idx3-ubyte.gz"]
