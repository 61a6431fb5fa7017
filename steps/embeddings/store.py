"""The vector table: contract checks, staged writes, and the one-transaction replace of the whole set.

Two ways to the new set, both one transaction (readers see all old or all new rows): a full replace loads a fresh
table from the stage, builds its HNSW index after the load (pgvector's advice) and swaps it in for the live one; an
incremental change merges the stage into the live table. The full replace is taken when there is no table yet, the
index params change, or most staged rows are new (a new model or precision gives every row a new id)."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from psycopg import sql

from steps.embeddings.spec import check_table_name
from steps.errors import DregError

STAGE = "dreg_embeddings_stage"
OPCLASS = "vector_cosine_ops"
STORAGES = ("vector", "halfvec")  # the embedding column's type: float32, or float16 (about half the index size)
OPCLASSES = {"vector": OPCLASS, "halfvec": "halfvec_cosine_ops"}
CONTRACT = {"id": "uuid", "content": "text", "embedding": "vector", "metadata": "jsonb"}
LOCK_TIMEOUT = "10min"
FILLFACTOR = 50  # room on each page, so that metadata-only updates (a new source tag) stay HOT: no HNSW re-inserts
FULL_REPLACE_SHARE = 0.5  # above this share of new rows, loading a fresh table beats inserting into the live index


@dataclass(frozen=True)
class TableInfo:
    """What an existing table looks like: vector dimension, HNSW index params, state comment, column type."""

    dim: int
    index: dict[str, int] | None
    state: dict[str, Any]
    storage: str = "vector"


@dataclass(frozen=True)
class VectorTable:
    """What the replace writes: table, vector dimension, model identity, HNSW params, index build memory, and the
    embedding column's type (`vector`, or `halfvec`: float16, about half the index)."""

    table: str
    dim: int
    model: str
    precision: str = "fp32"
    m: int = 16
    ef_construction: int = 64
    build_memory_mb: int = 512
    storage: str = "vector"


@dataclass(frozen=True)
class MergeResult:
    """Counts of one replace: rows now in the table, what changed to get there, and how (`full` or `incremental`)."""

    rows: int
    inserted: int
    updated: int
    deleted: int
    reused: int
    path: str = "incremental"
    index_build_s: float = 0.0


def ident(table: str) -> sql.Identifier:
    """The validated table name as a quoted SQL identifier."""
    return sql.Identifier(check_table_name(table))


def derived_name(table: str, suffix: str) -> str:
    """`<table>_<suffix>`, shortened with a hash when PostgreSQL's 63-character limit would cut it."""
    name = f"{table}_{suffix}"
    if len(name) <= 63:
        return name
    return f"{table[:62 - len(suffix) - 9]}_{hashlib.sha1(table.encode()).hexdigest()[:8]}_{suffix}"


def index_name(table: str) -> str:
    """`<table>_hnsw` (see `derived_name`)."""
    return derived_name(table, "hnsw")


def describe(conn, table: str) -> TableInfo | None:
    """The table's dimension, index and state, or None if it does not exist; DregError if it breaks the contract."""
    oid = conn.execute("SELECT to_regclass(%s)::oid", [ident(table).as_string(conn)]).fetchone()[0]
    if oid is None:
        return None
    cols = dict(conn.execute(
        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute"
        " WHERE attrelid = %s AND attnum > 0 AND NOT attisdropped", [oid]).fetchall())
    types = {name: cols.get(name, "").split("(")[0] for name in CONTRACT}
    storage = types["embedding"]
    if storage in STORAGES:
        types["embedding"] = "vector"
    if types != CONTRACT or "(" not in cols["embedding"] or conn.execute(
            "SELECT count(*) FROM pg_index WHERE indrelid = %s AND indisprimary", [oid]).fetchone()[0] != 1:
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
    return TableInfo(dim, index, state if isinstance(state, dict) else {}, storage)


SAME_MODEL = sql.SQL("{l}.metadata->>'embedding_model' = %(model)s"
                     " AND coalesce({l}.metadata->>'embedding_precision', 'fp32') = %(precision)s")  # older rows: fp32


def known_hashes(conn, table: str, model: str, precision: str) -> frozenset[str]:
    """Content hashes with a vector from `model` at `precision` in the table (nothing if there is no table)."""
    if describe(conn, table) is None:
        return frozenset()
    query = sql.SQL("SELECT DISTINCT metadata->>'content_sha256' FROM {t} l WHERE {same}").format(
        t=ident(table), same=SAME_MODEL.format(l=sql.Identifier("l")))
    return frozenset(r[0] for r in conn.execute(query, {"model": model, "precision": precision}).fetchall() if r[0])


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


def merge(conn, spec: VectorTable, state: dict[str, Any], full: bool | None = None) -> MergeResult:
    """Replace the table's set by the staged one in one transaction: readers see all old or all new rows.

    `full` None: a full replace when `wants_full_replace` says so, else an incremental merge. A row id fixes model
    identity, file and content, so a kept row can only change its metadata (never its vector)."""
    with conn.transaction():
        conn.execute(sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(LOCK_TIMEOUT)))
        conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [f"dreg-embeddings:{spec.table}"])
        staged = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(STAGE))).fetchone()[0]
        info = describe(conn, spec.table)
        if staged == 0:
            raise DregError(f"the new set for {spec.table} is empty",
                            "every document was dropped; nothing was replaced")
        if info is not None and info.dim != spec.dim:
            raise DregError(f"table {spec.table} holds {info.dim}-dimensional vectors; {spec.model} makes {spec.dim}",
                            "write this model's vectors to another `table` (the old one is left as it is)")
        reused = reuse_vectors(conn, spec, info)
        if full is None:
            full = wants_full_replace(conn, spec, info, staged)
        result = replace_table(conn, spec, info) if full else merge_rows(conn, spec)
        result = MergeResult(result.rows, result.inserted, result.updated, result.deleted, reused, result.path,
                             result.index_build_s)
        run = {**state.get("run", {}), "reused": reused, "inserted": result.inserted, "updated": result.updated,
               "deleted": result.deleted, "write_path": result.path}
        conn.execute(sql.SQL("COMMENT ON TABLE {} IS {}").format(ident(spec.table), sql.Literal(json.dumps(
            {**state, "model": spec.model, "precision": spec.precision, "dim": spec.dim, "rows": result.rows,
             "run": run}, sort_keys=True))))
    return result


def reuse_vectors(conn, spec: VectorTable, info: TableInfo | None) -> int:
    """Fill the staged rows without a vector from the live table's row of the same content and model identity."""
    if info is not None:
        reused = conn.execute(sql.SQL(
            "UPDATE {s} s SET embedding = l.embedding FROM {t} l WHERE s.embedding IS NULL"
            " AND l.metadata->>'content_sha256' = s.content_sha256 AND {same}").format(
            s=sql.Identifier(STAGE), t=ident(spec.table), same=SAME_MODEL.format(l=sql.Identifier("l"))),
            {"model": spec.model, "precision": spec.precision}).rowcount
    else:
        reused = 0
    missing = conn.execute(sql.SQL("SELECT count(*) FROM {} WHERE embedding IS NULL").format(
        sql.Identifier(STAGE))).fetchone()[0]
    if missing:
        raise DregError(f"{missing} vector(s) to reuse vanished from {spec.table} during the run",
                        "another run replaced the set meanwhile; rerun the stage")
    return reused


def wants_full_replace(conn, spec: VectorTable, info: TableInfo | None, staged: int) -> bool:
    """True when there is no table, its index params or column type change, or more than FULL_REPLACE_SHARE of
    staged rows are new."""
    if info is None or info.index != {"m": spec.m, "ef_construction": spec.ef_construction} \
            or info.storage != spec.storage:
        return True
    new = conn.execute(sql.SQL("SELECT count(*) FROM {s} s WHERE NOT EXISTS (SELECT 1 FROM {t} l WHERE l.id = s.id)")
                       .format(s=sql.Identifier(STAGE), t=ident(spec.table))).fetchone()[0]
    return new > FULL_REPLACE_SHARE * staged


def build_index(conn, table: str, index: str, spec: VectorTable) -> float:
    """CREATE the HNSW index on a loaded table with `build_memory_mb` of maintenance_work_mem; return seconds."""
    conn.execute(sql.SQL("SET LOCAL maintenance_work_mem = {}").format(sql.Literal(f"{spec.build_memory_mb}MB")))
    start = time.perf_counter()
    conn.execute(sql.SQL("CREATE INDEX {} ON {} USING hnsw (embedding {}) WITH (m = {}, ef_construction = {})").format(
        sql.Identifier(index), sql.Identifier(table), sql.SQL(OPCLASSES[spec.storage]), sql.Literal(spec.m),
        sql.Literal(spec.ef_construction)))
    return time.perf_counter() - start


def replace_table(conn, spec: VectorTable, info: TableInfo | None) -> MergeResult:
    """Load a fresh table from the stage, index it, and swap it in for the live one (dropped) under its name."""
    t, stage = ident(spec.table), sql.Identifier(STAGE)
    fresh, fresh_pkey = derived_name(spec.table, "dreg_new"), derived_name(spec.table, "dreg_new_pkey")
    conn.execute(sql.SQL("CREATE TABLE {} (id uuid CONSTRAINT {} PRIMARY KEY, content text NOT NULL, "
                         "embedding {}({}) NOT NULL, metadata jsonb NOT NULL) WITH (fillfactor = {})").format(
        sql.Identifier(fresh), sql.Identifier(fresh_pkey), sql.SQL(STORAGES[STORAGES.index(spec.storage)]),
        sql.Literal(spec.dim), sql.Literal(FILLFACTOR)))
    rows = conn.execute(sql.SQL("INSERT INTO {} (id, content, embedding, metadata)"
                                " SELECT id, content, embedding, metadata::jsonb FROM {}").format(
        sql.Identifier(fresh), stage)).rowcount
    seconds = build_index(conn, fresh, derived_name(spec.table, "dreg_new_hnsw"), spec)
    inserted, updated, deleted = rows, 0, 0
    if info is not None:
        inserted, updated, deleted = conn.execute(sql.SQL(
            "SELECT count(*) FILTER (WHERE l.id IS NULL), count(*) FILTER (WHERE l.metadata IS DISTINCT FROM n.metadata"
            " AND l.id IS NOT NULL), (SELECT count(*) FROM {t}) - count(l.id) FROM {n} n LEFT JOIN {t} l USING (id)")
            .format(t=t, n=sql.Identifier(fresh))).fetchone()
        conn.execute(sql.SQL("DROP TABLE {}").format(t))
    conn.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(sql.Identifier(fresh), t))
    conn.execute(sql.SQL("ALTER TABLE {} RENAME CONSTRAINT {} TO {}").format(
        t, sql.Identifier(fresh_pkey), sql.Identifier(derived_name(spec.table, "pkey"))))
    conn.execute(sql.SQL("ALTER INDEX {} RENAME TO {}").format(
        sql.Identifier(derived_name(spec.table, "dreg_new_hnsw")), sql.Identifier(index_name(spec.table))))
    return MergeResult(rows, inserted, updated, deleted, 0, "full", seconds)


def merge_rows(conn, spec: VectorTable) -> MergeResult:
    """Merge the stage into the live table: delete rows gone, insert new ones, update changed metadata."""
    t, stage = ident(spec.table), sql.Identifier(STAGE)
    deleted = conn.execute(sql.SQL("DELETE FROM {} l WHERE NOT EXISTS (SELECT 1 FROM {} s WHERE s.id = l.id)")
                           .format(t, stage)).rowcount
    flags = conn.execute(sql.SQL(
        "INSERT INTO {t} AS l (id, content, embedding, metadata)"
        " SELECT id, content, embedding, metadata::jsonb FROM {s}"
        " ON CONFLICT (id) DO UPDATE SET metadata = EXCLUDED.metadata"
        " WHERE l.metadata IS DISTINCT FROM EXCLUDED.metadata"
        " RETURNING (xmax = 0)").format(t=t, s=stage)).fetchall()
    rows = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(t)).fetchone()[0]
    inserted = sum(1 for (new,) in flags if new)
    return MergeResult(rows, inserted, len(flags) - inserted, deleted, 0, "incremental")


def table_ids(conn, table: str) -> list[str]:
    """Row ids of the table, sorted (what the set digest is computed over)."""
    return [str(r[0]) for r in conn.execute(sql.SQL("SELECT id FROM {} ORDER BY id").format(ident(table))).fetchall()]


def set_digest(ids: Iterable[str]) -> str:
    """sha256 over sorted row ids: equal digests mean equal sets."""
    return hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()
