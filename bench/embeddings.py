"""`make bench-embeddings`: the embeddings pipeline on real offline markdown, as ratios against baselines.

Corpus: the long descriptions in this environment's installed packages (`*.dist-info/METADATA`), chunked by the
pipeline's own chunker and released as a readmes dataset in a scratch registry; embedded PostgreSQL + pgvector.

0. `precision: auto` on this CPU: the candidates its flags allow (fp32, int8 = dynamic quantisation of the Linear
   layers, bf16 only with avx512_bf16/amx_bf16), each timed on the fixed probe with its recall@10 against fp32, and
   the choice (the fastest with recall@10 >= 0.99, never slower than fp32);
1. Ray pipeline embedding throughput per precision (fp32, int8, bf16 where the CPU has it) × batch size vs bare fp32
   `SentenceTransformer.encode` on the same chunks (goal ≥ 2.5x), with cosine to the fp32 vectors and recall@10
   against an fp32 embedding of the same chunks (goal ≥ 0.99; queries: the rag-evaluation questions plus 100
   held-out chunks); Ray start-up and actor warm-up reported separately;
2. incremental rerun after changing 5% of the documents vs the full run (goal ≥ 10x faster);
3. writes into a table with its HNSW index on ≥ 20,000 vectors vs `executemany` INSERT (goal ≥ 5x): the full
   replace (binary COPY → fresh table → index built after the load → swap) and an incremental 5% change merged
   into the live table; index build time, maintenance_work_mem and the server's peak memory;
4. HNSW query latency p50/p95 and recall@10 against an exact scan on ≥ 20,000 vectors (`make bench-scale`: 200k);
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
from collections.abc import Iterator
from contextlib import contextmanager
from email import policy
from pathlib import Path
from typing import Any, Self

import numpy as np
from psycopg import sql

from bench.core import goal, print_cpu
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


class Sampler(threading.Thread):
    """A `with` block that calls `sample()` every `interval` seconds in a daemon thread until it ends."""

    interval = 0.1

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.stop = threading.Event()

    def sample(self) -> None:
        raise NotImplementedError

    def run(self) -> None:
        while not self.stop.is_set():
            self.sample()
            time.sleep(self.interval)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.join()


class PeakRss(Sampler):
    """Samples the RSS of this process and of its Ray worker processes (`ray::*`) every 100 ms."""

    def __init__(self) -> None:
        super().__init__()
        import psutil

        self.me, self.driver, self.workers = psutil.Process(), 0, 0

    def sample(self) -> None:
        import psutil

        workers = 0
        for child in self.me.children(recursive=True):
            try:
                if child.name().startswith("ray::") or "ray::" in " ".join(child.cmdline()[:1]):
                    workers += child.memory_info().rss
            except psutil.Error:
                pass
        self.driver, self.workers = max(self.driver, self.me.memory_info().rss), max(self.workers, workers)


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


def ray_vectors(rows: list[dict[str, str]], model_path: str, batch_size: int, dim: int, precision: str,
                concurrency: int = 1) -> tuple[float, np.ndarray]:
    """Seconds for the pipeline's embed stage (fresh actor pool: spawn and model load included) on `rows`, and the
    vectors in row order (row ids are their positions)."""
    import ray.data

    from steps.embeddings.pipeline import embed_stage

    start = time.perf_counter()
    ds = embed_stage(ray.data.from_items(rows), model_path, dim, frozenset(), batch_size, concurrency, precision)
    vectors = np.zeros((len(rows), dim), dtype=np.float32)
    for batch in ds.iter_batches(batch_size=batch_size, batch_format="numpy"):
        vectors[batch["id"].astype(int)] = batch["embedding"]
    return time.perf_counter() - start, vectors


def recall_at_k(ref_docs: np.ndarray, ref_queries: np.ndarray, docs: np.ndarray, queries: np.ndarray,
                k: int = 10) -> float:
    """Mean share of the exact top-k under the reference vectors that the exact top-k under the others finds."""
    ref = np.argsort(-(ref_queries @ ref_docs.T), axis=1)[:, :k]
    got = np.argsort(-(queries @ docs.T), axis=1)[:, :k]
    return float(np.mean([len(set(a) & set(b)) / k for a, b in zip(ref, got, strict=True)]))


def rag_questions() -> list[str]:
    """The questions of the rag-evaluation dataset the demo curates."""
    import csv
    import io

    from steps.dev.demo import QUESTIONS

    return [row["question"] for row in csv.DictReader(io.StringIO(QUESTIONS))]


def precision_table(docs: list[str], queries: list[str], model_path: str, dim: int, backends: list[str],
                    batches: list[int], rounds: int, device: str = "cpu", concurrency: int = 1) -> dict[str, Any]:
    """Chunks/s of the pipeline's embed stage per backend × batch size against bare fp32 `encode` (batch
    batches[0]) on the same chunks, interleaved over `rounds` (medians); cosine and recall@10 against fp32."""
    from steps.embeddings.model import load_model
    from steps.embeddings.pipeline import token_lengths

    bare = load_model(model_path, device)
    lengths = token_lengths(bare, docs)
    bare.encode(docs[: batches[0]], batch_size=batches[0])  # warm-up: the actor's model is warm after its load
    ref_docs = bare.encode(docs, batch_size=batches[0], show_progress_bar=False)
    ref_queries = bare.encode(queries, batch_size=batches[0], show_progress_bar=False)
    rows = [{"id": str(i), "drop_reason": "", "content_sha256": str(i), "content": c} for i, c in enumerate(docs)]
    bare_s: list[float] = []
    runs: dict[tuple[str, int], dict[str, list]] = {(b, n): {"end_to_end": [], "warmup": []}
                                                     for b in backends for n in batches}
    vectors: dict[tuple[str, int], np.ndarray] = {}
    for _ in range(rounds):
        start = time.perf_counter()
        bare.encode(docs, batch_size=batches[0], show_progress_bar=False)
        bare_s.append(time.perf_counter() - start)
        for (backend, batch), run in runs.items():
            warm, _ = ray_vectors(rows[:1], model_path, batch, dim, backend, concurrency)
            seconds, vectors[backend, batch] = ray_vectors(rows, model_path, batch, dim, backend, concurrency)
            run["warmup"].append(warm)
            run["end_to_end"].append(seconds)
    base = len(docs) / float(np.median(bare_s))
    table = []
    for (backend, batch), run in runs.items():
        got = vectors[backend, batch]
        cos = np.sum(got * ref_docs, axis=1) / np.linalg.norm(got, axis=1) / np.linalg.norm(ref_docs, axis=1)
        query_model = load_model(model_path, device, backend)
        got_queries = np.asarray(query_model.encode(queries, batch_size=batch, show_progress_bar=False), np.float32)
        steady = len(docs) / steady_seconds(run["end_to_end"], run["warmup"])
        table.append({"backend": backend, "batch": batch, "chunks_per_s": steady, "ratio": steady / base,
                      "end_to_end_ratio": len(docs) / float(np.median(run["end_to_end"])) / base,
                      "actor_warmup_s": float(np.median(run["warmup"])), "cos_mean": float(cos.mean()),
                      "cos_min": float(cos.min()),
                      "recall_at_10": recall_at_k(ref_docs, ref_queries, got, got_queries)})
    return {"bare_fp32_chunks_per_s": base, "bare_batch": batches[0], "docs": len(docs), "queries": len(queries),
            "rounds": rounds, "device": device, "concurrency": concurrency, "table": table,
            "padding": {n: padding(lengths, n) for n in batches}}


def steady_seconds(end_to_end: list[float], warmup: list[float]) -> float:
    """The embed work alone: median run minus median warm-up (a one-row run: spawn + model load); the whole run
    when the difference is under a quarter of it (noise would give an absurd throughput)."""
    whole, warm = float(np.median(end_to_end)), float(np.median(warmup))
    return whole - warm if whole - warm >= whole / 4 else whole


def padding(lengths: list[int], batch: int) -> dict[str, float]:
    """Padded tokens per real token at batch size `batch`: chunks in arrival order vs grouped by token length (what
    the embed stage does)."""
    from steps.embeddings.pipeline import length_batches

    def waste(groups: list[np.ndarray]) -> float:
        padded = sum(len(g) * max(lengths[i] for i in g) for g in groups)
        return padded / max(1, sum(lengths)) - 1

    arrival = [np.arange(i, min(i + batch, len(lengths))) for i in range(0, len(lengths), batch)]
    return {"arrival": waste(arrival), "by_length": waste(length_batches(lengths, batch))}


def print_precision_table(p: dict[str, Any]) -> None:
    """The backend × batch table: chunks/s, ratio to bare fp32 encode, cosine mean/min, recall@10."""
    print(f"1. embed throughput on {p['device']} ({p['docs']} chunks, {p['concurrency']} actor(s); bare fp32 encode "
          f"batch {p['bare_batch']}: {p['bare_fp32_chunks_per_s']:.1f} chunks/s; medians of {p['rounds']} interleaved "
          f"rounds; recall@10 vs fp32 over {p['queries']} queries; goal ratio >= 2.5, recall >= 0.99)")
    print(f"   {'backend':8} {'batch':>5} {'chunks/s':>9} {'ratio':>6} {'e2e':>6} {'warm s':>7} {'cos mean':>9} "
          f"{'cos min':>8} {'recall@10':>9}")
    for r in p["table"]:
        print(f"   {r['backend']:8} {r['batch']:>5} {r['chunks_per_s']:>9.1f} {r['ratio']:>6.2f} "
              f"{r['end_to_end_ratio']:>6.2f} {r['actor_warmup_s']:>7.1f} {r['cos_mean']:>9.5f} {r['cos_min']:>8.5f} "
              f"{r['recall_at_10']:>9.3f}")
    for batch, pad in p["padding"].items():
        print(f"   padding at batch {batch}: {pad['arrival']:.0%} extra tokens in arrival order, "
              f"{pad['by_length']:.0%} grouped by token length (the embed stage's order)")


class ServerPeakRss(Sampler):
    """Samples the embedded PostgreSQL's processes every 50 ms: peak of the largest backend and of their sum."""

    interval = 0.05

    def __init__(self, pgdata: Path) -> None:
        super().__init__()
        import psutil

        pid = int((pgdata / "postmaster.pid").read_text().split()[0])
        self.root, self.backend, self.total = psutil.Process(pid), 0, 0

    def sample(self) -> None:
        import psutil

        sizes = []
        for proc in [self.root, *self.root.children(recursive=True)]:
            try:
                sizes.append(proc.memory_info().rss)
            except psutil.Error:
                pass
        self.backend, self.total = max(self.backend, max(sizes, default=0)), max(self.total, sum(sizes))


def staged(conn, rows: list[tuple], dim: int) -> None:
    """COPY `rows` (id, content, vector, metadata dict) into the session's staging table."""
    from steps.embeddings.store import StagingWriter

    StagingWriter(conn, dim).write((r[0], r[1], r[2], json.dumps(r[3]), r[3]["content_sha256"]) for r in rows)


def executemany_seconds(conn, table: str, rows: list[tuple], delete: list[uuid.UUID] = ()) -> float:
    """Seconds to INSERT `rows` with executemany (and DELETE the ids `delete`) in one transaction."""
    from psycopg.types.json import Jsonb

    insert = sql.SQL("INSERT INTO {} (id, content, embedding, metadata) VALUES (%s, %s, %s, %s)").format(
        sql.Identifier(table))
    start = time.perf_counter()
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(insert, [(r[0], r[1], r[2], Jsonb(r[3])) for r in rows])
        if delete:
            cur.execute(sql.SQL("DELETE FROM {} WHERE id = ANY(%s)").format(sql.Identifier(table)), [list(delete)])
    return time.perf_counter() - start


def naive_table(conn, table: str, dim: int, indexed: bool) -> None:
    """The executemany baseline's table: the contract columns, with the pipeline's HNSW index when `indexed`."""
    conn.execute(sql.SQL("CREATE TABLE {} (id uuid PRIMARY KEY, content text NOT NULL, embedding vector({}) NOT NULL,"
                         " metadata jsonb NOT NULL)").format(sql.Identifier(table), sql.Literal(dim)))
    if indexed:
        conn.execute(sql.SQL("CREATE INDEX ON {} USING hnsw (embedding vector_cosine_ops)"
                             " WITH (m = 16, ef_construction = 64)").format(sql.Identifier(table)))


def writer_rate(conn, vectors: np.ndarray, pgdata: Path, change: float = 0.05) -> dict[str, Any]:
    """Our two write paths vs executemany into an HNSW-indexed table: the full replace of `vectors`, then an
    incremental change of `change` of the rows (new rows in, as many old ones out)."""
    from steps.embeddings.store import VectorTable, merge

    dim, n = vectors.shape[1], len(vectors)
    rows = [(uuid.uuid4(), f"chunk {i} " + "lorem ipsum " * 40, v, {"content_sha256": f"{i:064x}", "i": i})
            for i, v in enumerate(vectors)]
    spec = VectorTable("bench_writer_ours", dim, "bench")
    with ServerPeakRss(pgdata) as rss:
        start = time.perf_counter()
        staged(conn, rows, dim)
        full = merge(conn, spec, {}, full=True)
        full_s = time.perf_counter() - start
    naive_table(conn, "bench_writer_naive", dim, indexed=True)
    naive_s = executemany_seconds(conn, "bench_writer_naive", rows)
    k = max(1, int(change * n))
    fresh = [(uuid.uuid4(), f"changed {i} " + "lorem ipsum " * 40, unit(v[None] + 0.1)[0],
              {"content_sha256": f"c{i:063x}", "i": i}) for i, v in enumerate(vectors[:k])]
    start = time.perf_counter()
    staged(conn, rows[k:] + fresh, dim)
    inc = merge(conn, spec, {}, full=False)
    inc_s = time.perf_counter() - start
    naive_inc_s = executemany_seconds(conn, "bench_writer_naive", fresh, [r[0] for r in rows[:k]])
    memory = conn.execute("SHOW maintenance_work_mem").fetchone()[0]
    return {"rows": n, "full_s": full_s, "executemany_s": naive_s, "index_build_s": full.index_build_s,
            "build_memory_mb": spec.build_memory_mb, "server_default_maintenance_work_mem": memory,
            "peak_backend_mb": rss.backend / 2**20, "peak_server_mb": rss.total / 2**20,
            "changed_rows": k, "incremental_path": inc.path, "incremental_s": inc_s,
            "executemany_changed_s": naive_inc_s}


def hnsw_latency(conn, table: str, queries: np.ndarray, k: int, ef_search: int) -> dict[str, float]:
    """p50/p95 ms of an index kNN query and mean recall@k against an exact scan."""
    knn = sql.SQL("SELECT embedding <=> %(q)s FROM {} ORDER BY embedding <=> %(q)s LIMIT %(k)s").format(
        sql.Identifier(table))
    times, recall = [], []
    for q in queries:
        with conn.transaction():
            conn.execute(sql.SQL("SET LOCAL hnsw.ef_search = {}").format(sql.Literal(ef_search)))
            start = time.perf_counter()
            approx = [r[0] for r in conn.execute(knn, {"q": q, "k": k}).fetchall()]
            times.append((time.perf_counter() - start) * 1000)
        with conn.transaction():
            conn.execute("SET LOCAL enable_indexscan = off")
            exact = [r[0] for r in conn.execute(knn, {"q": q, "k": k}).fetchall()]
        recall.append(sum(1 for d in approx if d <= exact[-1] + 1e-6) / k)
    return {"p50_ms": float(np.percentile(times, 50)), "p95_ms": float(np.percentile(times, 95)),
            "recall_at_k": float(np.mean(recall))}


def vector_table(conn, table: str, vectors: np.ndarray, build_memory_mb: int = 512) -> dict[str, float]:
    """Load vectors through our full replace (index built after the load): seconds, build seconds, index MB."""
    from steps.embeddings.store import StagingWriter, VectorTable, index_name, merge

    start = time.perf_counter()
    writer = StagingWriter(conn, vectors.shape[1])
    writer.write((uuid.uuid4(), "", v, "{}", f"{i:064x}") for i, v in enumerate(vectors))
    result = merge(conn, VectorTable(table, vectors.shape[1], "bench", build_memory_mb=build_memory_mb), {}, full=True)
    size = conn.execute("SELECT pg_relation_size(to_regclass(%s))", [index_name(table)]).fetchone()[0]
    return {"load_and_build_s": time.perf_counter() - start, "index_build_s": result.index_build_s,
            "index_mb": size / 2**20}


def unit(a: np.ndarray) -> np.ndarray:
    return (a / np.linalg.norm(a, axis=1, keepdims=True)).astype(np.float32)


SECTIONS = ("precision", "pipeline", "writes", "hnsw")


@contextmanager
def bench_server(tmp: Path) -> Iterator[Path]:
    """An embedded PostgreSQL + pgvector in `tmp/pgdata` that in-process runs reach through PGVECTOR_HOST."""
    from psycopg.conninfo import conninfo_to_dict

    from steps.config import get_settings
    from steps.embeddings.pgserver import start_embedded, stop_embedded

    pgdata = tmp / "pgdata"
    uri = start_embedded(pgdata, announce=False)
    os.environ.update(PGVECTOR_HOST=str(conninfo_to_dict(uri)["host"]), PGVECTOR_USER="postgres",
                      PGVECTOR_DATABASE="postgres")
    get_settings.cache_clear()
    try:
        yield pgdata
    finally:
        stop_embedded(pgdata)


def start_ray(**resources: Any) -> float:
    """Start an in-process Ray quietly (progress bars off); return the seconds it took."""
    import ray
    from ray.data import DataContext

    start = time.perf_counter()
    ray.init(num_cpus=os.cpu_count(), object_store_memory=256 * 2**20, include_dashboard=False,
             logging_level=logging.WARNING, **resources)
    DataContext.get_current().enable_progress_bars = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    return time.perf_counter() - start


def bench_chunks() -> tuple[dict[str, str], list[str]]:
    """The corpus ({package: description}) and its chunks under the pipeline's default chunking."""
    from steps.embeddings.chunking import ChunkConfig, chunk_markdown
    from steps.embeddings.spec import EmbedParams

    docs = corpus()
    p = EmbedParams(source_version=f"{SOURCE}-v1.0.0")
    cfg = ChunkConfig(p.chunk_size, p.chunk_overlap, p.min_chunk_chars, p.max_noise_ratio)
    return docs, [c.content for text in docs.values() for c in chunk_markdown(text, cfg) if not c.drop_reason]


def held_out_queries(chunks: list[str], sample: int, n: int = 100) -> list[str]:
    """The rag-evaluation questions plus `n` chunks after the first `sample` (not in the embedded set)."""
    return rag_questions() + chunks[sample: sample + n]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=0, help="documents in the pipeline runs (2, 5); 0 = all")
    ap.add_argument("--sample", type=int, default=512, help="chunks in the throughput comparison (1)")
    ap.add_argument("--batch-size", type=int, default=64, help="batch size of the pipeline runs (2, 5)")
    ap.add_argument("--batches", default="64,32,128", help="batch sizes of (1); the first is the bare fp32 baseline's")
    ap.add_argument("--backends", default="",
                    help="precisions of (1), comma-separated; default fp32 + the automatic one")
    ap.add_argument("--rounds", type=int, default=2, help="interleaved rounds of (1); medians count")
    ap.add_argument("--write-rows", type=int, default=20000, help="rows in the write comparison (3)")
    ap.add_argument("--vectors", type=int, default=20000, help="vectors in the HNSW table (4)")
    ap.add_argument("--queries", type=int, default=200, help="queries for latency and recall (4)")
    ap.add_argument("--only", default=",".join(SECTIONS), help=f"sections to run, of {','.join(SECTIONS)}")
    ap.add_argument("--json", type=Path, help="also write the figures to this file")
    args = ap.parse_args()
    print_cpu()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    logging.getLogger("dvc").setLevel(logging.WARNING)
    only = set(args.only.split(","))

    import ray

    from steps.embeddings.model import model_dimension, precision_candidates, resolve_model
    from steps.embeddings.spec import EmbedParams

    docs, chunks = bench_chunks()
    chosen = dict(list(docs.items())[: args.docs or None])
    model_path = resolve_model(EmbedParams(source_version=f"{SOURCE}-v1.0.0").model)
    dim = model_dimension(model_path)
    print("0. precision auto: probing ...", flush=True)
    auto = auto_figures(model_path)
    backends = args.backends.split(",") if args.backends else precision_candidates(cpu_flags())
    out: dict[str, Any] = {"corpus": {"documents": len(docs), "chunks": len(chunks),
                                      "mb": round(sum(map(len, docs.values())) / 1e6, 2),
                                      "run_documents": len(chosen)}, "auto": auto}
    print(f"corpus: {len(docs)} package descriptions, {out['corpus']['mb']} MB, {len(chunks)} chunks; pipeline runs "
          f"use {len(chosen)} documents; backends {backends}", flush=True)

    with tempfile.TemporaryDirectory(prefix="dreg-bench-") as tmp, bench_server(Path(tmp)) as pgdata:
        root = readmes_registry(Path(tmp)).root
        try:
            out["ray_init_s"] = start_ray()
            if "precision" in only:
                print("1. throughput per precision ...", flush=True)
                out["precision"] = precision_table(chunks[: args.sample], held_out_queries(chunks, args.sample),
                                                   model_path, dim, backends,
                                                   [int(b) for b in args.batches.split(",")], args.rounds)
                print_precision_table(out["precision"])
            if "pipeline" in only:
                pipeline_runs(root, chosen, args.batch_size, out)
            if only & {"writes", "hnsw"}:
                vector_sections(root, pgdata, chunks, only, args, out)
        finally:
            ray.shutdown()

    report(out)
    if args.json:
        args.json.write_text(json.dumps(out, indent=2, sort_keys=True))


def cpu_flags() -> frozenset[str]:
    from steps.embeddings.model import cpu_flags

    return cpu_flags()


def auto_figures(model_path: str) -> dict[str, Any]:
    """`precision: auto` as the embed stage runs it, with the probe's figures: {candidates, figures, choice}."""
    from steps.embeddings.model import CPU_BF16_FLAGS, choose_precision, measure_precision
    from steps.embeddings.model import precision_candidates as pc

    flags = cpu_flags()
    candidates = pc(flags)
    probe = measure_precision(model_path)
    figures = {c: probe(c) for c in dict.fromkeys(["fp32", *candidates])}
    return {"flags": sorted(flags & (CPU_BF16_FLAGS | {"avx2", "avx512f", "avx512_vnni", "amx_int8"})),
            "candidates": candidates, "figures": figures,
            "choice": choose_precision(lambda c: figures[c], candidates)}


def real_vectors(chunks: list[str], n: int) -> np.ndarray:
    """The first `n` chunks embedded in-process at the automatic precision (float32 unit vectors)."""
    from steps.embeddings.model import load_model, resolve_model, resolve_precision
    from steps.embeddings.spec import DEFAULT_MODEL

    model = load_model(resolve_model(DEFAULT_MODEL), "cpu", resolve_precision(None, "cpu"))
    return np.asarray(model.encode(chunks[:n], batch_size=64, show_progress_bar=False), dtype=np.float32)


def vector_sections(root: Path, pgdata: Path, chunks: list[str], only: set[str], args: argparse.Namespace,
                    out: dict[str, Any]) -> None:
    """Figures 3 and 4 on vectors derived from the pipeline table's (or, without the pipeline runs, fresh ones)."""
    from steps.embeddings.db import connect, pg_target
    from steps.embeddings.store import ident

    with connect(pg_target(root, announce=False)) as conn:
        real = np.array([r[0].to_numpy() for r in conn.execute(
            sql.SQL("SELECT embedding FROM {}").format(ident("bench_pipeline"))).fetchall()], dtype=np.float32) \
            if "pipeline" in only else real_vectors(chunks, 1000)
        rng = np.random.default_rng(7)
        if "writes" in only:
            print("3. writes ...", flush=True)
            out["writer"] = writer_rate(conn, derived(real, args.write_rows, rng), pgdata)
        if "hnsw" in only:
            print("4. HNSW ...", flush=True)
            out["hnsw"] = hnsw_figures(conn, derived(real, args.vectors, rng), derived(real, args.queries, rng))


def derived(real: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """`n` real-derived unit vectors: a random real vector plus noise of half its length."""
    noise = unit(rng.normal(size=(n, real.shape[1])))
    return unit(real[rng.integers(0, len(real), n)] + 0.5 * noise)


def hnsw_figures(conn, vectors: np.ndarray, queries: np.ndarray, table: str = "bench_hnsw") -> dict[str, Any]:
    """Load `vectors` through the full replace, then latency and recall@10 at ef_search 40 and 100."""
    built = vector_table(conn, table, vectors)
    return {"vectors": len(vectors), **built, **{f"ef{ef}": hnsw_latency(conn, table, queries, 10, ef)
                                                 for ef in (40, 100)}}


def pipeline_runs(root: Path, chosen: dict[str, str], batch_size: int, out: dict[str, Any]) -> None:
    """Release a quarter, all, and all with 5% changed as three tags; embed them in turn (figures 2 and 5)."""
    quarter = dict(list(chosen.items())[: max(1, len(chosen) // 4)])
    changed = dict(chosen)
    for name in list(chosen)[:: max(1, round(1 / 0.05))][: math.ceil(0.05 * len(chosen))]:
        changed[name] = chosen[name] + "\n\n## Release notes\n\nThis release adds a benchmark section that " \
                                       f"changes the {name} document for the incremental rerun.\n"
    for tag, version in ((f"{SOURCE}-v1.0.0", quarter), (f"{SOURCE}-v1.1.0", chosen), (f"{SOURCE}-v1.2.0", changed)):
        release_readmes(root, {repo: text.encode() for repo, text in version.items()}, tag, url=PYPI_URL, push=False)
    print("5./2. pipeline runs: quarter, full, incremental ...", flush=True)
    _, q_state, q_rss = embed_run(root, f"{SOURCE}-v1.0.0", "bench_quarter", batch_size)
    f_s, f_state, f_rss = embed_run(root, f"{SOURCE}-v1.1.0", "bench_pipeline", batch_size)
    i_s, i_state, _ = embed_run(root, f"{SOURCE}-v1.2.0", "bench_pipeline", batch_size)
    out["incremental"] = {"full_s": f_s, "full_rows": f_state["rows"], "full_embedded": f_state["run"]["embedded"],
                          "changed_documents": sum(1 for k in chosen if changed[k] != chosen[k]),
                          "incremental_s": i_s, "incremental_embedded": i_state["run"]["embedded"],
                          "incremental_reused": i_state["run"]["reused"], "precision": f_state.get("precision")}
    out["rss"] = {"quarter_rows": q_state["rows"], "full_rows": f_state["rows"],
                  "quarter_driver_mb": q_rss.driver / 2**20, "full_driver_mb": f_rss.driver / 2**20,
                  "quarter_workers_mb": q_rss.workers / 2**20, "full_workers_mb": f_rss.workers / 2**20}


def print_hnsw(h: dict[str, Any], label: str) -> None:
    """One line of HNSW figures: build, size, latency and recall at ef_search 40 and 100."""
    print(f"4. HNSW {label} ({h['vectors']} vectors, m=16, ef_construction=64): "
          f"load+build {h['load_and_build_s']:.1f}s "
          f"(index build {h['index_build_s']:.1f}s, {h['index_mb']:.0f} MB); "
          f"ef_search=40 p50 {h['ef40']['p50_ms']:.2f} "
          f"ms, p95 {h['ef40']['p95_ms']:.2f} ms, recall@10 {h['ef40']['recall_at_k']:.3f}; ef_search=100 p50 "
          f"{h['ef100']['p50_ms']:.2f} ms, p95 {h['ef100']['p95_ms']:.2f} ms, recall@10 "
          f"{h['ef100']['recall_at_k']:.3f}")


def report(o: dict[str, Any]) -> None:
    """Print the measurements that ran as ratios with their raw figures, then the GOAL lines."""
    a = o["auto"]
    fp32_s = a["figures"]["fp32"][0]
    print(f"0. precision auto: CPU flags {' '.join(a['flags']) or 'none of note'} -> candidates {a['candidates']}; "
          "probe (128 docs, best of 3): " + ", ".join(f"{c} {s * 1000:.0f} ms ({fp32_s / s:.2f}x fp32, recall@10 "
                                                      f"{r:.3f})" for c, (s, r) in a["figures"].items())
          + f" -> auto picks {a['choice']}")
    print(f"\nRay start-up (ray.init): {o['ray_init_s']:.1f}s")
    if "incremental" in o:
        inc = o["incremental"]
        print(f"2. full run / incremental rerun: {inc['full_s'] / inc['incremental_s']:.1f}x  (goal >= 10x; "
              f"{inc['full_s']:.1f}s embedding {inc['full_embedded']} chunks at {inc['precision']} vs "
              f"{inc['incremental_s']:.1f}s after changing {inc['changed_documents']} of "
              f"{o['corpus']['run_documents']} documents: embedded {inc['incremental_embedded']}, reused "
              f"{inc['incremental_reused']})")
    if "writer" in o:
        w = o["writer"]
        print("3. full replace / executemany into an HNSW table: "
              f"{w['executemany_s'] / w['full_s']:.1f}x  (goal >= 5x; "
              f"{w['rows']} rows: {w['full_s']:.1f}s (index build {w['index_build_s']:.1f}s with maintenance_work_mem "
              f"{w['build_memory_mb']}MB; server default {w['server_default_maintenance_work_mem']}) vs "
              f"{w['executemany_s']:.1f}s; server peak: largest backend {w['peak_backend_mb']:.0f} MB, all processes "
              f"{w['peak_server_mb']:.0f} MB)")
        print(f"   incremental ({w['changed_rows']} rows replaced, {w['incremental_path']} merge of the whole staged "
              f"set) / executemany of the same change: {w['executemany_changed_s'] / w['incremental_s']:.1f}x  "
              f"({w['incremental_s']:.1f}s vs {w['executemany_changed_s']:.1f}s)")
    if "hnsw" in o:
        print_hnsw(o["hnsw"], "real-derived")
    if "rss" in o:
        rss = o["rss"]
        rows = rss["full_rows"] / rss["quarter_rows"]
        print(f"5. peak RSS full / quarter corpus ({rows:.1f}x the rows): driver "
              f"{rss['full_driver_mb'] / rss['quarter_driver_mb']:.2f} ({rss['full_driver_mb']:.0f} vs "
              f"{rss['quarter_driver_mb']:.0f} MB), "
              f"Ray workers {rss['full_workers_mb'] / rss['quarter_workers_mb']:.2f}"
              f" ({rss['full_workers_mb']:.0f} vs {rss['quarter_workers_mb']:.0f} MB)")
    print("\n".join(goals(o)))


def goals(o: dict[str, Any]) -> list[str]:
    """The GOAL lines of the sections that ran."""
    lines = []
    if "precision" in o:
        best = {}
        for r in o["precision"]["table"]:
            if r["backend"] not in best or r["chunks_per_s"] > best[r["backend"]]["chunks_per_s"]:
                best[r["backend"]] = r
        if "fp32" in best:
            for backend, r in best.items():
                if backend != "fp32":
                    print(f"1. {backend} vs fp32 in the pipeline (best batch each): "
                          f"{r['chunks_per_s'] / best['fp32']['chunks_per_s']:.2f}x the speed, recall@10 vs fp32 "
                          f"{r['recall_at_10']:.3f}")
        chosen = best.get(o["auto"]["choice"]) or max(best.values(), key=lambda r: r["chunks_per_s"])
        lines.append(goal(f"embed-throughput ({chosen['backend']} = auto, batch {chosen['batch']}) / bare fp32 encode",
                          chosen["ratio"], "≥", 2.5, "x"))
        lines += [goal(f"embed-recall@10 ({backend}) vs fp32", r["recall_at_10"], "≥", 0.99)
                  for backend, r in best.items() if backend != "fp32"]
    if "incremental" in o:
        inc = o["incremental"]
        lines.append(goal("full run / incremental rerun (5% changed)", inc["full_s"] / inc["incremental_s"], "≥", 10,
                          "x"))
    if "writer" in o:
        w = o["writer"]
        lines.append(goal("executemany / full replace into HNSW table", w["executemany_s"] / w["full_s"], "≥", 5, "x"))
    if "hnsw" in o:
        h = o["hnsw"]["ef40"]
        lines.append(goal(f"hnsw-p95 ({o['hnsw']['vectors']} vectors, ef_search 40)", h["p95_ms"], "<", 5, "ms"))
        lines.append(goal("hnsw-recall@10 (ef_search 40)", h["recall_at_k"], "≥", 0.95))
    if "rss" in o:
        rss = o["rss"]
        lines.append(goal("peak RSS full / quarter corpus (driver)", rss["full_driver_mb"] / rss["quarter_driver_mb"],
                          "≤", 1.5, "x"))
    return lines


if __name__ == "__main__":
    main()
