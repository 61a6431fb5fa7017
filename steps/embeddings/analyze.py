"""The analyze stage: check the table against the embed report, measure HNSW recall, write metadata.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from psycopg import sql

from steps.embeddings.job import report_path
from steps.embeddings.spec import EmbeddingsParams
from steps.embeddings.store import CONTRACT, OPCLASS, describe, ident, index_name, set_digest, table_ids
from steps.errors import DregError
from steps.kit.metadata import build_lineage, write_metadata

METADATA_FIELDS = ["source_repo", "source_file", "source_url", "chunk_index", "section_h1", "section_h2",
                   "section_h3", "dvc_data_version", "embedding_model", "embedding_precision", "content_sha256",
                   "docker_image", "argo_workflow_uid"]


def hnsw_recall(conn, table: str, queries: int, k: int, ef_search: int) -> dict[str, Any]:
    """Mean recall@k of the HNSW index against an exact scan, with stored vectors (first by id) as queries."""
    t = ident(table)
    sample = [r[0] for r in conn.execute(sql.SQL("SELECT embedding FROM {} ORDER BY id LIMIT %s").format(t),
                                         [queries]).fetchall()]
    knn = sql.SQL("SELECT embedding <=> %(q)s FROM {} ORDER BY embedding <=> %(q)s LIMIT %(k)s").format(t)
    total, used_index = 0.0, True
    for q in sample:
        with conn.transaction():
            conn.execute(sql.SQL("SET LOCAL hnsw.ef_search = {}").format(sql.Literal(ef_search)))
            conn.execute("SET LOCAL enable_seqscan = off")
            plan = "\n".join(r[0] for r in conn.execute(sql.SQL("EXPLAIN ") + knn, {"q": q, "k": k}).fetchall())
            used_index &= index_name(table) in plan
            approx = [r[0] for r in conn.execute(knn, {"q": q, "k": k}).fetchall()]
        with conn.transaction():
            conn.execute("SET LOCAL enable_indexscan = off")
            conn.execute("SET LOCAL enable_bitmapscan = off")
            exact = [r[0] for r in conn.execute(knn, {"q": q, "k": k}).fetchall()]
        if exact:
            total += sum(1 for d in approx if d <= exact[-1] + 1e-6) / len(exact)
    return {"k": k, "queries": len(sample), "ef_search": ef_search, "index_used": used_index,
            "recall": round(total / len(sample), 4) if sample else None}


def run_analyze(dataset: str, params: EmbeddingsParams, root: Path) -> Path:
    """Check rows == chunks written (same id set), measure recall, and write the dataset's metadata.json."""
    from steps.embeddings.db import connect, pg_target

    path = report_path(dataset, root)
    if not path.exists():
        raise DregError(f"{path.relative_to(root)} not found", f"run `dreg stage {dataset} embed` first")
    report = json.loads(path.read_text())
    table, a = params.embed.table, params.analyze
    conn = connect(pg_target(root))
    try:
        info = describe(conn, table)
        if info is None:
            raise DregError(f"table {table} does not exist", f"run `dreg stage {dataset} embed --force`")
        ids = table_ids(conn, table)
        written = report["chunks"]["written"]
        if len(ids) != written or set_digest(ids) != report["ids_sha256"]:
            raise DregError(f"table {table} holds {len(ids)} rows that differ from the {written} the embed stage wrote",
                            f"another run changed the table; run `dreg stage {dataset} embed --force`")
        recall = hnsw_recall(conn, table, a.recall_queries, a.recall_k, a.ef_search)
    finally:
        conn.close()
    source = report["source"]
    schema = {
        "table": table,
        "columns": {**CONTRACT, "embedding": f"vector({info.dim})"},
        "primary_key": "id",
        "metadata_fields": METADATA_FIELDS,
        "index": {"method": "hnsw", "opclass": OPCLASS, "name": index_name(table), **(info.index or {})},
        "consumer": {"langchain_postgres.PGVectorStore": {
            "table_name": table, "id_column": "id", "content_column": "content", "embedding_column": "embedding",
            "metadata_json_column": "metadata", "distance_strategy": "cosine"}},
    }
    metrics = {
        "source_version": source["tag"],
        "documents": report["documents"],
        "chunks": report["chunks"],
        "model": report["model"],
        "index": {"m": (info.index or {}).get("m"), "ef_construction": (info.index or {}).get("ef_construction")},
        "table": {"rows": len(ids), "rows_equal_chunks_written": True},
        "hnsw_recall": recall,
    }
    sources = [{"kind": "sample" if source.get("kind") == "sample" else "dataset", "dataset": source["dataset"],
                "tag": source["tag"], "file": f["file"], "url": f.get("url"), "sha256": f.get("sha256")}
               for f in report["files"]]
    run = info.state.get("run", {})
    lineage = build_lineage(sources, params.model_dump(mode="json"), upstream={source["dataset"]: source["tag"]},
                            run={k: run.get(k) for k in ("embedded", "reused", "inserted", "updated", "deleted",
                                                         "write_path", "finished_at")},
                            embedding={"model": report["model"]["name"],
                                       "precision": report["model"].get("precision", "fp32")})
    return write_metadata(dataset, schema=schema, splits={"chunks": {"num_samples": len(ids)}}, metrics=metrics,
                          lineage=lineage, root=root)
