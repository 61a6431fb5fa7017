"""`make bench-gpu`: the precision benchmark of `make bench-embeddings` on CUDA: fp32 and fp16, a batch sweep, one
embed actor per GPU; prints the same backend × batch table against bare fp32 `encode` on one GPU.

Needs a CUDA build of torch and at least one visible GPU; without one it says so and exits 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path


def gpu_names() -> list[str]:
    """The visible CUDA devices by name (empty without CUDA)."""
    import torch

    if not torch.cuda.is_available():
        return []
    return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sample", type=int, default=2048, help="chunks embedded per run")
    ap.add_argument("--batches", default="64,128,256,512", help="batch sizes; the first is the bare fp32 baseline's")
    ap.add_argument("--backends", default="fp32,fp16")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", type=Path, help="also write the figures to this file")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    gpus = gpu_names()
    if not gpus:
        print("no CUDA GPU visible (or a CPU-only torch build): nothing measured", file=sys.stderr)
        sys.exit(2)

    import ray

    from bench.embeddings import (
        bench_chunks,
        held_out_queries,
        precision_table,
        print_precision_table,
        start_ray,
    )
    from steps.embeddings.model import model_dimension, resolve_model
    from steps.embeddings.spec import DEFAULT_MODEL

    _, chunks = bench_chunks()
    model_path = resolve_model(DEFAULT_MODEL)
    print(f"GPUs: {', '.join(gpus)}; {min(args.sample, len(chunks))} chunks", flush=True)
    start_ray(num_gpus=len(gpus))
    try:
        figures = precision_table(chunks[: args.sample], held_out_queries(chunks, args.sample), model_path,
                                  model_dimension(model_path), args.backends.split(","),
                                  [int(b) for b in args.batches.split(",")], args.rounds, device="cuda",
                                  concurrency=len(gpus))
    finally:
        ray.shutdown()
    figures["gpus"] = gpus
    print_precision_table(figures)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
