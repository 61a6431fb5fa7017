"""The vector table: contract checks, staged writes, and the one-transaction replace of the whole set."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from psycopg import sql

from steps.embeddings.spec import check_table_name
from steps.errors import DregError

STAGE = "dreg_embeddings_stage"
OPCLASS = "vector_cosine_ops"
CONTRACT = {"id": "uuid", "content": "text", "embedding": "vector", "metadata": "jsonb"}
LOCK_TIMEOUT = "10min"
FILLFACTOR = 50  # room on each page, so that metadata-only updates (a new source tag) stay HOT: no HNSW re-inserts


@dataclass(frozen=True)
class TableInfo:
    """What an existing table looks like: vector dimension, HNSW index params, state comment."""

    dim: int
    index: dict[str, int] | None
    state: dict[str, Any]


@dataclass(frozen=True)
class MergeResult:
    """Counts of one replace: rows now in the table, and what changed to get there."""

    rows: int
    inserted: int
    updated: int
    deleted: int
    reused: int


def ident(table: str) -> sql.Identifier:
    """The validated table name as a quoted SQL identifier."""
    return sql.Identifier(check_table_name(table))


def index_name(table: str) -> str:
    """`<table>_hnsw`, shortened with a hash when PostgreSQL's 63-character limit would cut it."""
    name = f"{table}_hnsw"
    return name if len(name) <= 63 else f"{table[:48]}_{hashlib.sha1(table.encode()).hexdigest()[:8]}_hnsw"


def describe(conn, table: str) -> TableInfo | None:
    """The table's dimension, index and state, or None if it does not exist; DregError if it breaks the contract."""
    oid = conn.execute("SELECT to_regclass(%s)::oid", [ident(table).as_string(conn)]).fetchone()[0]
    if oid is None:
        return None
    cols = dict(conn.execute(
        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute"
        " WHERE attrelid = %s AND attnum > 0 AND NOT attisdropped", [oid]).fetchall())
    types = {name: cols.get(name, "").split("(")[0] for name in CONTRACT}
    if types != CONTRACT or "(" not in cols["embedding"] or conn.execute("SELECT count(*) FROM pg_index WHERE indrelid = %s AND indisprimary",
                                         [oid]).fetchone()[0] != 1:
        raise DregError(f"table {table} exists but is not an embeddings table (columns {cols})",
                        "choose another `table` in params.yaml; this pipeline only replaces its own tables")
    dim = int(cols["embedding"].split("(")[1].rstrip(")"))
    row = conn.execute(
        "SELECT c.reloptions FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam"
        " WHERE i.indrelid = %s AND c.relname = %s AND a.amname = 'hnsw'", [oid, index_name(table)]).fetchone()
    index = {k: int(v) for k, v in (o.split("=") for o in row[0] or [])} if row else None
    comment = conn.execute("SELECT obj_description(%s, 'pg_class')", [oid]).fetchone()[0]
    try:
        state = json.loads(comment) if comment else {}
    except ValueError:
        state = {}
    return TableInfo(dim, index, state if isinstance(state, dict) else {})


def known_hashes(conn, table: str, model: str) -> frozenset[str]:
    """Content hashes that already have a vector from `model` in the table (nothing if there is no table)."""
    if describe(conn, table) is None:
        return frozenset()
    query = sql.SQL("SELECT DISTINCT metadata->>'content_sha256' FROM {} WHERE metadata->>'embedding_model' = %s")
    return frozenset(r[0] for r in conn.execute(query.format(ident(table)), [model]).fetchall() if r[0])


class StagingWriter:
    """Rows of the new set, COPY'd in binary into a session-local temporary table."""

    def __init__(self, conn, dim: int) -> None:
        self.conn = conn
        self.dim = dim
        conn.execute(sql.SQL(
            "CREATE TEMP TABLE IF NOT EXISTS {} (id uuid PRIMARY KEY, content text NOT NULL, embedding vector({}),"
            " metadata text NOT NULL, content_sha256 text NOT NULL)").format(sql.Identifier(STAGE), sql.Literal(dim)))
        conn.execute(sql.SQL("TRUNCATE {}").format(sql.Identifier(STAGE)))
        self.staged = 0

    def write(self, rows: Iterable[tuple[Any, str, Any, str, str]]) -> int:
        """COPY rows (id, content, embedding or None to reuse, metadata JSON text, content hash); return the count."""
        copy = sql.SQL("COPY {} (id, content, embedding, metadata, content_sha256) FROM STDIN WITH (FORMAT BINARY)")
        n = 0
        with self.conn.cursor().copy(copy.format(sql.Identifier(STAGE))) as cp:
            cp.set_types(["uuid", "text", "vector", "text", "text"])
            for row in rows:
                cp.write_row(row)
                n += 1
        self.staged += n
        return n


def merge(conn, table: str, dim: int, model: str, m: int, ef_construction: int,
          state: dict[str, Any]) -> MergeResult:
    """Replace the table's set by the staged one in one transaction: readers see all old or all new rows.

    A row id fixes model, file and content, so a kept row can only change its metadata (never its vector)."""
    t, stage, idx = ident(table), sql.Identifier(STAGE), sql.Identifier(index_name(table))
    with conn.transaction():
        conn.execute(sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(LOCK_TIMEOUT)))
        conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [f"dreg-embeddings:{table}"])
        staged = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(stage)).fetchone()[0]
        info = describe(conn, table)
        if staged == 0:
            raise DregError(f"the new set for {table} is empty", "every document was dropped; nothing was replaced")
        if info is None:
            conn.execute(sql.SQL("CREATE TABLE {} (id uuid PRIMARY KEY, content text NOT NULL,"
                                 " embedding vector({}) NOT NULL, metadata jsonb NOT NULL) WITH (fillfactor = {})")
                         .format(t, sql.Literal(dim), sql.Literal(FILLFACTOR)))
        elif info.dim != dim:
            raise DregError(f"table {table} holds {info.dim}-dimensional vectors; {model} makes {dim}",
                            "write this model's vectors to another `table` (the old one is left as it is)")
        reused = conn.execute(sql.SQL(
            "UPDATE {} s SET embedding = l.embedding FROM {} l WHERE s.embedding IS NULL"
            " AND l.metadata->>'content_sha256' = s.content_sha256 AND l.metadata->>'embedding_model' = %s"
        ).format(stage, t), [model]).rowcount
        missing = conn.execute(sql.SQL("SELECT count(*) FROM {} WHERE embedding IS NULL").format(stage)).fetchone()[0]
        if missing:
            raise DregError(f"{missing} vector(s) to reuse vanished from {table} during the run",
                            "another run replaced the set meanwhile; rerun the stage")
        wanted = {"m": m, "ef_construction": ef_construction}
        if info is not None and info.index not in (None, wanted):
            conn.execute(sql.SQL("DROP INDEX {}").format(idx))
        deleted = conn.execute(sql.SQL("DELETE FROM {} l WHERE NOT EXISTS (SELECT 1 FROM {} s WHERE s.id = l.id)")
                               .format(t, stage)).rowcount
        flags = conn.execute(sql.SQL(
            "INSERT INTO {t} AS l (id, content, embedding, metadata)"
            " SELECT id, content, embedding, metadata::jsonb FROM {s}"
            " ON CONFLICT (id) DO UPDATE SET metadata = EXCLUDED.metadata"
            " WHERE l.metadata IS DISTINCT FROM EXCLUDED.metadata"
            " RETURNING (xmax = 0)").format(t=t, s=stage)).fetchall()
        conn.execute(sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} USING hnsw (embedding {})"
                             " WITH (m = {}, ef_construction = {})").format(
            idx, t, sql.SQL(OPCLASS), sql.Literal(m), sql.Literal(ef_construction)))
        rows = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(t)).fetchone()[0]
        inserted = sum(1 for (new,) in flags if new)
        result = MergeResult(rows, inserted, len(flags) - inserted, deleted, reused)
        run = {**state.get("run", {}), "reused": reused, "inserted": result.inserted, "updated": result.updated,
               "deleted": deleted}
        conn.execute(sql.SQL("COMMENT ON TABLE {} IS {}").format(t, sql.Literal(json.dumps(
            {**state, "model": model, "dim": dim, "rows": rows, "run": run}, sort_keys=True))))
    return result


def table_ids(conn, table: str) -> list[str]:
    """Row ids of the table, sorted (what the set digest is computed over)."""
    return [str(r[0]) for r in conn.execute(sql.SQL("SELECT id FROM {} ORDER BY id").format(ident(table))).fetchall()]


def set_digest(ids: Iterable[str]) -> str:
    """sha256 over sorted row ids: equal digests mean equal sets."""
    return hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()
