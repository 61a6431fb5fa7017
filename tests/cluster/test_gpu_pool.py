"""The embedding actor pool on a Ray cluster with GPUs: one actor per GPU the cluster has, at most
`concurrency` (a larger pool waits for GPUs for ever, a smaller one leaves GPUs idle)."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.cluster.support import ROOT

PROBE = """
import json, logging, sys
import ray
from steps.embeddings.pipeline import embed_placement
ray.init(num_cpus=1, num_gpus=int(sys.argv[1]), include_dashboard=False, logging_level=logging.WARNING)
print(json.dumps({c: embed_placement(c) for c in (1, 2, 4)}))
ray.shutdown()
"""


def placements(gpus: int) -> dict[str, dict[str, object]]:
    """embed_placement for concurrency 1, 2 and 4 on a real local Ray whose node offers `gpus` GPUs."""
    run = subprocess.run([sys.executable, "-c", PROBE, str(gpus)], cwd=ROOT, capture_output=True, text=True,
                         check=False, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_the_actor_pool_matches_the_gpus_the_cluster_has() -> None:
    got = placements(2)
    assert {c: p["actors"] for c, p in got.items()} == {"1": 1, "2": 2, "4": 2}
    assert {p["num_gpus"] for p in got.values()} == {1}
