"""`make bench-scale` (opt-in, heavy): HNSW on 200,000 real-derived 384-d vectors in the embedded PostgreSQL +
pgvector: load through the pipeline's full replace (binary COPY, index built after the load), build time, index
size, p50/p95 query latency and recall@10 against an exact scan at ef_search 40 (the default) and 100.

Goals: p95 < 5 ms and recall@10 ≥ 0.95 at the default ef_search; build inside 15 minutes. Real-derived: the
corpus chunks embedded by the model (bf16 where the CPU has it), each vector a real one plus noise.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

import numpy as np

GOAL_P95_MS, GOAL_RECALL, GOAL_BUILD_S = 5.0, 0.95, 15 * 60


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vectors", type=int, default=200_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--base-chunks", type=int, default=2000, help="real chunks the vectors are derived from")
    ap.add_argument("--build-memory-mb", type=int, default=1024, help="maintenance_work_mem of the index build")
    ap.add_argument("--json", type=Path, help="also write the figures to this file")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from bench.embeddings import bench_chunks, bench_server, derived, hnsw_latency, real_vectors, vector_table
    from steps.embeddings.db import connect, pg_target

    _, chunks = bench_chunks()
    real = real_vectors(chunks, args.base_chunks)
    rng = np.random.default_rng(7)
    vectors, queries = derived(real, args.vectors, rng), derived(real, args.queries, rng)
    print(f"{len(vectors)} vectors derived from {len(real)} real chunk vectors; loading and building ...", flush=True)
    with tempfile.TemporaryDirectory(prefix="dreg-scale-") as tmp, bench_server(Path(tmp)) as pgdata, \
            connect(pg_target(pgdata.parent, announce=False)) as conn:
        out = {"vectors": len(vectors), "build_memory_mb": args.build_memory_mb,
               **vector_table(conn, "bench_scale", vectors, args.build_memory_mb),
               **{f"ef{ef}": hnsw_latency(conn, "bench_scale", queries, 10, ef) for ef in (40, 100)}}
    print(f"HNSW {out['vectors']} x 384 (m=16, ef_construction=64, maintenance_work_mem {out['build_memory_mb']}MB): "
          f"load+build {out['load_and_build_s']:.0f}s, index build {out['index_build_s']:.0f}s (goal < "
          f"{GOAL_BUILD_S}s), index {out['index_mb']:.0f} MB")
    for ef in (40, 100):
        h = out[f"ef{ef}"]
        print(f"  ef_search={ef}: p50 {h['p50_ms']:.2f} ms, p95 {h['p95_ms']:.2f} ms (goal < {GOAL_P95_MS} ms at 40), "
              f"recall@10 {h['recall_at_k']:.3f} (goal >= {GOAL_RECALL} at 40)")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
