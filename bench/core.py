"""`make bench`: registry overheads as ratios against a baseline measured in the same run.

Also the helpers every benchmark shares: `timed` (one whole process), `interleaved` (medians of commands run
side by side, round after round), `cpu_model` (printed by every benchmark) and `goal` (the closing
`GOAL <name>: <measured> (goal <op> <target>) met|MISSED` lines).

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
from collections.abc import Callable, Mapping
from contextlib import chdir
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from steps import layout
from steps.dev.samples import sample_checksum_params, write_sample_files
from steps.dev.scaffold import create_registry, update_params

BIN = Path(sys.executable).parent


OPS: dict[str, Callable[[float, float], bool]] = {"≤": lambda a, b: a <= b, "<": lambda a, b: a < b,
                                                  "≥": lambda a, b: a >= b, ">": lambda a, b: a > b}


def timed(cmd: list[str], cwd: Path, env: Mapping[str, str] | None = None) -> float:
    """Wall seconds of one whole process (its output discarded; it must succeed)."""
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, env=None if env is None else dict(env))
    return time.perf_counter() - start


def child_cpu() -> float:
    """CPU seconds (user + system) of every finished child process so far: unlike wall time, not inflated by other
    work on a loaded machine."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def interleaved(runs: Mapping[str, Callable[[], float]], rounds: int) -> dict[str, float]:
    """Median seconds of each named run, the runs taken in turn within each round (one warm-up round first)."""
    for run in runs.values():
        run()
    samples: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            samples[name].append(run())
    return {name: statistics.median(times) for name, times in samples.items()}


def clock(fn: Callable[[], object]) -> Callable[[], float]:
    """`fn` as a run for `interleaved`: its wall seconds."""
    def run() -> float:
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start
    return run


def cpu_model() -> str:
    """The CPU model name, its core count and the vector extensions that decide embedding backends."""
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    lines = info.splitlines()
    model = next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name")), "unknown CPU")
    flags = set(next((ln.split(":", 1)[1].split() for ln in lines if ln.startswith("flags")), []))
    ext = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f in flags]
    return f"{model}, {os.cpu_count()} cores, {' '.join(ext) or 'no AVX2'}"


def print_cpu() -> None:
    """The line every benchmark starts with."""
    print(f"CPU: {cpu_model()}", flush=True)


def goal(name: str, measured: float, op: str, target: float, unit: str = "") -> str:
    """The closing line of one goal: `GOAL <name>: <measured> (goal <op> <target>) met` (or `MISSED`)."""
    ok = OPS[op](measured, target)
    suffix = f" {unit}" if unit and unit != "x" else unit
    return f"GOAL {name}: {measured:.3g}{suffix} (goal {op} {target:g}{suffix}) {'met' if ok else 'MISSED'}"


def noop_ratio(root: Path, dataset: str, rounds: int = 7) -> tuple[float, float]:
    """Median wall time of a no-op `dreg run` and of bare `dvc repro`, interleaved."""
    dreg_cmd = [str(BIN / "dreg"), "run", dataset]
    dvc_cmd = [str(BIN / "dvc"), "repro", layout.dvc_yaml(dataset)]
    got = interleaved({"dreg": lambda: timed(dreg_cmd, root), "dvc": lambda: timed(dvc_cmd, root)}, rounds)
    return got["dreg"], got["dvc"]


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
    print_cpu()
    goals = []
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
                  f"{dreg_s / dvc_s:.2f}x (median of 7 interleaved runs)")
            goals.append(goal(f"no-op dreg run / dvc repro ({dataset})", dreg_s / dvc_s, "≤", 1.3, "x"))
        n_images = 60_000 + 10_000
        floor, ours = pyarrow_floor(reg.root), process_time(reg.root)
        print(f"process:     fashion-mnist process {n_images / ours:,.0f} images/s ({ours:.3f}s)  vs  pyarrow write "
              f"{n_images / floor:,.0f} images/s ({floor:.3f}s)  → ratio {ours / floor:.2f}x (best of 3)")
        goals.append(goal("fashion-mnist process / pyarrow floor", ours / floor, "≤", 1.5, "x"))
        print(f"(numpy {np.__version__}, pyarrow {pa.__version__})")
    print("\n".join(goals))


if __name__ == "__main__":
    main()
