"""`make demo`: a scratch registry under .demo/ that runs, releases, reads back and verifies datasets.

The user's checkout is left untouched: everything happens in `.demo/` (git repo, bare origin, DVC remote).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import requests
from rich.console import Console
from rich.table import Table

from steps.scaffold import PROJECT_ROOT, Registry, create_registry, update_params

console = Console(highlight=False)
DEMO = PROJECT_ROOT / ".demo"
PROBE_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/t10k-labels-idx1-ubyte.gz"
CORE = ["wine-quality", "fashion-mnist"]


def sources_reachable() -> bool:
    try:
        return requests.head(PROBE_URL, timeout=5).status_code < 400
    except requests.RequestException:
        return False


def dreg(reg: Registry, *args: str) -> None:
    """Run the real CLI in the demo registry, streaming its output; stop the demo if it fails."""
    console.print(f"[bold cyan]$ dreg {' '.join(args)}[/bold cyan]")
    proc = subprocess.run([str(Path(sys.executable).parent / "dreg"), *args], cwd=reg.root)
    if proc.returncode != 0:
        console.print(f"[red]demo stopped: `dreg {' '.join(args)}` exited {proc.returncode}[/red]")
        sys.exit(proc.returncode)


def commit(reg: Registry, message: str) -> None:
    subprocess.run(["git", "add", "-A"], cwd=reg.root, check=True)
    subprocess.run(["git", "commit", "-q", "-m", message], cwd=reg.root, check=True)


def use_sample_mirror(reg: Registry) -> None:
    """Serve generated sources in the real formats and pin the demo registry's checksums to them."""
    from steps.samples import write_sample_mirror

    digests = write_sample_mirror(DEMO / "mirror")
    os.environ["DREG_MIRROR"] = str(DEMO / "mirror")
    fm = digests["fashion-mnist"]
    update_params(reg.root, "fashion-mnist", {"download": {"files": {
        key: {"md5": fm[name]} for key, name in (
            ("train_images", "train-images-idx3-ubyte.gz"), ("train_labels", "train-labels-idx1-ubyte.gz"),
            ("test_images", "t10k-images-idx3-ubyte.gz"), ("test_labels", "t10k-labels-idx1-ubyte.gz"))}}})
    commit(reg, "demo: checksums of the generated sample sources")


def read_back(reg: Registry) -> None:
    """Read two versions by tag through dvc.api from origin, as a training job would.

    Origin is given as a file:// URL: a plain path inside this checkout would make DVC use the
    checkout's own remote config instead of the registry's.
    """
    import io

    import dvc.api
    import pandas as pd

    console.rule("read back by tag (dvc.api, from origin)")
    for tag in ("wine-quality-v1.0.0", "wine-quality-v1.1.0"):
        data = dvc.api.read("data/wine-quality/processed/train/train.parquet", repo=reg.origin.as_uri(), rev=tag,
                            mode="rb")
        frame = pd.read_parquet(io.BytesIO(data))
        console.print(f"{tag}: train split {len(frame)} rows, columns {list(frame.columns)[:3]}…")


def summary(reg: Registry) -> None:
    """Datasets, versions and key stats, read from origin through the consumer client."""
    from steps.client import read_metadata, remote_tags
    from steps.versions import parse_tag

    table = Table("dataset", "versions", "samples", "key stats", "source")
    tags = remote_tags(reg.origin.as_uri())
    for dataset in sorted({t.rsplit("-v", 1)[0] for t in tags}):
        versions = sorted((v for t in tags if (v := parse_tag(t, dataset))), reverse=True)
        meta = read_metadata(dataset, repo=reg.origin.as_uri())
        samples = ", ".join(f"{s}={i['num_samples']}" for s, i in sorted(meta.get("splits", {}).items()))
        train = meta.get("metrics", {}).get("train", {})
        stats = (f"pixel mean {train['pixel_mean']:.4f} std {train['pixel_std']:.4f}" if "pixel_mean" in train
                 else f"{len(meta.get('schema', {}).get('features', {}).get('label', {}).get('classes', []))} classes")
        table.add_row(dataset, " ".join(v.semver for v in versions), samples, stats,
                      meta.get("lineage", {}).get("source", {}).get("kind", "-"))
    console.print(table)


def main() -> None:
    if DEMO.exists():
        shutil.rmtree(DEMO)
    DEMO.mkdir()
    reg = create_registry(DEMO, allow_sample_data=True)
    console.rule(f"demo registry {reg.root.relative_to(PROJECT_ROOT)} (origin {reg.origin.name}, "
                 f"DVC remote {reg.remote.name})")
    if not sources_reachable():
        console.print("[yellow]public dataset hosts are unreachable: using a generated sample mirror in the real "
                      "formats (lineage.source.kind = sample)[/yellow]")
        use_sample_mirror(reg)
    for dataset in CORE:
        dreg(reg, "run", dataset, "--push")
    console.rule("change a param → minor release")
    update_params(reg.root, "wine-quality", {"process": {"val_fraction": 0.25}})
    commit(reg, "wine-quality: hold out 25% for validation")
    dreg(reg, "run", "wine-quality", "--bump", "minor", "--push")
    dreg(reg, "run", "wine-quality")
    read_back(reg)
    console.rule("reproducibility")
    dreg(reg, "verify", "fashion-mnist-v1.0.0")
    dreg(reg, "show", "fashion-mnist")
    dreg(reg, "list")
    console.rule("summary")
    summary(reg)


if __name__ == "__main__":
    main()
