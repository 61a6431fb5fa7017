"""fashion-mnist: the four IDX gzip files, verified by MD5, as parquet splits of 28x28 uint8 images.

Consumer contract: `image` is a list of 28 rows of 28 uint8 pixels (row-major), `label` uint8; `train` is the
official 60k training set and `val` the official 10k t10k set, both optionally sampled by `sample_fraction`.
"""

from __future__ import annotations

import gzip
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import Field, HttpUrl

from steps import layout
from steps.errors import DregError
from steps.kit.download import fetch
from steps.kit.metadata import source_lineage, write_metadata, write_sources
from steps.kit.params import Params, load_params
from steps.kit.stage import run_stage_main
from steps.kit.tables import class_counts, split_indices, write_parquet

DATASET = "fashion-mnist"
DATA = Path(layout.data_dir(DATASET))
RAW, PROCESSED = DATA / "raw", DATA / "processed"
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
ROWS = COLS = 28
PIXELS = ROWS * COLS
IMAGE_MAGIC, LABEL_MAGIC = 2051, 2049
FILE_KEYS = ("train_images", "train_labels", "test_images", "test_labels")
SPLITS = {"train": "train", "val": "test"}  # published split → official IDX pair


class SourceFile(Params):
    name: str
    md5: str | None = None


class Download(Params):
    base_url: HttpUrl
    files: dict[str, SourceFile]


class Process(Params):
    sample_fraction: float = Field(1.0, gt=0, le=1)
    seed: int


class FashionParams(Params):
    download: Download
    process: Process


def params() -> FashionParams:
    p = load_params(DATASET, FashionParams)
    if sorted(p.download.files) != sorted(FILE_KEYS):
        raise DregError(f"params download.files must name exactly {list(FILE_KEYS)}",
                        "see pipelines/fashion-mnist/params.yaml")
    return p


def download() -> None:
    """Fetch the four IDX files and verify each against its published MD5."""
    d = params().download
    base = str(d.base_url).rstrip("/")
    sources = [
        {"role": key, **fetch(f"{base}/{f.name}", RAW / f.name, dataset=DATASET, md5=f.md5)}
        for key, f in sorted(d.files.items())
    ]
    write_sources(DATASET, sources)


def read_idx(path: Path, magic: int) -> np.ndarray:
    """Decode a gzipped IDX file (images → (n, 784) uint8, labels → (n,) uint8)."""
    try:
        buf = gzip.decompress(path.read_bytes())
    except (OSError, EOFError) as exc:
        raise DregError(f"{path}: not a gzip file ({exc})", "re-run the download stage") from None
    header = np.frombuffer(buf, dtype=">u4", count=3 if magic == IMAGE_MAGIC else 2)
    if int(header[0]) != magic:
        raise DregError(f"{path}: IDX magic {int(header[0])} != {magic}", "is this the right file?")
    n = int(header[1])
    if magic == IMAGE_MAGIC:
        data = np.frombuffer(buf, dtype=np.uint8, offset=16)
        if data.size != n * PIXELS or tuple(np.frombuffer(buf, ">u4", 2, 8)) != (ROWS, COLS):
            raise DregError(f"{path}: expected {n} images of {ROWS}x{COLS}", "the file is truncated or corrupt")
        return data.reshape(n, PIXELS)
    data = np.frombuffer(buf, dtype=np.uint8, offset=8)
    if data.size != n or (data.size and int(data.max()) >= len(CLASSES)):
        raise DregError(f"{path}: expected {n} labels in 0..{len(CLASSES) - 1}", "the file is truncated or corrupt")
    return data


def image_table(images: np.ndarray, labels: np.ndarray) -> pa.Table:
    """Arrow table with `image` (28 fixed-size lists of 28 uint8, row-major) and `label` (uint8), zero-copy."""
    flat = pa.array(np.ascontiguousarray(images).reshape(-1))
    rows = pa.FixedSizeListArray.from_arrays(flat, COLS)
    return pa.table({"image": pa.FixedSizeListArray.from_arrays(rows, ROWS), "label": pa.array(labels)})


def sample_rows(n: int, fraction: float, seed: int) -> np.ndarray | None:
    """Sorted seeded row indices keeping `fraction` of `n` rows, or None to keep them all."""
    if fraction >= 1:
        return None
    keep, _ = split_indices(n, 1 - fraction, seed)
    return keep


def read_pair(files: dict[str, Path], source: str) -> tuple[np.ndarray, np.ndarray]:
    """Decode one official IDX pair (`train` or `test`) and check it belongs together."""
    images = read_idx(files[f"{source}_images"], IMAGE_MAGIC)
    labels = read_idx(files[f"{source}_labels"], LABEL_MAGIC)
    if len(images) != len(labels):
        raise DregError(f"{source}: {len(images)} images but {len(labels)} labels",
                        "the IDX files do not belong together")
    return images, labels


def write_split(split: str, files: dict[str, Path], p: Process) -> None:
    """Decode the split's official IDX pair, sample it, and write `processed/<split>/<split>.parquet`."""
    images, labels = read_pair(files, SPLITS[split])
    keep = sample_rows(len(labels), p.sample_fraction, p.seed)
    if keep is not None:
        images, labels = images[keep], labels[keep]
    write_parquet(image_table(images, labels), PROCESSED / split / f"{split}.parquet")


def process() -> None:
    """train = official training set, val = official t10k set, both written in parallel (zlib and parquet
    release the GIL)."""
    p = params()
    files = {k: RAW / f.name for k, f in p.download.files.items()}
    with ThreadPoolExecutor(len(SPLITS)) as pool:
        for done in [pool.submit(write_split, split, files, p.process) for split in SPLITS]:
            done.result()


def pixel_moments(images: np.ndarray) -> tuple[float, float]:
    """Exact mean and std of pixels scaled to [0, 1] (integer sums, so the result is deterministic)."""
    x = images.astype(np.int64, copy=False).reshape(-1)
    n = x.size
    s, ss = int(x.sum()), int(np.dot(x, x))
    mean = s / n
    return mean / 255.0, float(np.sqrt(max(ss / n - mean * mean, 0.0))) / 255.0


def read_split(split: str) -> tuple[np.ndarray, np.ndarray]:
    """Images (n, 784) and labels of a written split."""
    table = pq.read_table(PROCESSED / split / f"{split}.parquet")
    images = table.column("image").combine_chunks().flatten().flatten().to_numpy().reshape(-1, PIXELS)
    return images, table.column("label").to_numpy()


def analyze() -> None:
    """Pixel mean/std of the training split, class names and per-split distributions into metadata.json."""
    splits = {s: read_split(s) for s in SPLITS}
    mean, std = pixel_moments(splits["train"][0])
    metrics: dict[str, dict[str, Any]] = {
        s: {"class_distribution": {CLASSES[int(k)]: v for k, v in class_counts(y).items()}}
        for s, (_, y) in splits.items()
    }
    metrics["train"].update(pixel_mean=round(mean, 8), pixel_std=round(std, 8))
    write_metadata(
        DATASET,
        schema={
            "features": {
                "image": {"dtype": "uint8", "shape": [ROWS, COLS], "layout": "row-major", "scale": 255,
                          "arrow": "fixed_size_list<fixed_size_list<uint8>[28]>[28]"},
                "label": {"dtype": "uint8", "classes": CLASSES},
            },
            "files": {s: f"processed/{s}/{s}.parquet" for s in splits},
            "sources": {s: f"official {SPLITS[s]} set" for s in splits},
        },
        splits={s: {"num_samples": len(y)} for s, (_, y) in splits.items()},
        metrics=metrics,
        lineage=source_lineage(DATASET, params()),
    )


if __name__ == "__main__":
    run_stage_main(DATASET, download, process, analyze)
