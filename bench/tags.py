"""`make bench-tags`: reading a registry with many tags (default 5,000 release tags and 200 promotion tags across
10 datasets), each read against git reading the same refs.

The registry is built with git plumbing (`git fast-import`: one commit and one annotated tag per release, each
commit changing the dataset's metadata.json, card and dvc.lock), not with pipeline runs, then pushed to a bare
origin addressed by `file://`. Interleaved rounds, medians of whole processes:

    dreg list                       vs  git for-each-ref refs/tags
    dreg show DATASET@latest        vs  git for-each-ref refs/tags
    dreg list --repo file://…       vs  git ls-remote --tags file://…
    dreg_client.resolve(DATASET@prod)  (in process, a fresh handle each time)  vs  git for-each-ref refs/tags

then `dreg catalog build` once in full and, after one more release, once more into the same folder.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import dreg_client
from bench.core import child_cpu, goal, interleaved, print_cpu, timed
from steps import layout
from steps.dev.scaffold import create_registry
from steps.git import git

BIN = Path(sys.executable).parent
STAGES = ("prod", "staging")
T0 = 1_700_000_000


def version(i: int) -> str:
    """The i-th version of a dataset (1.0.0, 1.0.1, … 1.0.9, 1.1.0, …): patches, minors and majors all occur."""
    return f"{1 + i // 100}.{i // 10 % 10}.{i % 10}"


def data(text: str) -> str:
    """A fast-import `data` block."""
    return f"data {len(text.encode())}\n{text}\n"


def release_files(dataset: str, i: int) -> dict[str, str]:
    """The git-tracked files one release changes (metadata, card, dvc.lock; dvc.yaml stays the same)."""
    meta = {"dataset": {"name": dataset, "version": version(i)},
            "splits": {"train": {"num_samples": 1000 + i, "class_distribution": {"a": 500 + i, "b": 500}},
                       "test": {"num_samples": 200, "class_distribution": {"a": 100, "b": 100}}},
            "lineage": {"created_at": f"2026-01-01T00:00:{i % 60:02d}Z"}}
    lock = (f"schema: '2.0'\nstages:\n  process:\n    cmd: python -m steps.datasets.{dataset} process\n"
            f"    outs:\n    - path: ../../data/{dataset}/processed\n      md5: {i:032x}.dir\n      size: {4096 + i}\n"
            f"      nfiles: 2\n")
    return {layout.metadata_json(dataset): json.dumps(meta, indent=2) + "\n",
            layout.card_md(dataset): f"# {dataset}\n\nRelease {version(i)}: {1000 + i} training rows.\n",
            layout.dvc_lock(dataset): lock}


def stream(datasets: list[str], first: int, count: int, promotions: int) -> Iterator[str]:
    """fast-import commands: releases `first`…`first+count-1` of every dataset on `main` (one commit and one
    annotated release tag each), then `promotions` stage tags per dataset over the new releases."""
    mark, marks = 0, {}
    for i in range(first, first + count):
        for dataset in datasets:
            mark += 1
            stamp = T0 + mark + first * len(datasets)
            files = release_files(dataset, i)
            if i == 0:
                files[layout.dvc_yaml(dataset)] = "stages:\n  download: {cmd: 'true'}\n  process: {cmd: 'true'}\n"
            yield (f"commit refs/heads/main\nmark :{mark}\ncommitter bench <bench@localhost> {stamp} +0000\n"
                   + data(f"Release {dataset} v{version(i)}")
                   + ("from refs/heads/main^0\n" if mark == 1 else "")
                   + "".join(f"M 100644 inline {path}\n" + data(text) for path, text in files.items()))
            marks[dataset, i] = mark
            yield (f"tag {dataset}-v{version(i)}\nfrom :{mark}\ntagger bench <bench@localhost> {stamp} +0000\n"
                   + data(f"{dataset} v{version(i)}"))
    for n in range(promotions):
        for dataset in datasets:
            stage, number = STAGES[n % len(STAGES)], n // len(STAGES) + 1
            i = first + min(count - 1, n * count // max(1, promotions))
            yield (f"tag {dataset}#{stage}#{number}\nfrom :{marks[dataset, i]}\n"
                   f"tagger bench <bench@localhost> {T0 + mark + n} +0000\n" + data(f"promote to {stage}"))


def add_releases(root: Path, datasets: list[str], first: int, count: int, promotions: int = 0) -> None:
    """Commit and tag releases with one `git fast-import`, then bring the work tree to the new `main`."""
    text = "".join(stream(datasets, first, count, promotions))
    subprocess.run(["git", "fast-import", "--quiet"], cwd=root, input=text.encode(), check=True, capture_output=True)
    git("reset", "-q", "--hard", "main", cwd=root)


def build(base: Path, releases: int, promotions: int, n_datasets: int) -> tuple[Path, Path, list[str]]:
    """A registry with `releases` release tags and `promotions` promotion tags over `n_datasets` datasets, pushed
    to its bare origin; (work tree, origin, dataset names)."""
    reg = create_registry(base)
    datasets = [f"set{d:02d}" for d in range(n_datasets)]
    add_releases(reg.root, datasets, 0, releases // n_datasets, promotions // n_datasets)
    git("push", "-q", "origin", "main", "refs/tags/*:refs/tags/*", cwd=reg.root)
    return reg.root, reg.origin, datasets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--releases", type=int, default=int(os.environ.get("TAGS", "5000")))
    parser.add_argument("--promotions", type=int, default=200)
    parser.add_argument("--datasets", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print_cpu()
    with tempfile.TemporaryDirectory(prefix="dreg-bench-tags-") as tmp:
        base = Path(tmp)
        start = time.perf_counter()
        root, origin, datasets = build(base / "reg", args.releases, args.promotions, args.datasets)
        url = origin.as_uri()
        tags = git("for-each-ref", "--format=%(refname)", "refs/tags", cwd=root).stdout.split()
        print(f"registry: {len(tags)} tags ({sum('#' not in t for t in tags)} releases) over {len(datasets)} "
              f"datasets, built in {time.perf_counter() - start:.1f}s")
        env = {**os.environ, "DREG_CACHE_DIR": str(base / "cache")}
        dreg, ds = str(BIN / "dreg"), datasets[len(datasets) // 2]
        listed = subprocess.run([dreg, "list", "--json"], cwd=root, check=True, capture_output=True, text=True)
        rows = {r["dataset"]: r for r in json.loads(listed.stdout)["datasets"]}
        assert len(rows[ds]["versions"]) == args.releases // args.datasets, rows[ds]
        resolved = dreg_client.resolve(f"{ds}@prod", repo=str(root))
        print(f"{ds}: latest {rows[ds]['latest']}, stages {rows[ds]['stages']}, @prod → {resolved.tag}")

        cpu: dict[str, list[float]] = {}

        def run(name: str, cmd: list[str], cwd: Path = root) -> tuple[str, Callable[[], float]]:
            def once() -> float:
                before = child_cpu()
                wall = timed(cmd, cwd, env)
                cpu.setdefault(name, []).append(child_cpu() - before)
                return wall
            return name, once

        def resolve() -> float:
            start, before = time.perf_counter(), time.process_time() + child_cpu()
            dreg_client.resolve(f"{ds}@prod", repo=str(root))
            cpu.setdefault("resolve", []).append(time.process_time() + child_cpu() - before)
            return time.perf_counter() - start
        got = interleaved(dict([
            run("for-each-ref", ["git", "for-each-ref", "refs/tags"]),
            run("ls-remote", ["git", "ls-remote", "--tags", url], base),
            run("list", [dreg, "list"]),
            run("show", [dreg, "show", f"{ds}@latest"]),
            run("list --repo", [dreg, "list", "--repo", url], base),
            ("resolve", resolve),
        ]), args.rounds)
        for name, s in got.items():
            print(f"{name:>14}: median {s * 1000:8.1f} ms wall, {statistics.median(cpu[name]) * 1000:8.1f} ms CPU "
                  "(this process and its children)")
        goals = [goal("dreg list", got["list"], "≤", 1.0, "s"),
                 goal("dreg show DATASET@latest", got["show"], "≤", 1.0, "s"),
                 goal("dreg list --repo file://", got["list --repo"], "≤", 2.0, "s"),
                 goal("client resolve @prod", got["resolve"], "≤", 1.0, "s")]
        print(f"ratios to git: list {got['list'] / got['for-each-ref']:.1f}x, show "
              f"{got['show'] / got['for-each-ref']:.1f}x (for-each-ref); list --repo "
              f"{got['list --repo'] / got['ls-remote']:.1f}x (ls-remote); client resolve "
              f"{got['resolve'] / got['for-each-ref']:.1f}x (for-each-ref)")

        site = base / "site"
        before = child_cpu()
        full = timed([dreg, "catalog", "build", "-o", str(site)], root, env)
        full_cpu = child_cpu() - before
        add_releases(root, [ds], args.releases // args.datasets, 1)
        before = child_cpu()
        again = timed([dreg, "catalog", "build", "-o", str(site)], root, env)
        again_cpu = child_cpu() - before
        page = (site / "datasets" / f"{ds}.html")
        shown = page.read_text() if page.exists() else ""
        assert version(args.releases // args.datasets) in shown, f"the new release is not on {page}"
        print(f"catalog build: full {full:.2f}s wall ({full_cpu:.2f}s CPU), after one more release {again:.2f}s wall "
              f"({again_cpu:.2f}s CPU)")
        goals += [goal("dreg catalog build (full)", full, "≤", 60, "s"),
                  goal("dreg catalog build (one more release)", again, "≤", 10, "s")]
    print("\n".join(goals))


if __name__ == "__main__":
    main()
