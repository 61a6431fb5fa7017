"""`make bench`: registry overheads as ratios against a baseline measured in the same run.

1. no-op `dreg run` (nothing changed) vs bare `dvc repro` on the same pipeline (goal ≤ 1.3x);
2. fashion-mnist process stage (decode + nested 28x28 parquet) vs writing the same arrays with pyarrow directly
   (goal ≤ 1.5x).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import chdir
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from steps import layout
from steps.dev.samples import sample_checksum_params, write_sample_files
from steps.dev.scaffold import create_registry, update_params

BIN = Path(sys.executable).parent


def timed(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - start


def noop_ratio(root: Path, dataset: str, rounds: int = 7) -> tuple[float, float]:
    """Median wall time of a no-op `dreg run` and of bare `dvc repro`, interleaved."""
    dreg_cmd = [str(BIN / "dreg"), "run", dataset]
    dvc_cmd = [str(BIN / "dvc"), "repro", layout.dvc_yaml(dataset)]
    timed(dreg_cmd, root), timed(dvc_cmd, root)  # warm the page cache
    pairs = [(timed(dreg_cmd, root), timed(dvc_cmd, root)) for _ in range(rounds)]
    return statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs)


def pyarrow_floor(root: Path) -> float:
    """Best time to write the decoded train (official 60k) and val (official t10k) arrays with pyarrow directly,
    in the same nested 28x28 layout and with the same options."""
    from steps.datasets import fashion_mnist as fm
    from steps.kit.tables import PARQUET_OPTIONS

    with chdir(root):
        p = fm.params()
        files = {k: fm.RAW / f.name for k, f in p.download.files.items()}
        splits = {split: fm.read_pair(files, source) for split, source in fm.SPLITS.items()}
    best = float("inf")
    with tempfile.TemporaryDirectory() as out:
        for _ in range(3):
            start = time.perf_counter()
            for name, (images, labels) in splits.items():
                rows = pa.FixedSizeListArray.from_arrays(pa.array(images.reshape(-1)), 28)
                table = pa.table({"image": pa.FixedSizeListArray.from_arrays(rows, 28), "label": pa.array(labels)})
                pq.write_table(table, f"{out}/{name}.parquet", **PARQUET_OPTIONS)
            best = min(best, time.perf_counter() - start)
    return best


def process_time(root: Path) -> float:
    """Best time of the real process stage (decode IDX gzip, split, write parquet)."""
    from steps.datasets import fashion_mnist as fm

    best = float("inf")
    with chdir(root):
        for _ in range(3):
            start = time.perf_counter()
            fm.process()
            best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="dreg-bench-") as tmp:
        base = Path(tmp)
        reg = create_registry(base, allow_sample_data=True)
        mirror = base / "mirror"
        digests = {"fashion-mnist": write_sample_files(mirror, "fashion-mnist", size=60_000),
                   "wine-quality": write_sample_files(mirror, "wine-quality")}
        for dataset, update in sample_checksum_params(mirror, digests).items():
            update_params(reg.root, dataset, update)
        os.environ["DREG_MIRROR"] = str(mirror)
        for dataset in ("wine-quality", "fashion-mnist"):
            subprocess.run([str(BIN / "dreg"), "run", dataset, "--no-publish"], cwd=reg.root, check=True,
                           capture_output=True)
        for dataset in ("wine-quality", "fashion-mnist"):
            dreg_s, dvc_s = noop_ratio(reg.root, dataset)
            print(f"no-op run:   {dataset}: dreg run {dreg_s:.3f}s  vs  dvc repro {dvc_s:.3f}s  → ratio "
                  f"{dreg_s / dvc_s:.2f}x (goal ≤ 1.30x, median of 7 interleaved runs)")
        n_images = 60_000 + 10_000
        floor, ours = pyarrow_floor(reg.root), process_time(reg.root)
        print(f"process:     fashion-mnist process {n_images / ours:,.0f} images/s ({ours:.3f}s)  vs  pyarrow write "
              f"{n_images / floor:,.0f} images/s ({floor:.3f}s)  → ratio {ours / floor:.2f}x (goal ≤ 1.50x, best of 3)")
        print(f"(cores: {os.cpu_count()}, numpy {np.__version__}, pyarrow {pa.__version__})")


if __name__ == "__main__":
    main()
