"""Connections to PostgreSQL: the configured server (`PGVECTOR_*`) or the embedded one."""

from __future__ import annotations

import atexit
from dataclasses import dataclass
from pathlib import Path

from steps.config import get_credentials, get_settings
from steps.errors import DregError

APP_NAME = "dreg-embeddings"


@dataclass(frozen=True)
class PgTarget:
    """Where the vectors live: a libpq connection string and a description without secrets."""

    conninfo: str
    where: str


def pg_target(root: Path, announce: bool = True, create: bool = True) -> PgTarget:
    """`PGVECTOR_HOST` (+ port, user, database, password) when set; else the embedded server of `root`.

    The embedded server runs while this process uses it; with `create` false a missing data folder is an error
    (readers such as `dreg search` never create one). In a throwaway rebuild (`DREG_SCRATCH`, set by `dreg verify`)
    the vectors never reach the configured server: an embedded one under the scratch folder serves this process."""
    from psycopg.conninfo import make_conninfo

    s = get_settings()
    if s.scratch:
        return scratch_target(announce)
    if s.pgvector_host:
        secret = get_credentials().pgvector_password
        conninfo = make_conninfo(host=s.pgvector_host, port=s.pgvector_port, user=s.pgvector_user,
                                 dbname=s.pgvector_database, password=secret.get_secret_value() if secret else None)
        return PgTarget(conninfo, f"{s.pgvector_user}@{s.pgvector_host}:{s.pgvector_port}/{s.pgvector_database}")
    from steps.embeddings.pgserver import pgdata_path, start_embedded

    pgdata = pgdata_path(root)
    if not create and not (pgdata / "PG_VERSION").is_file():
        raise DregError(f"no embedded PostgreSQL in {pgdata}: nothing has been embedded here yet",
                        "run `dreg run opencloudhub-readmes-embeddings` first, or set PGVECTOR_HOST to use a server")
    return PgTarget(start_embedded(pgdata, announce=announce), f"embedded PostgreSQL in {pgdata}")


def connect(target: PgTarget, app: str = APP_NAME, vector: bool = True):
    """An autocommit connection with the pgvector types registered (the extension is created if missing)."""
    import psycopg

    try:
        conn = psycopg.connect(target.conninfo, autocommit=True, application_name=app, connect_timeout=10)
    except psycopg.Error as exc:
        raise DregError(f"cannot connect to PostgreSQL ({target.where}): {str(exc).strip().splitlines()[0]}",
                        "check PGVECTOR_HOST/PORT/USER/DATABASE and PGVECTOR_PASSWORD, "
                        "or unset PGVECTOR_HOST") from None
    if vector:
        ensure_vector(conn, target)
    return conn


def ensure_vector(conn, target: PgTarget) -> None:
    """Create the `vector` extension if needed and register its Python types on `conn`."""
    import psycopg
    from pgvector.psycopg import register_vector

    try:
        if conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'").fetchone() is None:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        register_vector(conn)
    except psycopg.Error as exc:
        conn.close()
        raise DregError(f"pgvector is not available on {target.where}: {str(exc).strip().splitlines()[0]}",
                        "install pgvector on the server, or have an admin run CREATE EXTENSION vector") from None


def scratch_target(announce: bool) -> PgTarget:
    """The embedded server of the current scratch folder, stopped when this process exits."""
    from steps.embeddings.pgserver import pgdata_path, start_embedded, stop_embedded

    pgdata = pgdata_path(Path.cwd())
    uri = start_embedded(pgdata, announce=announce)
    atexit.register(stop_embedded, pgdata)
    return PgTarget(uri, f"throwaway embedded PostgreSQL in {pgdata}")
