"""roco-radiology: `unsloth/Radiology_mini` images + captions as Qwen-VL conversations, prompt from MLflow.

Consumer contract (a Qwen2.5-VL fine-tuning job): `processed/{split}/annotations.json` is a JSON list of
`{"image": "<file name>", "conversations": [{"from": "human", "value": "<image>\\n<instruction>"},
{"from": "gpt", "value": "<caption>"}]}` and each image is the JPEG `processed/{split}/images/<file name>`;
`metadata.prompt` has `prompt_name` and `prompt_version` (with alias, sha256 and template beside them).

The Hub shard is read at the commit `download.revision` (a branch, tag or commit) resolved to, recorded in
`pipelines/roco-radiology/hub-pin.json` (`steps.sources.hub`); `download` reads only the parquet footer and the
row groups that hold the first `process.num_samples` rows, through HTTP range requests.
`resolve_prompt` runs on every `dreg run` (`always_changed`): it loads the prompt named in params by version
or alias and writes the resolved text and version to `prompt.json`. `process` depends on that file, so a
new version (or a moved alias) rebuilds the data and yields a release; an unchanged prompt does not.
"""

from __future__ import annotations

import io
import json
import re
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import Field, model_validator

from steps import layout
from steps.errors import DregError
from steps.kit.digests import file_digests
from steps.kit.download import resolve_source
from steps.kit.files import write_bytes, write_json
from steps.kit.metadata import read_sources, source_lineage, write_metadata, write_sources
from steps.kit.params import Params, load_params
from steps.kit.stage import run_stage_main
from steps.kit.tables import split_indices, write_parquet
from steps.sources.hub import HubFile, hub_lineage, pinned

DATASET = "roco-radiology"
DATA = Path(layout.data_dir(DATASET))
RAW, PROCESSED = DATA / "raw", DATA / "processed"
ROWS = RAW / "rows.parquet"
PROMPT = DATA / "prompt.json"
SPLITS = ("train", "test")
COLUMNS = ("image", "image_id", "caption")
SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")
IMAGE_TOKEN = "<image>"


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
    download: HubFile
    prompt: Prompt
    process: Process


def params() -> RocoParams:
    """The validated params of the pipeline."""
    return load_params(DATASET, RocoParams)


@contextmanager
def open_shard(location: str) -> Iterator[pq.ParquetFile]:
    """The shard as a ParquetFile: a local file, or an HTTP file read lazily with range requests."""
    try:
        if "://" in location:
            import fsspec

            with fsspec.filesystem("http").open(location, "rb", cache_type="none") as f:  # one range request per read
                yield pq.ParquetFile(f)
        else:
            with open(location, "rb") as f:
                yield pq.ParquetFile(f)
    except FileNotFoundError:
        raise DregError(f"no shard at {location}", "check download.repo/revision/path (or DREG_MIRROR)") from None
    except (pa.ArrowException, OSError) as exc:
        raise DregError(f"{location}: cannot read the parquet shard ({str(exc)[:200]})",
                        "check download.revision and path, and the network (or set DREG_MIRROR)") from None


def needed_row_groups(meta: pq.FileMetaData, n: int) -> list[int]:
    """The leading row groups that hold the first `n` rows."""
    groups, rows = [], 0
    for i in range(meta.num_row_groups):
        if rows >= n:
            break
        groups.append(i)
        rows += meta.row_group(i).num_rows
    if rows < n:
        raise DregError(f"the shard has {rows} rows, fewer than process.num_samples={n}", "lower num_samples")
    return groups


def download() -> None:
    """Read the first `num_samples` rows of the pinned shard (footer + needed row groups only) into raw/."""
    p = params()
    commit = pinned(DATASET, p.download).commit or p.download.revision
    url = p.download.url(commit)
    location, kind = resolve_source(url, DATASET)
    with open_shard(location) as shard:
        names = shard.schema_arrow.names
        missing = [c for c in COLUMNS if c not in names]
        if missing:
            raise DregError(f"{url}: missing columns {missing}", "is this a Radiology_mini / ROCO parquet shard?")
        groups = needed_row_groups(shard.metadata, p.process.num_samples)
        columns = [*COLUMNS, *(["cui"] if "cui" in names else [])]
        table = shard.read_row_groups(groups, columns=columns).slice(0, p.process.num_samples)
        shard_rows = shard.metadata.num_rows
    write_parquet(table, ROWS)
    write_sources(DATASET, [{"url": url, "file": ROWS.name, "kind": kind, "revision": commit,
                             "ref": p.download.revision, "row_groups": groups, "shard_rows": shard_rows,
                             "rows": table.num_rows,
                             "bytes": ROWS.stat().st_size, **file_digests(ROWS)}])


def resolve_prompt() -> None:
    """Load the prompt by version or alias from MLflow and write what it resolved to (text, version, sha256)."""
    from steps.sources.prompts import load_prompt

    p = params().prompt
    write_json(PROMPT, load_prompt(p.name, p.version, p.alias).to_dict())


def image_info(data: bytes) -> tuple[str, int, int]:
    """Format, width and height of PNG or JPEG bytes, read from the header."""
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


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The rows the download stage kept (image bytes, id, caption, cui)."""
    try:
        return pq.read_table(path).to_pylist()
    except (pa.ArrowException, OSError) as exc:
        raise DregError(f"{path}: not a parquet file ({exc})", "re-run the download stage") from None


def as_jpeg(data: bytes) -> tuple[bytes, int, int]:
    """JPEG bytes (PNG is re-encoded, JPEG kept byte for byte) and the image's width and height."""
    fmt, width, height = image_info(data)
    if fmt == "jpeg":
        return data, width, height
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        out = io.BytesIO()
        im.convert("L" if im.mode in ("L", "I", "I;16") else "RGB").save(out, "JPEG", quality=95)
    return out.getvalue(), width, height


def sample_record(row: dict[str, Any], split: str, instruction: str) -> tuple[dict[str, Any], bytes]:
    """One annotation (`image` file name + human/gpt conversation) and its JPEG bytes."""
    image_id, caption = str(row["image_id"] or "").strip(), str(row["caption"] or "").strip()
    data = (row["image"] or {}).get("bytes") if isinstance(row["image"], dict) else None
    if not image_id or not caption or not data:
        raise DregError(f"{split} sample {image_id or '?'}: empty image_id, caption or image", "check the source shard")
    try:
        jpeg, _, _ = as_jpeg(data)
    except DregError as exc:
        raise DregError(f"{split} sample {image_id}: {exc.message}", exc.hint) from None
    record = {"image": f"{SAFE_NAME.sub('_', image_id)}.jpg",
              "conversations": [{"from": "human", "value": f"{IMAGE_TOKEN}\n{instruction}"},
                                {"from": "gpt", "value": caption}]}
    return record, jpeg


def process() -> None:
    """Render the prompt per sample; write `{split}/annotations.json` and `{split}/images/<file>.jpg`."""
    from steps.sources.prompts import render

    p = params().process
    template = json.loads(PROMPT.read_text())["template"]
    rows = read_rows(RAW / read_sources(DATASET)[0]["file"])
    ids = [str(r["image_id"]) for r in rows]
    if len(set(ids)) != len(ids):
        raise DregError("duplicate image_id in the source rows", "image ids must be unique")
    train, test = split_indices(len(rows), p.test_fraction, p.seed)
    for split, idx in (("train", train), ("test", test)):
        if not len(idx):
            raise DregError(f"the {split} split is empty", "raise num_samples or adjust test_fraction")
        records = []
        for i in idx:
            row = rows[int(i)]
            record, jpeg = sample_record(row, split, render(template, {"image_id": str(row["image_id"]).strip()}))
            write_bytes(PROCESSED / split / "images" / record["image"], jpeg)
            records.append(record)
        write_json(PROCESSED / split / "annotations.json", records)


def read_split(split: str) -> list[dict[str, Any]]:
    """The annotations of a written split."""
    return json.loads((PROCESSED / split / "annotations.json").read_text())


def stats(values: list[float]) -> dict[str, float]:
    """mean, min, max, p95 of a list of numbers."""
    v = np.asarray(values, dtype=np.float64)
    return {"mean": round(float(v.mean()), 4), "min": float(v.min()), "max": float(v.max()),
            "p95": round(float(np.percentile(v, 95)), 4)}


def split_metrics(split: str, records: list[dict[str, Any]]) -> dict[str, Any]:
    """Caption lengths and image sizes of one split (sizes read from the JPEG headers)."""
    captions = [r["conversations"][1]["value"] for r in records]
    sizes = [image_info((PROCESSED / split / "images" / r["image"]).read_bytes())[1:] for r in records]
    return {
        "caption_length_chars": stats([len(c) for c in captions]),
        "caption_length_tokens": stats([len(c.split()) for c in captions]),
        "image_width": stats([w for w, _ in sizes]),
        "image_height": stats([h for _, h in sizes]),
        "image_formats": {"jpeg": len(records)},
    }


def analyze() -> None:
    """Split sizes, caption and image statistics, the Hub revision and the prompt's lineage into metadata.json."""
    p = params()
    prompt = json.loads(PROMPT.read_text())
    splits = {s: read_split(s) for s in SPLITS}
    write_metadata(
        DATASET,
        schema={
            "format": "qwen-vl-conversations",
            "features": {
                "image": {"dtype": "string", "description": "JPEG file name in the split's images/ folder"},
                "conversations": {"dtype": "list", "from": ["human", "gpt"],
                                  "human": f"{IMAGE_TOKEN}\\n + the rendered prompt", "gpt": "the caption"},
            },
            "files": {s: f"processed/{s}/annotations.json" for s in SPLITS},
            "images": {s: f"processed/{s}/images/" for s in SPLITS},
        },
        splits={s: {"num_samples": len(r)} for s, r in splits.items()},
        metrics={s: split_metrics(s, r) for s, r in splits.items()},
        lineage=source_lineage(DATASET, p, hub=hub_lineage(p.download, read_sources(DATASET)[0])),
        extra={"prompt": {"prompt_name": prompt["name"], "prompt_version": prompt["version"],
                          **{k: prompt[k] for k in ("alias", "template", "sha256", "tracking_uri_kind")}}},
    )


if __name__ == "__main__":
    run_stage_main(DATASET, download, resolve_prompt, process, analyze)
