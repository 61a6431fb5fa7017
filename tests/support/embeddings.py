"""The embeddings tests' world: a source registry with two readmes releases, the session's embedded pgvector
server, the test parameters, and helpers that read, copy and predict pipeline tables."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from steps.dev.readmes import SOURCE, readmes_registry, release_readmes
from steps.dev.scaffold import Registry
from steps.embeddings.spec import DEFAULT_MODEL
from tests.support.corpus import V1, V2

DATASET = "opencloudhub-readmes-embeddings"
V1_TAG, V2_TAG = f"{SOURCE}-v1.0.0", f"{SOURCE}-v1.1.0"
TEST_PARAMS = {"chunk_size": 400, "chunk_overlap": 40, "min_chunk_chars": 30, "batch_size": 16}
# Ray's own log lines on a driver's stderr: Python loggers, C++ (glog style), and output forwarded from workers
RAY_LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+\s+(WARNING|ERROR|CRITICAL)\s"
                          r"|^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ [WEF] \d+ \d+\]"
                          r"|^\(\S.*? pid=\d+(, ip=\S+)?\)")


def ray_log_lines(stderr: str) -> list[str]:
    """Warning- and error-level lines Ray printed (or forwarded from its workers) in a command's stderr."""
    return [line for line in stderr.splitlines() if RAY_LOG_LINE.search(line)]


def make_source_registry(base: Path) -> Registry:
    """A registry whose origin has readmes releases V1_TAG (one repo without its file) and V2_TAG."""
    reg = readmes_registry(base)
    release_readmes(reg.root, V1, V1_TAG, missing=("ghost-repo",))
    release_readmes(reg.root, V2, V2_TAG)
    return reg


@dataclass(frozen=True)
class Pg:
    """The session's embedded server: data folder, socket folder and connection URI."""

    pgdata: Path
    socket_dir: str
    uri: str

    def connect(self):
        import psycopg
        from pgvector.psycopg import register_vector

        conn = psycopg.connect(self.uri, autocommit=True)
        register_vector(conn)
        return conn


@contextmanager
def embedded_pg(pgdata: Path) -> Iterator[Pg]:
    """An embedded PostgreSQL + pgvector in `pgdata`; in-process runs reach it through PGVECTOR_HOST meanwhile."""
    from psycopg.conninfo import conninfo_to_dict

    from steps.config import get_settings
    from steps.embeddings.pgserver import start_embedded, stop_embedded

    uri = start_embedded(pgdata, announce=False)
    socket_dir = str(conninfo_to_dict(uri)["host"])
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("PGVECTOR_HOST", socket_dir)
            mp.setenv("PGVECTOR_USER", "postgres")
            mp.setenv("PGVECTOR_DATABASE", "postgres")
            mp.setenv("HF_HUB_OFFLINE", "1")
            get_settings.cache_clear()
            yield Pg(pgdata, socket_dir, uri)
            get_settings.cache_clear()
    finally:
        stop_embedded(pgdata)


def embed_params(tag: str, table: str, **overrides: Any):
    """EmbedParams for `tag` into `table` under TEST_PARAMS (and `overrides`)."""
    from steps.embeddings.spec import EmbedParams

    return EmbedParams(source_version=tag, table=table, **{**TEST_PARAMS, **overrides})


def auto_precision() -> str:
    """The precision an unset `precision` resolves to on this machine's CPU (bf16 or fp32)."""
    from steps.embeddings.model import resolve_precision

    return resolve_precision(None, "cpu")


def other_precision() -> str:
    """A CPU precision other than `auto_precision()`."""
    return "fp32" if auto_precision() != "fp32" else "bf16"


def expected_rows(docs: dict[str, bytes], model: str = DEFAULT_MODEL, precision: str | None = None) -> dict[str, str]:
    """{row id: content sha256} that the documented rules give for `docs` under TEST_PARAMS (precision: auto)."""
    from steps.embeddings.chunking import ChunkConfig, chunk_markdown, decode_document
    from steps.embeddings.pipeline import model_identity, row_id

    cfg = ChunkConfig(TEST_PARAMS["chunk_size"], TEST_PARAMS["chunk_overlap"], TEST_PARAMS["min_chunk_chars"], 0.5)
    identity = model_identity(model, precision or auto_precision())
    rows = {}
    for repo, data in docs.items():
        text, _ = decode_document(data)
        for piece in chunk_markdown(text, cfg) if text else []:
            if not piece.drop_reason:
                rows[row_id(identity, f"{repo}_README.md", piece.sha256)] = piece.sha256
    return rows


def clone_table(conn, src: str, dst: str) -> None:
    """Copy a pipeline table (contract DDL, named HNSW index, rows, state comment) to `dst`."""
    from psycopg import sql

    from steps.embeddings.store import describe, index_name

    info = describe(conn, src)
    s, d = sql.Identifier(src), sql.Identifier(dst)
    conn.execute(sql.SQL("CREATE TABLE {} (id uuid PRIMARY KEY, content text NOT NULL, embedding vector({}) NOT NULL,"
                         " metadata jsonb NOT NULL)").format(d, sql.Literal(info.dim)))
    conn.execute(sql.SQL("INSERT INTO {} SELECT * FROM {}").format(d, s))
    conn.execute(sql.SQL("CREATE INDEX {} ON {} USING hnsw (embedding vector_cosine_ops) WITH (m = 16,"
                         " ef_construction = 64)").format(sql.Identifier(index_name(dst)), d))
    conn.execute(sql.SQL("COMMENT ON TABLE {} IS {}").format(d, sql.Literal(json.dumps(info.state))))


def table_precisions(conn, table: str) -> set[str]:
    """The `embedding_precision` values in a table's row metadata."""
    from psycopg import sql

    query = sql.SQL("SELECT DISTINCT metadata->>'embedding_precision' FROM {}").format(sql.Identifier(table))
    return {r[0] for r in conn.execute(query).fetchall()}


def table_rows(conn, table: str) -> dict[str, tuple[str, str, list[float]]]:
    """{id: (content sha256, dvc_data_version, embedding)} of a table."""
    from psycopg import sql

    query = sql.SQL("SELECT id, metadata->>'content_sha256', metadata->>'dvc_data_version', embedding FROM {}")
    return {str(r[0]): (r[1], r[2], r[3].to_list()) for r in conn.execute(query.format(sql.Identifier(table)))}
