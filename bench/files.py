"""`make bench-files` (`FILES=10000,30000,100000`): a dataset of many small JPEGs (generated, ~10 KB each, roco-like)
released through the real `dreg` path, each step against bare DVC doing the same work, per size:

    dreg publish DATASET                     vs  dvc push (of the same outputs, to an empty remote)
    dreg get DATASET@1.0.0 --repo file://…   vs  git clone file://… + dvc pull (empty cache)
    client.download (in process)             vs  the same dvc pull
    dreg verify --remote-only TAG            vs  dvc status --cloud

then growth: time per file and peak RSS of `dreg publish` at the largest size against the smallest.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.core import goal, print_cpu
from steps.dev.scaffold import commit_all, create_registry
from steps.git import git

BIN = Path(sys.executable).parent
TIME = shutil.which("time") or "/usr/bin/time"  # GNU time, for peak RSS
DATASET = "jpegs"
MAKE = '''import random, sys
from pathlib import Path
from PIL import Image
out, n = Path(sys.argv[1]), int(sys.argv[2])
out.mkdir(parents=True, exist_ok=True)
for i in range(n):  # seeded noise, upscaled: ~9.4 KB a JPEG, every file different
    noise = random.Random(i).randbytes(40 * 40 * 3)
    Image.frombytes("RGB", (40, 40), noise).resize((120, 120)).save(out / f"img-{i:06d}.jpg", quality=90)
'''
META = '''import json, sys
from pathlib import Path
files = sorted(Path(sys.argv[1]).iterdir())
Path(sys.argv[2]).write_text(json.dumps({"dataset": {"name": "jpegs"}, "splits": {"train": {"num_samples": len(files)}},
    "lineage": {"source": {"kind": "generated-bench"}}}))
'''


def pipeline(root: Path, files: int) -> None:
    """A two-stage pipeline: write `files` JPEGs, then metadata.json."""
    folder = root / "pipelines" / DATASET
    folder.mkdir(parents=True)
    (folder / "make.py").write_text(MAKE)
    (folder / "meta.py").write_text(META)
    (folder / "params.yaml").write_text(f"files: {files}\n")
    (folder / "dvc.yaml").write_text(f"""artifacts:
  {DATASET}:
    path: ../../data/{DATASET}
    type: dataset
    desc: "Generated small JPEGs (a roco-like layout) for bench-files."
    meta: {{license: CC0-1.0, homepage: https://example.invalid/{DATASET}, schedule: manual, profile: cpu-small}}
stages:
  process:
    wdir: ../..
    cmd: python pipelines/{DATASET}/make.py data/{DATASET}/processed {files}
    deps: [pipelines/{DATASET}/make.py]
    params: [{{pipelines/{DATASET}/params.yaml: [files]}}]
    outs: [data/{DATASET}/processed]
  analyze:
    wdir: ../..
    cmd: python pipelines/{DATASET}/meta.py data/{DATASET}/processed data/{DATASET}/metadata.json
    deps: [data/{DATASET}/processed, pipelines/{DATASET}/meta.py]
    outs: [{{data/{DATASET}/metadata.json: {{cache: false}}}}]
""")


def run(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, float]:
    """(wall s, CPU s, peak RSS MB) of one whole process and its children (it must succeed). The RSS comes from GNU
    time: a child forked from this process would report this process's high-water mark as its own."""
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        start = time.perf_counter()
        proc = subprocess.Popen([TIME, "-f", "%M", "-o", rss.name, *cmd], cwd=cwd, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        if proc.stderr:
            proc.stderr.close()
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"{' '.join(cmd)} failed: {err[-800:]}")
        peak_kb = int((rss.read().strip().splitlines() or ["0"])[-1])
    return wall, usage.ru_utime + usage.ru_stime, peak_kb / 1024


def one_size(base: Path, files: int) -> dict[str, tuple[float, float, float]]:
    """Every step and its baseline at `files` files."""
    reg = create_registry(base / "reg")
    root = reg.root
    pipeline(root, files)
    commit_all(root, f"{DATASET}: {files} files")
    env = {**os.environ, "DREG_CACHE_DIR": str(base / "dreg-cache"), "DVC_NO_ANALYTICS": "1"}
    dreg, dvc = str(BIN / "dreg"), str(BIN / "dvc")
    run([dreg, "run", DATASET, "--no-publish"], root, env)
    bare = base / "bare-remote"
    subprocess.run([dvc, "remote", "add", "--local", "bare", str(bare)], cwd=root, check=True, capture_output=True)
    got = {"dvc push": run([dvc, "push", "-q", "-r", "bare", f"pipelines/{DATASET}/dvc.yaml"], root, env),
           "publish": run([dreg, "publish", DATASET], root, env)}
    tag = git("describe", "--tags", "--abbrev=0", "--match", f"{DATASET}-v*", cwd=root).stdout.strip()
    git("push", "-q", "origin", "main", tag, cwd=root)
    got["dvc status --cloud"] = run([dvc, "status", "-q", "--cloud", "-r", "bare", f"pipelines/{DATASET}/dvc.yaml"],
                                    root, env)
    got["verify --remote-only"] = run([dreg, "verify", "--remote-only", tag], root, env)
    url = reg.origin.as_uri()
    pull = ("d=$(mktemp -d -p \"$0\") && git clone -q \"$1\" \"$d/r\" && cd \"$d/r\" && "
            f"\"{dvc}\" pull -q pipelines/{DATASET}/dvc.yaml; rc=$?; rm -rf \"$d\"; exit $rc")
    got["dvc pull"] = run(["sh", "-c", pull, str(base), url], base, env)
    got["get"] = run([dreg, "get", f"{DATASET}@latest", "-o", str(base / "got"), "--repo", url], base,
                     {**env, "DREG_CACHE_DIR": str(base / "dreg-cache-get")})
    download = (f"import dreg_client; dreg_client.download('{DATASET}@latest', '', '{base / 'dl'}', repo='{url}')")
    got["client.download"] = run([sys.executable, "-c", download], base,
                                 {**env, "DREG_CACHE_DIR": str(base / "dreg-cache-dl")})
    return got


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", default=os.environ.get("FILES", "10000,30000,100000"))
    args = parser.parse_args()
    print_cpu()
    sizes = [int(n) for n in args.files.split(",")]
    results: dict[int, dict[str, tuple[float, float, float]]] = {}
    for n in sizes:
        with tempfile.TemporaryDirectory(prefix="dreg-bench-files-") as tmp:
            results[n] = got = one_size(Path(tmp), n)
        for name, (wall, cpu, rss) in got.items():
            print(f"{n:>7} files  {name:>22}: {wall:8.2f}s wall {cpu:8.2f}s CPU  peak RSS {rss:7.0f} MB", flush=True)
    goals = []
    pairs = {"publish / dvc push": ("publish", "dvc push", 1.2), "dreg get / dvc pull": ("get", "dvc pull", 1.2),
             "client.download / dvc pull": ("client.download", "dvc pull", 1.2),
             "verify --remote-only / dvc status --cloud": ("verify --remote-only", "dvc status --cloud", 1.5)}
    for n, got in results.items():
        goals += [goal(f"{name} ({n} files)", got[a][0] / got[b][0], "≤", target, "x")
                  for name, (a, b, target) in pairs.items()]
    if len(sizes) > 1:
        small, large = results[sizes[0]]["publish"], results[sizes[-1]]["publish"]
        goals += [goal(f"publish time per file {sizes[-1]} / {sizes[0]}",
                       (large[0] / sizes[-1]) / (small[0] / sizes[0]), "≤", 1.3, "x"),
                  goal(f"publish peak RSS {sizes[-1]} / {sizes[0]}", large[2] / small[2], "≤", 1.5, "x")]
    print("\n".join(goals))


if __name__ == "__main__":
    main()
