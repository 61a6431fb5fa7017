"""Format-faithful generated sources: the demo's sample mirror and the tests' local HTTP server.

Files are laid out as `<root>/<dataset>/<basename of the real source URL>`, the `DREG_MIRROR` layout.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from steps.download import SAMPLE_MARKER

WINE_COLUMNS = [
    "fixed acidity", "volatile acidity", "citric acid", "residual sugar", "chlorides", "free sulfur dioxide",
    "total sulfur dioxide", "density", "pH", "sulphates", "alcohol", "quality",
]
WINE_RANGES = [(4.6, 15.9), (0.12, 1.58), (0.0, 1.0), (0.9, 15.5), (0.012, 0.61), (1, 72), (6, 289),
               (0.990, 1.004), (2.74, 4.01), (0.33, 2.0), (8.4, 14.9)]


def wine_csv(n: int, seed: int) -> bytes:
    """A UCI-format wine CSV: quoted header, semicolon-separated, integer quality 3..9."""
    rng = np.random.default_rng(seed)
    header = ";".join(f'"{c}"' for c in WINE_COLUMNS)
    lines = [header]
    for _ in range(n):
        values = [round(float(rng.uniform(lo, hi)), 4) for lo, hi in WINE_RANGES]
        quality = int(np.clip(round(rng.normal(5.8, 0.9)), 3, 9))
        lines.append(";".join([*map(str, values), str(quality)]))
    return ("\n".join(lines) + "\n").encode()


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


def fashion_files(size: int = 600, seed: int = 0) -> dict[str, bytes]:
    rng = np.random.default_rng(seed)
    train, test = rng.integers(0, 10, size).astype(np.uint8), rng.integers(0, 10, max(size // 6, 10)).astype(np.uint8)
    return {
        "train-images-idx3-ubyte.gz": idx_images(len(train), seed, train),
        "train-labels-idx1-ubyte.gz": idx_labels(train),
        "t10k-images-idx3-ubyte.gz": idx_images(len(test), seed + 1, test),
        "t10k-labels-idx1-ubyte.gz": idx_labels(test),
    }


GENERATORS: dict[str, Callable[..., dict[str, bytes]]] = {"wine-quality": wine_files, "fashion-mnist": fashion_files}


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
