"""Format-faithful generated sources: the demo's sample mirror and the tests' local HTTP server.

Files are laid out as `<root>/<dataset>/<basename of the real source URL>`, the `DREG_MIRROR` layout.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from steps.kit.digests import file_digests
from steps.kit.download import SAMPLE_MARKER

WINE_COLUMNS = [
    "fixed acidity", "volatile acidity", "citric acid", "residual sugar", "chlorides", "free sulfur dioxide",
    "total sulfur dioxide", "density", "pH", "sulphates", "alcohol", "quality",
]
WINE_RANGES = [(4.6, 15.9), (0.12, 1.58), (0.0, 1.0), (0.9, 15.5), (0.012, 0.61), (1, 72), (6, 289),
               (0.990, 1.004), (2.74, 4.01), (0.33, 2.0), (8.4, 14.9)]


def wine_csv(n: int, seed: int, duplicate_fraction: float = 0.15) -> bytes:
    """A UCI-format wine CSV: quoted header, semicolon-separated, integer quality 3..9, and (like the real files)
    exact duplicate rows, ~`duplicate_fraction` of them."""
    rng = np.random.default_rng(seed)
    rows: list[str] = []
    for _ in range(n):
        if rows and rng.random() < duplicate_fraction:
            rows.append(rows[int(rng.integers(len(rows)))])
            continue
        values = [round(float(rng.uniform(lo, hi)), 4) for lo, hi in WINE_RANGES]
        quality = int(np.clip(round(rng.normal(5.8, 0.9)), 3, 9))
        rows.append(";".join([*map(str, values), str(quality)]))
    return ("\n".join([";".join(f'"{c}"' for c in WINE_COLUMNS), *rows]) + "\n").encode()


def idx_images(n: int, seed: int, labels: np.ndarray) -> bytes:
    """Gzipped IDX3 (magic 2051) of n 28x28 uint8 images with a class-dependent pattern."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:28, 0:28]
    images = np.empty((n, 28, 28), dtype=np.uint8)
    for i, label in enumerate(labels):
        blob = np.exp(-(((yy - 4 - 2 * label) ** 2) + ((xx - 14) ** 2)) / (30 + 5 * label))
        images[i] = np.clip(blob * 255 + rng.normal(0, 20, (28, 28)), 0, 255).astype(np.uint8)
    header = np.array([2051, n, 28, 28], dtype=">u4").tobytes()
    return gzip.compress(header + images.tobytes(), mtime=0)


def idx_labels(labels: np.ndarray) -> bytes:
    """Gzipped IDX1 (magic 2049) of uint8 labels."""
    header = np.array([2049, len(labels)], dtype=">u4").tobytes()
    return gzip.compress(header + labels.astype(np.uint8).tobytes(), mtime=0)


def wine_files(size: int = 300, seed: int = 0) -> dict[str, bytes]:
    return {"winequality-red.csv": wine_csv(size, seed), "winequality-white.csv": wine_csv(size * 3, seed + 1)}


FASHION_FILES = {"train_images": "train-images-idx3-ubyte.gz", "train_labels": "train-labels-idx1-ubyte.gz",
                 "test_images": "t10k-images-idx3-ubyte.gz", "test_labels": "t10k-labels-idx1-ubyte.gz"}


def fashion_md5_params(md5: dict[str, str]) -> dict:
    """A fashion-mnist params update pinning each `download.files` entry to a generated file's md5."""
    return {"download": {"files": {key: {"md5": md5[name]} for key, name in FASHION_FILES.items()}}}


def wine_sha256_params(folder: Path) -> dict:
    """A wine-quality params update pinning each source's sha256 to the generated CSVs in `folder`."""
    return {"download": {"sources": {color: {"sha256": file_digests(folder / f"winequality-{color}.csv")["sha256"]}
                                     for color in ("red", "white")}}}


def sample_checksum_params(root: Path, digests: dict[str, dict[str, str]]) -> dict[str, dict]:
    """Params updates that pin the checksummed pipelines to the generated files under `root` (per dataset)."""
    updates = {"fashion-mnist": fashion_md5_params(digests["fashion-mnist"]) if "fashion-mnist" in digests else None,
               "wine-quality": wine_sha256_params(Path(root) / "wine-quality") if "wine-quality" in digests else None}
    return {dataset: update for dataset, update in updates.items() if update}


def fashion_files(size: int = 600, seed: int = 0) -> dict[str, bytes]:
    rng = np.random.default_rng(seed)
    train, test = rng.integers(0, 10, size).astype(np.uint8), rng.integers(0, 10, max(size // 6, 10)).astype(np.uint8)
    return {
        "train-images-idx3-ubyte.gz": idx_images(len(train), seed, train),
        "train-labels-idx1-ubyte.gz": idx_labels(train),
        "t10k-images-idx3-ubyte.gz": idx_images(len(test), seed + 1, test),
        "t10k-labels-idx1-ubyte.gz": idx_labels(test),
    }


PHRASES_FILE = Path(__file__).with_name("emotion_phrases.txt")  # `label: phrase | phrase | ...` per line


def emotion_phrases() -> dict[str, list[str]]:
    """Sample sentences per emotion label, in file order (the data lives beside this module)."""
    rows = (line.partition(":") for line in PHRASES_FILE.read_text().splitlines() if line.strip())
    return {label.strip(): [p.strip() for p in rest.split("|")] for label, _, rest in rows}


EMOTION_TAILS = ["", " honestly", " right now", " again", " today", " and I know it", " to be fair", " lol"]


def emotion_parquet(n: int, seed: int) -> bytes:
    """`emotions_dataset.parquet` as on the Hub: columns `Sentence` and `Label` (class name), unbalanced classes."""
    rng = np.random.default_rng(seed)
    phrases = emotion_phrases()
    labels = list(phrases)
    weights = np.linspace(2.0, 1.0, len(labels))
    picks = rng.choice(len(labels), size=n, p=weights / weights.sum())
    picks[: len(labels)] = np.arange(len(labels))
    sentences, names = [], []
    for i in picks:
        label = labels[int(i)]
        phrase = phrases[label][int(rng.integers(len(phrases[label])))]
        tail = EMOTION_TAILS[int(rng.integers(len(EMOTION_TAILS)))]
        sentences.append(f"{phrase}{tail}" + ("." if rng.random() < 0.5 else ""))
        names.append(label)
    table = pa.table({"Sentence": pa.array(sentences, pa.string()), "Label": pa.array(names, pa.string())})
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def jpeg_gray(pixels: np.ndarray) -> bytes:
    """Encode an (h, w) uint8 array as a baseline grayscale JPEG (as ROCO's images are)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(pixels, mode="L").save(buf, "JPEG", quality=90)
    return buf.getvalue()


def radiograph(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A radiograph-like image: a bright elliptical body on a dark field, with noise."""
    yy, xx = np.mgrid[0:h, 0:w]
    cy, cx = h / 2 + rng.normal(0, h / 20), w / 2 + rng.normal(0, w / 20)
    body = ((yy - cy) / (h * 0.4)) ** 2 + ((xx - cx) / (w * 0.3)) ** 2 < 1
    image = 30 + 150 * body + rng.normal(0, 15, (h, w))
    return np.clip(image, 0, 255).astype(np.uint8)


ROCO_FINDINGS = ["Axial CT of the chest showing a right lower lobe consolidation.",
                 "Frontal chest radiograph demonstrating cardiomegaly.",
                 "Sagittal MRI of the lumbar spine with an L4-L5 disc herniation.",
                 "Ultrasound of the right upper quadrant showing gallstones.",
                 "Contrast-enhanced CT of the abdomen with a hypodense liver lesion (arrow).",
                 "Head CT demonstrating an acute left subdural haematoma."]
ROCO_CUIS = ["C0040405", "C1306645", "C0024485", "C0041618", "C0018787", "C0023884"]
HF_IMAGE_FEATURES = {"image": {"_type": "Image"}, "image_id": {"dtype": "string", "_type": "Value"},
                     "caption": {"dtype": "string", "_type": "Value"},
                     "cui": {"feature": {"dtype": "string", "_type": "Value"}, "_type": "Sequence"}}


ROCO_ROW_GROUP = 8  # rows per row group: the Hub shard has many, so a reader can fetch only the ones it needs


def roco_parquet(n: int, seed: int, split: str = "train") -> bytes:
    """A `Radiology_mini` parquet shard: `image` {bytes, path} (JPEG), `image_id`, `caption`, `cui` (Hub schema),
    in row groups of ROCO_ROW_GROUP rows."""
    rng = np.random.default_rng(seed)
    ids = [f"ROCOv2_2023_{split}_{i + 1:06d}" for i in range(n)]
    images = [{"bytes": jpeg_gray(radiograph(rng, int(rng.integers(192, 321)), int(rng.integers(192, 321)))),
               "path": f"{image_id}.jpg"} for image_id in ids]
    kinds = rng.integers(len(ROCO_FINDINGS), size=n)
    image_type = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    table = pa.table({
        "image": pa.array(images, image_type),
        "image_id": pa.array(ids, pa.string()),
        "caption": pa.array([f" {ROCO_FINDINGS[int(k)]}" for k in kinds], pa.string()),
        "cui": pa.array([[ROCO_CUIS[int(k)]] for k in kinds], pa.list_(pa.string())),
    })
    meta = {b"huggingface": json.dumps({"info": {"features": HF_IMAGE_FEATURES}}).encode()}
    buf = io.BytesIO()
    pq.write_table(table.replace_schema_metadata(meta), buf, row_group_size=ROCO_ROW_GROUP)
    return buf.getvalue()


def emotion_files(size: int = 650, seed: int = 0) -> dict[str, bytes]:
    return {"emotions_dataset.parquet": emotion_parquet(size, seed)}


def roco_files(size: int = 500, seed: int = 0) -> dict[str, bytes]:
    return {"train-00000-of-00001.parquet": roco_parquet(size, seed)}


GENERATORS: dict[str, Callable[..., dict[str, bytes]]] = {
    "wine-quality": wine_files, "fashion-mnist": fashion_files, "emotion": emotion_files,
    "roco-radiology": roco_files,
}


def write_sample_files(root: Path, dataset: str, **kwargs: int) -> dict[str, str]:
    """Write one dataset's generated sources under `root/<dataset>/`; return {file name: md5}."""
    folder = Path(root) / dataset
    folder.mkdir(parents=True, exist_ok=True)
    digests = {}
    for name, data in GENERATORS[dataset](**kwargs).items():
        (folder / name).write_bytes(data)
        digests[name] = hashlib.md5(data).hexdigest()
    return digests


def write_sample_mirror(root: Path, datasets: list[str] | None = None) -> dict[str, dict[str, str]]:
    """A `DREG_MIRROR` folder of sample data, marked so lineage records `source.kind: sample`."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    (root / SAMPLE_MARKER).write_text("generated sample data: demo only\n")
    return {d: write_sample_files(root, d) for d in (datasets or list(GENERATORS))}
