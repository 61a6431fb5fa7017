"""Fixtures for the embeddings tests (built from tests/support): one embedded pgvector server and one in-process
Ray per session, and a scratch registry holding two releases of the readmes dataset (v1.0.0, v1.1.0)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from steps.dev.scaffold import Registry
from tests.support.embeddings import DATASET, V1_TAG, Pg, embed_params, embedded_pg, make_source_registry


@pytest.fixture(scope="session")
def pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pg]:
    """One embedded PostgreSQL + pgvector for the session; in-process runs reach it through PGVECTOR_HOST."""
    with embedded_pg(tmp_path_factory.mktemp("pg") / "data") as server:
        yield server


@pytest.fixture(scope="session")
def sources(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    """The source registry: readmes releases V1_TAG and V2_TAG on its origin."""
    return make_source_registry(tmp_path_factory.mktemp("sources"))


@pytest.fixture(scope="session")
def embed(pg: Pg, ray_local: None, sources: Registry,
          tmp_path_factory: pytest.TempPathFactory) -> Callable[..., dict[str, Any]]:
    """`embed(tag, table, **params)` runs the embed stage in-process against the session's server."""
    from steps.embeddings.job import run_embed

    def call(tag: str, table: str, **overrides: Any) -> dict[str, Any]:
        work = tmp_path_factory.mktemp("work")
        return run_embed(DATASET, embed_params(tag, table, **overrides), work, source_repo=str(sources.origin))

    return call


@pytest.fixture(scope="session")
def v1_table(embed: Callable[..., dict[str, Any]], pg: Pg) -> tuple[str, dict[str, Any]]:
    """Table `readmes_v1` holding the v1.0.0 set (built once); tests that change a table clone it first."""
    return "readmes_v1", embed(V1_TAG, "readmes_v1")
