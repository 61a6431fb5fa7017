"""Semantic search over the table: embed the query with the table's own model, rank by cosine distance."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from psycopg import sql

from steps.embeddings.store import describe, ident
from steps.errors import DregError


@dataclass(frozen=True)
class Hit:
    """One ranked chunk: cosine similarity, text and row metadata."""

    score: float
    content: str
    metadata: dict[str, Any]


def table_model(conn, table: str) -> str:
    """The model that wrote the table (its state comment, else a row's metadata)."""
    return table_identity(conn, table)[0]


def table_identity(conn, table: str) -> tuple[str, str, str]:
    """(model, precision, storage) of the table: the model and precision its state comment records (else a row's
    metadata; fp32 when none is recorded) and its embedding column's type."""
    info = describe(conn, table)
    if info is None:
        raise DregError(f"table {table} does not exist", "run `dreg run opencloudhub-readmes-embeddings` first")
    if model := info.state.get("model"):
        return str(model), str(info.state.get("precision") or "fp32"), info.storage
    row = conn.execute(sql.SQL("SELECT metadata->>'embedding_model', metadata->>'embedding_precision' FROM {} LIMIT 1")
                       .format(ident(table))).fetchone()
    if not row or not row[0]:
        raise DregError(f"table {table} is empty", "run `dreg run opencloudhub-readmes-embeddings` first")
    return str(row[0]), str(row[1] or "fp32"), info.storage


def query_precision(precision: str) -> str:
    """The precision to embed queries with on the CPU: the table's, except fp16 (a CUDA precision): fp32."""
    return "fp32" if precision == "fp16" else precision


@lru_cache(maxsize=4)
def query_model(model: str, precision: str) -> Any:
    """The table's model at its precision on the CPU, loaded once per process."""
    from steps.embeddings.model import load_model, resolve_model

    return load_model(resolve_model(model), "cpu", query_precision(precision))


def search(conn, table: str, query: str, k: int = 5, ef_search: int = 100) -> list[Hit]:
    """Top-k chunks for `query` through the HNSW index."""
    if not query.strip():
        raise DregError("empty query", "pass the text to search for")
    model, precision, storage = table_identity(conn, table)
    vector = query_model(model, precision).encode([query], show_progress_bar=False)[0]
    q = sql.SQL("%(q)s") if storage == "vector" else sql.SQL("%(q)s::halfvec")
    knn = sql.SQL("SELECT 1 - (embedding <=> {q}), content, metadata FROM {t} ORDER BY embedding <=> {q}"
                  " LIMIT %(k)s").format(t=ident(table), q=q)
    with conn.transaction():
        conn.execute(sql.SQL("SET LOCAL hnsw.ef_search = {}").format(sql.Literal(max(ef_search, k))))
        rows = conn.execute(knn, {"q": vector, "k": k}).fetchall()
    return [Hit(float(score), content, meta if isinstance(meta, dict) else json.loads(meta))
            for score, content, meta in rows]
