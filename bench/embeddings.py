"""`make bench-embeddings`: the embeddings pipeline on real offline markdown, as ratios against baselines.

Corpus: the long descriptions in this environment's installed packages (`*.dist-info/METADATA`), chunked by the
pipeline's own chunker and released as a readmes dataset in a scratch registry; embedded PostgreSQL + pgvector.

1. Ray pipeline embedding throughput vs bare `SentenceTransformer.encode` on the same chunks and batch size
   (goal ≥ 0.85; Ray start-up and actor warm-up reported separately);
2. incremental rerun after changing 5% of the documents vs the full run (goal ≥ 10x faster);
3. write rate to pgvector of our writer (binary COPY + one-transaction replace) vs `executemany` INSERT;
4. HNSW query latency p50/p95 and recall@10 against an exact scan on ≥ 20,000 vectors;
5. peak RSS of the run, on a quarter of the documents vs all of them (bounded: ratio ≈ 1, not ≈ 4).
"""

from __future__ import annotations

import argparse
import email
import json
import logging
import math
import os
import tempfile
import threading
import time
import uuid
from email import policy
from pathlib import Path
from typing import Any, Self

import numpy as np

from steps.dev.readmes import SOURCE, readmes_registry, release_readmes

PYPI_URL = "https://pypi.org/project/{repo}/"
DATASET = "opencloudhub-readmes-embeddings"


def corpus(min_chars: int = 500) -> dict[str, str]:
    """{package: long description} of every installed distribution with a real one, sorted by name."""
    import sysconfig

    docs = {}
    for meta in Path(sysconfig.get_paths()["purelib"]).glob("*.dist-info/METADATA"):
        msg = email.message_from_bytes(meta.read_bytes(), policy=policy.compat32)
        body = msg.get_payload()
        name = str(msg["Name"] or meta.parent.name).lower().replace("_", "-")
        if isinstance(body, str) and len(body.strip()) >= min_chars:
            docs[name] = body
    return dict(sorted(docs.items()))


class PeakRss(threading.Thread):
    """Samples the RSS of this process and of its Ray worker processes (`ray::*`) every 100 ms."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        import psutil

        self.me, self.stop, self.driver, self.workers = psutil.Process(), threading.Event(), 0, 0

    def run(self) -> None:
        import psutil

        while not self.stop.is_set():
            workers = 0
            for child in self.me.children(recursive=True):
                try:
                    if child.name().startswith("ray::") or "ray::" in " ".join(child.cmdline()[:1]):
                        workers += child.memory_info().rss
                except psutil.Error:
                    pass
            self.driver, self.workers = max(self.driver, self.me.memory_info().rss), max(self.workers, workers)
            time.sleep(0.1)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.join()


def embed_run(root: Path, tag: str, table: str, batch_size: int) -> tuple[float, dict[str, Any], PeakRss]:
    """One in-process embed stage run (Ray already up): wall time, table state, peak RSS."""
    from steps.embeddings.db import connect, pg_target
    from steps.embeddings.job import run_embed
    from steps.embeddings.spec import EmbedParams
    from steps.embeddings.store import describe

    params = EmbedParams(source_version=tag, table=table, batch_size=batch_size)
    with PeakRss() as rss:
        start = time.perf_counter()
        run_embed(DATASET, params, root / "work", source_repo=str(root))
        seconds = time.perf_counter() - start
    with connect(pg_target(root, announce=False)) as conn:
        state = describe(conn, table).state
    return seconds, state, rss


def ray_embed(rows: list[dict[str, str]], model_path: str, batch_size: int, dim: int) -> float:
    """Seconds for the pipeline's embed stage (fresh one-actor pool: spawn and model load included) on `rows`."""
    import ray.data

    from steps.embeddings.pipeline import embed_stage

    start = time.perf_counter()
    ds = embed_stage(ray.data.from_items(rows), model_path, dim, frozenset(), batch_size, 1)
    done = sum(len(b["id"]) for b in ds.iter_batches(batch_size=batch_size, batch_format="numpy"))
    assert done == len(rows)
    return time.perf_counter() - start


def throughput(chunks: list[str], model_path: str, batch_size: int, dim: int, rounds: int) -> dict[str, float]:
    """Chunks/s of bare encode and of the Ray embed stage on the same chunks, best of interleaved rounds; the
    actor's start-up is measured by a one-row run in the same round and subtracted."""
    from steps.embeddings.model import load_model

    model = load_model(model_path)
    model.encode(chunks[:batch_size], batch_size=batch_size)  # warm-up: the actor's model is warm after its load
    rows = [{"id": str(i), "drop_reason": "", "content_sha256": str(i), "content": c} for i, c in enumerate(chunks)]
    bare, ray_s, end_to_end, warmups = [], [], [], []
    for _ in range(rounds):
        start = time.perf_counter()
        model.encode(chunks, batch_size=batch_size, show_progress_bar=False)
        bare.append(time.perf_counter() - start)
        warmups.append(ray_embed(rows[:1], model_path, batch_size, dim))
        end_to_end.append(ray_embed(rows, model_path, batch_size, dim))
        ray_s.append(end_to_end[-1] - warmups[-1])
    return {"bare_chunks_per_s": len(rows) / min(bare), "ray_chunks_per_s": len(rows) / min(ray_s),
            "ray_end_to_end_chunks_per_s": len(rows) / min(end_to_end), "ray_actor_warmup_s": min(warmups),
            "rounds": rounds}


def writer_rate(conn, vectors: np.ndarray) -> dict[str, float]:
    """Rows/s into a fresh HNSW-indexed table: our staged COPY + replace vs executemany INSERT; also without index."""
    from psycopg.types.json import Jsonb

    from steps.embeddings.store import StagingWriter, merge

    dim = vectors.shape[1]
    rows = [(uuid.uuid4(), f"chunk {i} " + "lorem ipsum " * 40, v, {"content_sha256": f"{i:064x}", "i": i})
            for i, v in enumerate(vectors)]
    start = time.perf_counter()
    writer = StagingWriter(conn, dim)
    writer.write((r[0], r[1], r[2], json.dumps(r[3]), r[3]["content_sha256"]) for r in rows)
    staged = time.perf_counter()
    merge(conn, "bench_writer_ours", dim, "bench", 16, 64, {})
    ours = len(rows) / (time.perf_counter() - start)
    ours_no_index = len(rows) / (staged - start)
    ddl = ("CREATE TABLE {t} (id uuid PRIMARY KEY, content text NOT NULL, embedding vector(" + str(dim) + ") NOT NULL,"
           " metadata jsonb NOT NULL)")
    insert = "INSERT INTO {t} (id, content, embedding, metadata) VALUES (%s, %s, %s, %s)"
    rates = {}
    for table, indexed in (("bench_writer_naive", True), ("bench_writer_naive_plain", False)):
        conn.execute(ddl.format(t=table))
        if indexed:
            conn.execute(f"CREATE INDEX ON {table} USING hnsw (embedding vector_cosine_ops)"
                         " WITH (m = 16, ef_construction = 64)")
        start = time.perf_counter()
        with conn.transaction(), conn.cursor() as cur:
            cur.executemany(insert.format(t=table), [(r[0], r[1], r[2], Jsonb(r[3])) for r in rows])
        rates[indexed] = len(rows) / (time.perf_counter() - start)
    return {"ours_rows_per_s": ours, "executemany_rows_per_s": rates[True],
            "ours_no_index_rows_per_s": ours_no_index, "executemany_no_index_rows_per_s": rates[False]}


def hnsw_latency(conn, table: str, queries: np.ndarray, k: int, ef_search: int) -> dict[str, float]:
    """p50/p95 ms of an index kNN query and mean recall@k against an exact scan."""
    knn = f"SELECT embedding <=> %(q)s FROM {table} ORDER BY embedding <=> %(q)s LIMIT %(k)s"
    times, recall = [], []
    for q in queries:
        with conn.transaction():
            conn.execute(f"SET LOCAL hnsw.ef_search = {ef_search}")
            start = time.perf_counter()
            approx = [r[0] for r in conn.execute(knn, {"q": q, "k": k}).fetchall()]
            times.append((time.perf_counter() - start) * 1000)
        with conn.transaction():
            conn.execute("SET LOCAL enable_indexscan = off")
            exact = [r[0] for r in conn.execute(knn, {"q": q, "k": k}).fetchall()]
        recall.append(sum(1 for d in approx if d <= exact[-1] + 1e-6) / k)
    return {"p50_ms": float(np.percentile(times, 50)), "p95_ms": float(np.percentile(times, 95)),
            "recall_at_k": float(np.mean(recall))}


def vector_table(conn, table: str, vectors: np.ndarray) -> float:
    """Load vectors through our writer (index built in the same transaction); return seconds."""
    from steps.embeddings.store import StagingWriter, merge

    start = time.perf_counter()
    writer = StagingWriter(conn, vectors.shape[1])
    writer.write((uuid.uuid4(), "", v, "{}", f"{i:064x}") for i, v in enumerate(vectors))
    merge(conn, table, vectors.shape[1], "bench", 16, 64, {})
    return time.perf_counter() - start


def unit(a: np.ndarray) -> np.ndarray:
    return (a / np.linalg.norm(a, axis=1, keepdims=True)).astype(np.float32)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=0, help="documents in the pipeline runs (2, 5); 0 = all")
    ap.add_argument("--sample", type=int, default=512, help="chunks in the throughput comparison (1)")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=2, help="interleaved rounds of (1); the best of each side counts")
    ap.add_argument("--write-rows", type=int, default=5000, help="rows in the write-rate comparison (3)")
    ap.add_argument("--vectors", type=int, default=20000, help="vectors in the HNSW table (4)")
    ap.add_argument("--queries", type=int, default=200, help="queries for latency and recall (4)")
    ap.add_argument("--json", type=Path, help="also write the figures to this file")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    logging.getLogger("dvc").setLevel(logging.WARNING)

    import ray
    from psycopg.conninfo import conninfo_to_dict
    from ray.data import DataContext

    from steps.config import get_settings
    from steps.embeddings.chunking import ChunkConfig, chunk_markdown
    from steps.embeddings.db import connect, pg_target
    from steps.embeddings.model import model_dimension, resolve_model
    from steps.embeddings.pgserver import start_embedded, stop_embedded
    from steps.embeddings.spec import EmbedParams
    from steps.embeddings.store import ident

    docs = corpus()
    p = EmbedParams(source_version=f"{SOURCE}-v1.0.0")
    cfg = ChunkConfig(p.chunk_size, p.chunk_overlap, p.min_chunk_chars, p.max_noise_ratio)
    chunks = [c.content for text in docs.values() for c in chunk_markdown(text, cfg) if not c.drop_reason]
    chosen = dict(list(docs.items())[: args.docs or None])
    model_path = resolve_model(p.model)
    dim = model_dimension(model_path)
    out: dict[str, Any] = {"corpus": {"documents": len(docs), "chunks": len(chunks),
                                      "mb": round(sum(map(len, docs.values())) / 1e6, 2),
                                      "run_documents": len(chosen)}}
    print(f"corpus: {len(docs)} package descriptions, {out['corpus']['mb']} MB, {len(chunks)} chunks "
          f"(chunk_size {p.chunk_size}); pipeline runs use {len(chosen)} documents", flush=True)

    with tempfile.TemporaryDirectory(prefix="dreg-bench-") as tmp:
        root = readmes_registry(Path(tmp)).root
        pgdata = Path(tmp) / "pgdata"
        uri = start_embedded(pgdata, announce=False)
        os.environ.update(PGVECTOR_HOST=str(conninfo_to_dict(uri)["host"]), PGVECTOR_USER="postgres",
                          PGVECTOR_DATABASE="postgres")
        get_settings.cache_clear()
        try:
            quarter = dict(list(chosen.items())[: max(1, len(chosen) // 4)])
            changed = dict(chosen)
            for name in list(chosen)[:: max(1, round(1 / 0.05))][: math.ceil(0.05 * len(chosen))]:
                changed[name] = chosen[name] + "\n\n## Release notes\n\nThis release adds a benchmark section that " \
                                               f"changes the {name} document for the incremental rerun.\n"
            for tag, version in ((f"{SOURCE}-v1.0.0", quarter), (f"{SOURCE}-v1.1.0", chosen),
                                 (f"{SOURCE}-v1.2.0", changed)):
                release_readmes(root, {repo: text.encode() for repo, text in version.items()}, tag, url=PYPI_URL,
                                push=False)

            start = time.perf_counter()
            ray.init(num_cpus=os.cpu_count(), object_store_memory=256 * 2**20, include_dashboard=False,
                     logging_level=logging.WARNING)
            out["ray_init_s"] = time.perf_counter() - start
            DataContext.get_current().enable_progress_bars = False
            logging.getLogger("ray.data").setLevel(logging.WARNING)

            print("1. throughput ...", flush=True)
            out["throughput"] = throughput(chunks[: args.sample], model_path, args.batch_size, dim, args.rounds)

            print("5./2. pipeline runs: quarter, full, incremental ...", flush=True)
            _, q_state, q_rss = embed_run(root, f"{SOURCE}-v1.0.0", "bench_quarter", args.batch_size)
            f_s, f_state, f_rss = embed_run(root, f"{SOURCE}-v1.1.0", "bench_pipeline", args.batch_size)
            i_s, i_state, _ = embed_run(root, f"{SOURCE}-v1.2.0", "bench_pipeline", args.batch_size)
            out["incremental"] = {"full_s": f_s, "full_rows": f_state["rows"], "full_embedded": f_state["run"]["embedded"],
                                  "changed_documents": sum(1 for k in chosen if changed[k] != chosen[k]),
                                  "incremental_s": i_s, "incremental_embedded": i_state["run"]["embedded"],
                                  "incremental_reused": i_state["run"]["reused"]}
            out["rss"] = {"quarter_rows": q_state["rows"], "full_rows": f_state["rows"],
                          "quarter_driver_mb": q_rss.driver / 2**20, "full_driver_mb": f_rss.driver / 2**20,
                          "quarter_workers_mb": q_rss.workers / 2**20, "full_workers_mb": f_rss.workers / 2**20}

            with connect(pg_target(root, announce=False)) as conn:
                real = np.array([r[0].to_numpy() for r in conn.execute(
                    f"SELECT embedding FROM {ident('bench_pipeline').as_string(conn)}").fetchall()], dtype=np.float32)
                rng = np.random.default_rng(7)

                def around(n: int) -> np.ndarray:
                    noise = unit(rng.normal(size=(n, dim)))
                    return unit(real[rng.integers(0, len(real), n)] + 0.5 * noise)

                print("3. write rate ...", flush=True)
                out["writer"] = writer_rate(conn, around(args.write_rows))
                print("4. HNSW ...", flush=True)
                out["hnsw"] = {}
                for kind, vectors, queries in (
                        ("real_derived", around(args.vectors), around(args.queries)),
                        ("uniform_random", unit(rng.normal(size=(args.vectors, dim))),
                         unit(rng.normal(size=(args.queries, dim))))):
                    table = f"bench_hnsw_{kind}"
                    build = vector_table(conn, table, vectors)
                    out["hnsw"][kind] = {"vectors": len(vectors), "load_and_build_s": build,
                                         **{f"ef{ef}": hnsw_latency(conn, table, queries, 10, ef) for ef in (40, 100)}}
        finally:
            ray.shutdown()
            stop_embedded(pgdata)

    report(out)
    if args.json:
        args.json.write_text(json.dumps(out, indent=2, sort_keys=True))


def report(o: dict[str, Any]) -> None:
    """Print the five measurements as ratios with their raw figures."""
    t, inc, w, rss = o["throughput"], o["incremental"], o["writer"], o["rss"]
    print(f"\nRay start-up (ray.init): {o['ray_init_s']:.1f}s; embed actor start-up (spawn + model load + one row): "
          f"{t['ray_actor_warmup_s']:.1f}s")
    print(f"1. throughput Ray / bare encode: {t['ray_chunks_per_s'] / t['bare_chunks_per_s']:.2f}  (goal >= 0.85; best of "
          f"{t['rounds']} interleaved rounds; "
          f"{t['ray_chunks_per_s']:.1f} vs {t['bare_chunks_per_s']:.1f} chunks/s; end to end incl. warm-up "
          f"{t['ray_end_to_end_chunks_per_s'] / t['bare_chunks_per_s']:.2f})")
    print(f"2. full run / incremental rerun: {inc['full_s'] / inc['incremental_s']:.1f}x  (goal >= 10x; "
          f"{inc['full_s']:.1f}s embedding {inc['full_embedded']} chunks vs {inc['incremental_s']:.1f}s after "
          f"changing {inc['changed_documents']} of {o['corpus']['run_documents']} documents: embedded "
          f"{inc['incremental_embedded']}, reused {inc['incremental_reused']})")
    print(f"3. write rate ours / executemany: {w['ours_rows_per_s'] / w['executemany_rows_per_s']:.1f}x  "
          f"({w['ours_rows_per_s']:.0f} vs {w['executemany_rows_per_s']:.0f} rows/s into an HNSW table; "
          f"without index {w['ours_no_index_rows_per_s'] / w['executemany_no_index_rows_per_s']:.1f}x: "
          f"{w['ours_no_index_rows_per_s']:.0f} vs {w['executemany_no_index_rows_per_s']:.0f} rows/s)")
    for kind, h in o["hnsw"].items():
        print(f"4. HNSW {kind} ({h['vectors']} vectors, m=16, ef_construction=64, load+build "
              f"{h['load_and_build_s']:.1f}s): ef_search=40 p50 {h['ef40']['p50_ms']:.2f} ms, p95 "
              f"{h['ef40']['p95_ms']:.2f} ms, recall@10 {h['ef40']['recall_at_k']:.3f}; ef_search=100 p50 "
              f"{h['ef100']['p50_ms']:.2f} ms, p95 {h['ef100']['p95_ms']:.2f} ms, recall@10 "
              f"{h['ef100']['recall_at_k']:.3f}")
    rows = rss["full_rows"] / rss["quarter_rows"]
    print(f"5. peak RSS full / quarter corpus ({rows:.1f}x the rows): driver "
          f"{rss['full_driver_mb'] / rss['quarter_driver_mb']:.2f} ({rss['full_driver_mb']:.0f} vs "
          f"{rss['quarter_driver_mb']:.0f} MB), Ray workers {rss['full_workers_mb'] / rss['quarter_workers_mb']:.2f} "
          f"({rss['full_workers_mb']:.0f} vs {rss['quarter_workers_mb']:.0f} MB)")


if __name__ == "__main__":
    main()
