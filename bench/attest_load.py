"""`python bench/attest_load.py`: what verifying a signed release costs `load()` (goal: at most 1.1x).

A scratch registry on local sources releases fashion-mnist signed (a key made here); a mirror of its origin carries
the same release with the attestation stripped (same data objects, same DVC remote). Interleaved rounds, median
wall time of `load("fashion-mnist@1.0.0")` (every split) in this process, both through one warm client cache:

    A  signed release, pinned key, require_signed   (signature, subjects, DVC listing, sha256 of every byte read)
    B  the same release unsigned, no policy         (md5 checks only, as before attestations)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from dreg_client import load
from steps.release.attest import generate_key
from tests.support.registry import cli_env, git, local_registry, run_dreg
from tests.support.servers import serve_sources
from tests.support.sources import write_core_sources

REF, TAG = "fashion-mnist@1.0.0", "fashion-mnist-v1.0.0"


def signed_and_stripped(base: Path) -> tuple[Path, Path, Path]:
    """(signed origin, the same release unsigned in a mirror, the public key)."""
    with serve_sources(base / "sources", write_core_sources) as server:
        reg = local_registry(base / "reg", server)
        generate_key(base / "key/signing.key", base / "key/signing.pub.pem")
        env = cli_env(DREG_SIGNING_KEY=str(base / "key/signing.key"), DREG_CACHE_DIR=str(base / "cache"))
        proc = run_dreg(reg.root, "run", "fashion-mnist", "--push", env=env)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    stripped, work = base / "stripped.git", base / "work"
    subprocess.run(["git", "clone", "-q", "--mirror", str(reg.origin), str(stripped)], check=True)
    subprocess.run(["git", "clone", "-q", str(stripped), str(work)], check=True)
    git(work, "checkout", "-q", TAG)
    git(work, "rm", "-q", "data/fashion-mnist/attestation.dsse.json")
    git(work, "-c", "user.name=bench", "-c", "user.email=bench@example.org", "commit", "-q", "-m", "unsigned")
    git(work, "-c", "user.name=bench", "-c", "user.email=bench@example.org", "tag", "-f", "-a", TAG, "-m", "unsigned")
    git(work, "push", "-q", "-f", "origin", f"refs/tags/{TAG}")
    return reg.origin, stripped, base / "key/signing.pub.pem"


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dreg-bench-attest-") as tmp:
        base = Path(tmp)
        signed, stripped, public = signed_and_stripped(base)
        os.environ["DREG_CACHE_DIR"] = str(base / "cache")
        verified = lambda: load(REF, repo=signed, trusted_keys=str(public), require_signed=True)
        plain = lambda: load(REF, repo=stripped)
        rows = sum(len(frame) for frame in verified().values())
        assert rows == sum(len(frame) for frame in plain().values())
        a, b = [], []
        for _ in range(args.rounds):
            a.append(timed(verified))
            b.append(timed(plain))
        ratio = statistics.median(a) / statistics.median(b)
        print(json.dumps({"rows": rows, "rounds": args.rounds, "verified_median_s": round(statistics.median(a), 4),
                          "unverified_median_s": round(statistics.median(b), 4), "ratio": round(ratio, 3),
                          "goal": 1.1, "met": ratio <= 1.1}, indent=2))


if __name__ == "__main__":
    main()
