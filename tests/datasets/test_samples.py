"""The sample mirror covers the seed datasets in their real file formats."""

from __future__ import annotations

import struct
import zlib

import pyarrow.parquet as pq

from steps.dev.samples import write_sample_mirror
from steps.kit.download import SAMPLE_MARKER


def png_pixels(data: bytes) -> tuple[int, int, bytes]:
    """Width, height and raw scanlines of an 8-bit grayscale PNG (checks signature, chunk CRCs, IHDR)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    while pos < len(data):
        (length,), kind = struct.unpack(">I", data[pos:pos + 4]), data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        assert struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])[0] == zlib.crc32(kind + body)
        chunks[kind] = chunks.get(kind, b"") + body
        pos += 12 + length
    width, height, depth, color = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (depth, color) == (8, 0) and b"IEND" in chunks
    return width, height, zlib.decompress(chunks[b"IDAT"])


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
    row = roco.read_row_group(0).slice(0, 1).to_pylist()[0]
    width, height, raw = png_pixels(row["image"]["bytes"])
    assert len(raw) == height * (width + 1)
    assert row["image"]["path"] == f"{row['image_id']}.png" and row["cui"] and row["caption"].strip()
