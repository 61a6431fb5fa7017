"""roco-radiology: `unsloth/Radiology_mini` images + captions as Qwen-VL style conversations, prompt from MLflow.

`resolve_prompt` runs on every `dreg run` (`always_changed`): it loads the prompt named in params by version
or alias and writes the resolved text and version to `prompt.json`. `process` depends on that file, so a
new version (or a moved alias) rebuilds the data and yields a release; an unchanged prompt does not.
"""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import Field, HttpUrl, model_validator

from steps import layout
from steps.errors import DregError
from steps.kit.download import fetch
from steps.kit.files import atomic_path, write_bytes, write_json
from steps.kit.metadata import read_sources, source_lineage, write_metadata, write_sources
from steps.kit.params import Params, load_params
from steps.kit.stage import run_stage_main
from steps.kit.tables import split_indices

DATASET = "roco-radiology"
DATA = Path(layout.data_dir(DATASET))
RAW, PROCESSED = DATA / "raw", DATA / "processed"
PROMPT = DATA / "prompt.json"
SPLITS = ("train", "test")
COLUMNS = ("image", "image_id", "caption")
SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")


class Download(Params):
    url: HttpUrl
    sha256: str | None = None


class Prompt(Params):
    name: str
    version: int | None = Field(None, ge=1)
    alias: str | None = None

    @model_validator(mode="after")
    def _one_ref(self) -> Prompt:
        if (self.version is None) == (self.alias is None):
            raise ValueError("set exactly one of prompt.version and prompt.alias")
        return self


class Process(Params):
    num_samples: int = Field(gt=1)
    test_fraction: float = Field(gt=0, lt=1)
    seed: int


class RocoParams(Params):
    download: Download
    prompt: Prompt
    process: Process


def params() -> RocoParams:
    return load_params(DATASET, RocoParams)


def download() -> None:
    """Fetch the parquet shard (images embedded) and record its source in raw/sources.json."""
    d = params().download
    source = fetch(str(d.url), RAW / Path(d.url.path or "train.parquet").name, dataset=DATASET, sha256=d.sha256)
    write_sources(DATASET, [source])


def resolve_prompt() -> None:
    """Load the prompt by version or alias from MLflow and write what it resolved to (text, version, sha256)."""
    from steps.sources.prompts import load_prompt

    p = params().prompt
    write_json(PROMPT, load_prompt(p.name, p.version, p.alias).to_dict())


def image_info(data: bytes) -> tuple[str, int, int]:
    """Format and size of PNG or JPEG bytes, read from the header."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return "png", width, height
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                break
            marker, length = data[i + 1], struct.unpack(">H", data[i + 2:i + 4])[0]
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                height, width = struct.unpack(">HH", data[i + 5:i + 9])
                return "jpeg", width, height
            i += 2 + length
    raise DregError("an image is neither PNG nor JPEG (or its header is truncated)", "check the source shard")


def read_rows(path: Path, n: int) -> list[dict[str, Any]]:
    """The first `n` rows of the shard (read batch by batch, so a large shard is never loaded whole)."""
    try:
        shard = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise DregError(f"{path}: not a parquet file ({exc})", "re-run the download stage") from None
    missing = [c for c in COLUMNS if c not in shard.schema_arrow.names]
    if missing:
        raise DregError(f"{path}: missing columns {missing}", "is this a Radiology_mini / ROCO parquet shard?")
    columns = [*COLUMNS, *(["cui"] if "cui" in shard.schema_arrow.names else [])]
    rows: list[dict[str, Any]] = []
    for batch in shard.iter_batches(batch_size=64, columns=columns):
        rows.extend(batch.to_pylist()[: n - len(rows)])
        if len(rows) >= n:
            break
    if len(rows) < n:
        raise DregError(f"{path} has {len(rows)} rows, fewer than process.num_samples={n}", "lower num_samples")
    return rows


def sample_record(row: dict[str, Any], split: str, template: str) -> tuple[dict[str, Any], bytes, str]:
    """One conversation record, the image bytes and the image's path relative to the split folder."""
    from steps.sources.prompts import render

    image_id, caption = str(row["image_id"] or "").strip(), str(row["caption"] or "").strip()
    data = (row["image"] or {}).get("bytes") if isinstance(row["image"], dict) else None
    if not image_id or not caption or not data:
        raise DregError(f"{split} sample {image_id or '?'}: empty image_id, caption or image", "check the source shard")
    try:
        fmt, width, height = image_info(data)
    except DregError as exc:
        raise DregError(f"{split} sample {image_id}: {exc.message}", exc.hint) from None
    rel = f"images/{SAFE_NAME.sub('_', image_id)}.{'png' if fmt == 'png' else 'jpg'}"
    prompt = render(template, {"image_id": image_id})
    record = {
        "id": image_id,
        "image": rel,
        "messages": [
            {"role": "user", "content": [{"type": "image", "image": rel}, {"type": "text", "text": prompt}]},
            {"role": "assistant", "content": [{"type": "text", "text": caption}]},
        ],
        "caption": caption,
        "cui": list(row.get("cui") or []),
        "image_format": fmt,
        "width": width,
        "height": height,
    }
    return record, data, rel


def process() -> None:
    """Render the prompt per sample; write train/test JSONL conversations and the images beside them."""
    p = params().process
    prompt = json.loads(PROMPT.read_text())
    rows = read_rows(RAW / read_sources(DATASET)[0]["file"], p.num_samples)
    ids = [str(r["image_id"]) for r in rows]
    if len(set(ids)) != len(ids):
        raise DregError("duplicate image_id in the source rows", "image ids must be unique")
    train, test = split_indices(len(rows), p.test_fraction, p.seed)
    for split, idx in (("train", train), ("test", test)):
        if not len(idx):
            raise DregError(f"the {split} split is empty", "raise num_samples or adjust test_fraction")
        folder = PROCESSED / split
        lines = []
        for i in idx:
            record, data, rel = sample_record(rows[int(i)], split, prompt["template"])
            write_bytes(folder / rel, data)
            lines.append(json.dumps(record, ensure_ascii=False, sort_keys=True))
        with atomic_path(folder / f"{split}.jsonl") as tmp:
            tmp.write_text("\n".join(lines) + "\n")


def read_split(split: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (PROCESSED / split / f"{split}.jsonl").read_text().splitlines() if line]


def stats(values: list[float]) -> dict[str, float]:
    v = np.asarray(values, dtype=np.float64)
    return {"mean": round(float(v.mean()), 4), "min": float(v.min()), "max": float(v.max()),
            "p95": round(float(np.percentile(v, 95)), 4)}


def split_metrics(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Caption lengths, image sizes and formats of one split."""
    formats: dict[str, int] = {}
    for r in records:
        formats[r["image_format"]] = formats.get(r["image_format"], 0) + 1
    return {
        "caption_length_chars": stats([len(r["caption"]) for r in records]),
        "caption_length_tokens": stats([len(r["caption"].split()) for r in records]),
        "image_width": stats([r["width"] for r in records]),
        "image_height": stats([r["height"] for r in records]),
        "image_formats": dict(sorted(formats.items())),
    }


def analyze() -> None:
    """Split sizes, caption and image statistics, and the prompt's lineage into metadata.json."""
    prompt = json.loads(PROMPT.read_text())
    splits = {s: read_split(s) for s in SPLITS}
    write_metadata(
        DATASET,
        schema={
            "format": "qwen-vl-messages",
            "features": {
                "id": {"dtype": "string"},
                "image": {"dtype": "string", "description": "image path relative to the split folder"},
                "messages": {"dtype": "list", "roles": ["user", "assistant"]},
                "caption": {"dtype": "string"},
                "cui": {"dtype": "list<string>"},
            },
            "files": {s: f"processed/{s}/{s}.jsonl" for s in SPLITS},
            "images": {s: f"processed/{s}/images/" for s in SPLITS},
        },
        splits={s: {"num_samples": len(r)} for s, r in splits.items()},
        metrics={s: split_metrics(r) for s, r in splits.items()},
        lineage=source_lineage(DATASET, params()),
        extra={"prompt": {k: prompt[k] for k in ("name", "version", "alias", "template", "sha256",
                                                 "tracking_uri_kind")}},
    )


if __name__ == "__main__":
    run_stage_main(DATASET, download, resolve_prompt, process, analyze)
