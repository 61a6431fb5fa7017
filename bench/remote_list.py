"""`python -m bench.remote_list`: listing another registry's versions from its refs vs cloning it first.

A scratch registry gets 200 release tags (4 datasets x 50 versions, one release commit each, promotion tags on
some) on a bare origin addressed by `file://` (git's pack protocol, as over a network; a plain path would clone
with hard links). Interleaved rounds, median wall time of each whole process:

    A  dreg list --repo file://…/origin.git          (git ls-remote, no clone)
    B  git clone file://…/origin.git && dreg list    (what reading another registry took before)

and the git work alone, without dreg's start-up: `git ls-remote --tags` vs `git clone`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.core import print_cpu, timed
from steps import layout
from steps.dev.scaffold import create_registry
from steps.git import git

BIN = Path(sys.executable).parent
DATASETS = ("wine-quality", "fashion-mnist", "emotion", "roco-radiology")


def make_registry(base: Path, n_tags: int) -> Path:
    """A registry whose bare origin holds `n_tags` release tags (and a prod promotion per dataset); its origin."""
    reg = create_registry(base)
    per = max(1, n_tags // len(DATASETS))
    for i in range(per):
        for dataset in DATASETS:
            meta = reg.root / layout.metadata_json(dataset)
            meta.parent.mkdir(parents=True, exist_ok=True)
            meta.write_text(json.dumps({"dataset": {"name": dataset}, "splits": {"train": {"num_samples": i}}}))
            git("add", layout.metadata_json(dataset), cwd=reg.root)
            git("commit", "-q", "-m", f"Release {dataset} v1.{i}.0", cwd=reg.root)
            git("tag", "-a", f"{dataset}-v1.{i}.0", "-m", f"{dataset} v1.{i}.0", cwd=reg.root)
    for dataset in DATASETS:
        git("tag", "-a", f"{dataset}#prod#1", "-m", "promote", f"{dataset}-v1.0.0^{{commit}}", cwd=reg.root)
    git("push", "-q", "origin", "main", "--tags", cwd=reg.root)
    return reg.origin


def clone_then_list(url: str, scratch: Path) -> list[str]:
    """Baseline B as one shell process: clone into a fresh folder, list there, remove it."""
    script = f'd=$(mktemp -d -p "{scratch}") && git clone -q "$1" "$d/r" && cd "$d/r" && "{BIN}/dreg" list; ' \
             'rc=$?; rm -rf "$d"; exit $rc'
    return ["sh", "-c", script, "sh", url]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tags", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    print_cpu()
    with tempfile.TemporaryDirectory(prefix="dreg-bench-list-") as tmp:
        base = Path(tmp)
        url = make_registry(base / "reg", args.tags).as_uri()
        outside = base / "outside"
        outside.mkdir()
        env_note = {k: v for k, v in os.environ.items() if k.startswith("DREG_")}
        remote = [str(BIN / "dreg"), "list", "--repo", url]
        baseline = clone_then_list(url, outside)
        listed = subprocess.run(remote, cwd=outside, check=True, capture_output=True, text=True).stdout
        assert "wine-quality" in listed, listed
        timed(remote, outside), timed(baseline, outside)  # warm-up
        pairs = [(timed(remote, outside), timed(baseline, outside)) for _ in range(args.rounds)]
        a, b = statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs)
        ratios = sorted(x / y for x, y in pairs)
        git_a = ["git", "ls-remote", "--tags", url]
        git_b = ["sh", "-c", f'd=$(mktemp -d -p "{outside}") && git clone -q "$1" "$d/r"; rc=$?; rm -rf "$d"; exit $rc',
                 "sh", url]
        git_pairs = [(timed(git_a, outside), timed(git_b, outside)) for _ in range(args.rounds)]
        ga, gb = statistics.median(p[0] for p in git_pairs), statistics.median(p[1] for p in git_pairs)
        tags = len(git("ls-remote", "--tags", "--refs", url).stdout.splitlines())
        print(f"{tags} tags on {url}")
        print(f"A dreg list --repo:           median {a:.3f}s")
        print(f"B git clone + dreg list:      median {b:.3f}s")
        print(f"A/B ratio: median {statistics.median(ratios):.3f} (min {ratios[0]:.3f}, max {ratios[-1]:.3f}) "
              f"over {args.rounds} interleaved rounds; cores {os.cpu_count()}{' ' + str(env_note) if env_note else ''}")
        print(f"git alone: ls-remote {ga * 1000:.1f} ms vs clone {gb * 1000:.1f} ms (ratio {ga / gb:.3f})")
        shutil.rmtree(outside, ignore_errors=True)


if __name__ == "__main__":
    main()
