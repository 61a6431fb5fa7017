"""`make bench-search`: `dreg search` end to end on a small embedded table (real package descriptions, chunked by
the pipeline's chunker, embedded at fp32 and written through the pipeline's full replace into the registry's
embedded PostgreSQL).

Measured side by side (interleaved rounds, medians):

  cold      a fresh `dreg search` process with the embedded PostgreSQL stopped (server start + model load + query);
  db-kept   a fresh `dreg search` process with the server kept up by `python -m steps.embeddings db-start`;
  warm      the query in a process where the server and the model are already up (`steps.embeddings.query.search`
            on an open connection, the model loaded by an earlier query);
  served    a fresh `dreg search` process answered by `dreg search --serve` (model and database kept up there).

The CLI's answer is checked against the in-process one (same top-k rows, same order). Then what a cold start is
made of: interpreter + `steps.cli` imports, `sentence_transformers` import, server start, model load.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bench.core import BIN, goal, interleaved, print_cpu, timed

TABLE = "readme_embeddings"
QUERIES = ("how do I configure logging?", "parse command line arguments", "read a parquet file",
           "connect to PostgreSQL", "retry an HTTP request")
GOAL_COLD_S, GOAL_WARM_S = 3.0, 0.5
LOAD = ("import time, sentence_transformers\nfrom steps.embeddings.model import load_model, resolve_model\n"
        "t = time.perf_counter()\nload_model(resolve_model('sentence-transformers/all-MiniLM-L6-v2'))\n"
        "print(time.perf_counter() - t)")


def fill_table(conn, chunks: list[tuple[str, str]]) -> int:
    """Embed `chunks` ((package, text)) at fp32 and write them through the pipeline's full replace."""
    from steps.embeddings.model import load_model, resolve_model
    from steps.embeddings.spec import DEFAULT_MODEL
    from steps.embeddings.store import StagingWriter, VectorTable, merge

    model = load_model(resolve_model(DEFAULT_MODEL))
    vectors = model.encode([text for _, text in chunks], batch_size=64, show_progress_bar=False)
    writer = StagingWriter(conn, vectors.shape[1])
    writer.write((uuid.uuid4(), text, vec, json.dumps({"source_repo": repo, "source_file": f"{repo}_README.md",
                                                       "section_h1": repo, "embedding_model": DEFAULT_MODEL}),
                  str(i)) for i, ((repo, text), vec) in enumerate(zip(chunks, vectors, strict=True)))
    return merge(conn, VectorTable(TABLE, vectors.shape[1], DEFAULT_MODEL), {}, full=True).rows


def fresh_seconds(code: str, env: dict[str, str]) -> float:
    """Wall seconds of a fresh interpreter running `code`."""
    return timed([sys.executable, "-c", code], Path.cwd(), env)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chunks", type=int, default=int(os.environ.get("SEARCH_CHUNKS", "500")))
    ap.add_argument("--rounds", type=int, default=int(os.environ.get("SEARCH_ROUNDS", "3")))
    args = ap.parse_args()
    print_cpu()
    os.environ["HF_HUB_OFFLINE"] = "1"
    for var in ("PGVECTOR_HOST", "DREG_PGDATA"):
        os.environ.pop(var, None)

    from bench.embeddings import corpus
    from steps.dev.scaffold import create_registry
    from steps.embeddings.chunking import ChunkConfig, chunk_markdown
    from steps.embeddings.db import connect, pg_target
    from steps.embeddings.pgserver import pgdata_path, start_embedded, stop_embedded
    from steps.embeddings.query import search

    cfg = ChunkConfig(1000, 150, 40, 0.5)
    chunks = [(repo, c.content) for repo, text in corpus().items() for c in chunk_markdown(text, cfg)
              if not c.drop_reason][: args.chunks]
    with tempfile.TemporaryDirectory(prefix="dreg-bench-search-") as tmp:
        root = create_registry(Path(tmp)).root
        pgdata = pgdata_path(root)
        env = {**os.environ, "COLUMNS": "200"}
        try:
            os.chdir(root)
            start_embedded(pgdata, announce=False, keep=True)
            with connect(pg_target(root, announce=False)) as conn:
                rows = fill_table(conn, chunks)
            print(f"table {TABLE}: {rows} chunks of {len({r for r, _ in chunks})} package descriptions (fp32, HNSW "
                  f"m=16); queries {list(QUERIES)}", flush=True)
            cli = [str(BIN / "dreg"), "search", QUERIES[0], "--k", "5"]
            n = iter(range(10**6))
            db_start = [sys.executable, "-m", "steps.embeddings", "db-start"]

            def cold() -> float:
                stop_embedded(pgdata)
                return timed([*cli[:2], QUERIES[next(n) % len(QUERIES)], *cli[3:]], root, env)

            def kept() -> float:
                subprocess.run(db_start, cwd=root, env=env, capture_output=True, check=True)
                return timed([*cli[:2], QUERIES[next(n) % len(QUERIES)], *cli[3:]], root, env)

            got = interleaved({"cold": cold, "db-kept": kept}, args.rounds)
            subprocess.run(db_start, cwd=root, env=env, capture_output=True, check=True)
            with connect(pg_target(root, announce=False, create=False)) as conn:
                search(conn, TABLE, QUERIES[0], 5)  # loads the model: later queries are warm
                warm = []
                for _ in range(args.rounds):
                    for q in QUERIES:
                        t0 = time.perf_counter()
                        search(conn, TABLE, q, 5)
                        warm.append(time.perf_counter() - t0)
                same = all(
                    [h.content for h in search(conn, TABLE, q, 5)]
                    == [h["content"] for h in json.loads(subprocess.run(
                        [*cli[:2], q, "--k", "5", "--json"], cwd=root, env=env, capture_output=True, text=True,
                        check=True).stdout)["hits"]] for q in QUERIES[:2])
            warm.sort()
            got["warm"] = warm[len(warm) // 2]
            got["served"], served_same = served(root, env, cli, args.rounds)
            print(f"cold `dreg search` (server stopped): {got['cold']:.2f}s; with the server kept up (db-start): "
                  f"{got['db-kept']:.2f}s; warm query (server + model up, in process): {got['warm'] * 1000:.1f} ms "
                  f"(medians of {args.rounds} interleaved rounds; warm: {len(warm)} queries)")
            print(f"CLI top-5 equals the in-process top-5: {'yes' if same else 'NO'}; through `--serve`: "
                  f"{'yes' if served_same else 'NO'}")
            print(f"a fresh `dreg search` with `dreg search --serve` up: {got['served']:.2f}s (median)")
            # what a cold start is made of (each alone, fresh interpreters / this process)
            parts = {"python + import steps.cli": fresh_seconds("import steps.cli", env),
                     "python + import sentence_transformers": fresh_seconds("import sentence_transformers", env)}
            stop_embedded(pgdata)
            parts["`db-start` (python + server start)"] = timed(db_start, root, env)
            parts["model load (imports done)"] = float(subprocess.run(
                [sys.executable, "-c", LOAD], env=env, capture_output=True, text=True, check=True).stdout)
            print("cold start, part by part: " + "; ".join(f"{k} {v:.2f}s" for k, v in parts.items()))
        finally:
            stop_embedded(pgdata)
    print(goal("search-cold", got["cold"], "≤", GOAL_COLD_S, "s"))
    print(goal("search-warm (in process)", got["warm"], "≤", GOAL_WARM_S, "s"))
    print(goal("search-warm (a fresh `dreg search`, `--serve` up)", got["served"], "≤", GOAL_WARM_S, "s"))


def served(root: Path, env: dict[str, str], cli: list[str], rounds: int) -> tuple[float, bool]:
    """Median wall seconds of fresh `dreg search` processes answered by a `dreg search --serve` server (the model
    loaded by a first query), and whether its top-5 equals a lone search's."""
    lone = [json.loads(subprocess.run([*cli[:2], q, "--k", "5", "--json"], cwd=root, env=env, capture_output=True,
                                      text=True, check=True).stdout)["hits"] for q in QUERIES[:2]]
    server = subprocess.Popen([*cli[:2], "--serve", "--idle", "600"], cwd=root, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        sock = root / ".dreg" / "search.sock"
        while not sock.is_socket():
            if server.poll() is not None:
                raise SystemExit("dreg search --serve did not start")
            time.sleep(0.2)
        same = [json.loads(subprocess.run([*cli[:2], q, "--k", "5", "--json"], cwd=root, env=env,
                                          capture_output=True, text=True, check=True).stdout)["hits"]
                for q in QUERIES[:2]] == lone
        times = sorted(timed([*cli[:2], q, *cli[3:]], root, env) for _ in range(rounds) for q in QUERIES)
    finally:
        server.terminate()
        server.wait(timeout=120)
    return times[len(times) // 2], same


if __name__ == "__main__":
    main()
