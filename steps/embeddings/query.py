"""Semantic search over the table: embed the query with the table's own model, rank by cosine distance."""

from __future__ import annotations

import json
from dataclasses import dataclass
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
    info = describe(conn, table)
    if info is None:
        raise DregError(f"table {table} does not exist", "run `dreg run opencloudhub-readmes-embeddings` first")
    if model := info.state.get("model"):
        return str(model)
    row = conn.execute(sql.SQL("SELECT metadata->>'embedding_model' FROM {} LIMIT 1").format(ident(table))).fetchone()
    if not row or not row[0]:
        raise DregError(f"table {table} is empty", "run `dreg run opencloudhub-readmes-embeddings` first")
    return str(row[0])


def search(conn, table: str, query: str, k: int = 5, ef_search: int = 100) -> list[Hit]:
    """Top-k chunks for `query` through the HNSW index."""
    from steps.embeddings.model import load_model, resolve_model

    if not query.strip():
        raise DregError("empty query", "pass the text to search for")
    vector = load_model(resolve_model(table_model(conn, table))).encode([query], show_progress_bar=False)[0]
    knn = sql.SQL("SELECT 1 - (embedding <=> %(q)s), content, metadata FROM {} ORDER BY embedding <=> %(q)s"
                  " LIMIT %(k)s").format(ident(table))
    with conn.transaction():
        conn.execute(sql.SQL("SET LOCAL hnsw.ef_search = {}").format(sql.Literal(max(ef_search, k))))
        rows = conn.execute(knn, {"q": vector, "k": k}).fetchall()
    return [Hit(float(score), content, meta if isinstance(meta, dict) else json.loads(meta))
            for score, content, meta in rows]
