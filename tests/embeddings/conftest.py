"""Fixtures for the embeddings tests: one embedded pgvector server and one in-process Ray per session,
and a scratch registry holding two releases of the readmes dataset (v1.0.0, v1.1.0)."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from steps.embeddings.params import DEFAULT_MODEL
from steps.scaffold import Registry, create_registry
from tests.conftest import VENV_BIN, commit_all
from tests.embeddings.corpus import V1, V2

SOURCE = "opencloudhub-readmes-download"
DATASET = "opencloudhub-readmes-embeddings"
V1_TAG, V2_TAG = f"{SOURCE}-v1.0.0", f"{SOURCE}-v1.1.0"
TEST_PARAMS = {"chunk_size": 400, "chunk_overlap": 40, "min_chunk_chars": 30, "batch_size": 16}


def release_readmes(reg: Registry, docs: dict[str, bytes], tag: str, missing: tuple[str, ...] = ()) -> None:
    """Publish a readmes release by hand: raw/<repo>_README.md + manifest.json, `dvc add`, push, commit, tag.

    `missing` repos are listed in the manifest without a file (a broken release the pipeline must survive)."""
    raw = reg.root / "data" / SOURCE / "raw"
    shutil.rmtree(raw, ignore_errors=True)
    raw.mkdir(parents=True)
    files = []
    for repo, data in sorted(docs.items()):
        name = f"{repo}_README.md"
        (raw / name).write_bytes(data)
        files.append({"repo": repo, "file": name, "default_branch": "main",
                      "sha": hashlib.sha1(data + repo.encode()).hexdigest(),
                      "url": f"https://github.com/opencloudhub/{repo}", "sha256": hashlib.sha256(data).hexdigest()})
    files += [{"repo": repo, "file": f"{repo}_README.md", "default_branch": "main", "sha": "0" * 40,
               "url": f"https://github.com/opencloudhub/{repo}", "sha256": None} for repo in missing]
    files.sort(key=lambda f: f["repo"])
    (raw / "manifest.json").write_text(json.dumps({"files": files}, indent=2))
    dvc = str(Path(VENV_BIN) / "dvc")
    subprocess.run([dvc, "add", "-q", f"data/{SOURCE}/raw"], cwd=reg.root, check=True)
    subprocess.run([dvc, "push", "-q", "-r", "local"], cwd=reg.root, check=True)
    commit_all(reg.root, f"{SOURCE} {tag}")
    subprocess.run(["git", "tag", "-a", tag, "-m", tag], cwd=reg.root, check=True)
    subprocess.run(["git", "push", "-q", "origin", "main", tag], cwd=reg.root, check=True)


def make_source_registry(base: Path) -> Registry:
    """A registry whose origin has readmes releases V1_TAG and V2_TAG (and no download pipeline to clash with)."""
    reg = create_registry(base)
    shutil.rmtree(reg.root / "pipelines" / SOURCE, ignore_errors=True)
    release_readmes(reg, V1, V1_TAG, missing=("ghost-repo",))
    release_readmes(reg, V2, V2_TAG)
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


@pytest.fixture(scope="session")
def pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pg]:
    """One embedded PostgreSQL + pgvector for the session; in-process runs reach it through PGVECTOR_HOST."""
    from psycopg.conninfo import conninfo_to_dict

    from steps.config import get_settings
    from steps.embeddings.pgserver import start_embedded, stop_embedded

    pgdata = tmp_path_factory.mktemp("pg") / "data"
    uri = start_embedded(pgdata, announce=False)
    socket_dir = str(conninfo_to_dict(uri)["host"])
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PGVECTOR_HOST", socket_dir)
        mp.setenv("PGVECTOR_USER", "postgres")
        mp.setenv("PGVECTOR_DATABASE", "postgres")
        mp.setenv("HF_HUB_OFFLINE", "1")
        get_settings.cache_clear()
        yield Pg(pgdata, socket_dir, uri)
        get_settings.cache_clear()
    stop_embedded(pgdata)


@pytest.fixture(scope="session")
def ray_local() -> Iterator[None]:
    """A small in-process Ray shared by the in-process pipeline runs."""
    import logging

    import ray

    ray.init(num_cpus=2, object_store_memory=200 * 2**20, include_dashboard=False, logging_level=logging.WARNING)
    yield
    ray.shutdown()


@pytest.fixture(scope="session")
def sources(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    return make_source_registry(tmp_path_factory.mktemp("sources"))


def embed_params(tag: str, table: str, **overrides: Any):
    from steps.embeddings.params import EmbedParams

    return EmbedParams(source_version=tag, table=table, **{**TEST_PARAMS, **overrides})


@pytest.fixture(scope="session")
def embed(pg: Pg, ray_local: None, sources: Registry, tmp_path_factory: pytest.TempPathFactory):
    """`embed(tag, table, **params)` runs the embed stage in-process against the session's server."""
    from steps.embeddings.job import run_embed

    def call(tag: str, table: str, **overrides: Any) -> dict[str, Any]:
        work = tmp_path_factory.mktemp("work")
        return run_embed(DATASET, embed_params(tag, table, **overrides), work, source_repo=str(sources.origin))

    return call


@pytest.fixture(scope="session")
def v1_table(embed, pg: Pg) -> tuple[str, dict[str, Any]]:
    """Table `readmes_v1` holding the v1.0.0 set (built once); tests that change a table clone it first."""
    return "readmes_v1", embed(V1_TAG, "readmes_v1")


def expected_rows(docs: dict[str, bytes], model: str = DEFAULT_MODEL) -> dict[str, str]:
    """{row id: content sha256} that the documented rules give for `docs` under TEST_PARAMS."""
    from steps.embeddings.chunking import ChunkConfig, chunk_markdown, decode_document
    from steps.embeddings.pipeline import row_id

    cfg = ChunkConfig(TEST_PARAMS["chunk_size"], TEST_PARAMS["chunk_overlap"], TEST_PARAMS["min_chunk_chars"], 0.5)
    rows = {}
    for repo, data in docs.items():
        text, _ = decode_document(data)
        for piece in chunk_markdown(text, cfg) if text else []:
            if not piece.drop_reason:
                rows[row_id(model, f"{repo}_README.md", piece.sha256)] = piece.sha256
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


def table_rows(conn, table: str) -> dict[str, tuple[str, str, list[float]]]:
    """{id: (content sha256, dvc_data_version, embedding)} of a table."""
    from psycopg import sql

    query = sql.SQL("SELECT id, metadata->>'content_sha256', metadata->>'dvc_data_version', embedding FROM {}")
    return {str(r[0]): (r[1], r[2], r[3].to_list()) for r in conn.execute(query.format(sql.Identifier(table)))}
