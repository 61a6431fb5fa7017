"""Shared table helpers: seeded splits, deterministic parquet, column statistics, class counts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from numpy.typing import ArrayLike

from steps.kit.files import atomic_path

PARQUET_OPTIONS: dict[str, Any] = {"compression": "zstd", "compression_level": 1, "write_statistics": True}


def split_indices(
    n: int, val_fraction: float, seed: int, stratify: ArrayLike | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded train/val row indices (sorted); stratified per class when `stratify` is given."""
    rng = np.random.default_rng(seed)
    if stratify is None:
        perm = rng.permutation(n)
        n_val = round(n * val_fraction)
        return np.sort(perm[n_val:]), np.sort(perm[:n_val])
    labels = np.asarray(stratify)
    train, val = [], []
    for cls in sorted(set(labels.tolist()), key=str):
        idx = np.flatnonzero(labels == cls)
        idx = idx[rng.permutation(len(idx))]
        n_val = round(len(idx) * val_fraction)
        val.append(idx[:n_val])
        train.append(idx[n_val:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(val))


def write_parquet(table: pa.Table, path: Path | str) -> None:
    """Write `table` atomically with the registry's fixed parquet options (byte-identical for equal input)."""
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, **PARQUET_OPTIONS)


def numeric_stats(values: ArrayLike) -> dict[str, float]:
    """mean, std (population), min, max of a numeric column, rounded for stable JSON."""
    v = np.asarray(values, dtype=np.float64)
    return {k: round(float(f(v)), 8) for k, f in (("mean", np.mean), ("std", np.std), ("min", np.min), ("max", np.max))}


def class_counts(labels: ArrayLike) -> dict[str, int]:
    """Samples per class, keys as strings in natural sort order."""
    values, counts = np.unique(np.asarray(labels), return_counts=True)
    return {str(v): int(c) for v, c in zip(values.tolist(), counts.tolist(), strict=True)}
