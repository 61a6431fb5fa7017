"""Fixtures for the seed datasets (built from tests/support): their sample sources on the local HTTP source
server, and a real MLflow server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from steps.dev.scaffold import Registry
from tests.support.registry import use_sources
from tests.support.servers import MlflowServer, SourceServer, answers_health, serve_sources, start_mlflow
from tests.support.sources import point_dataset_sources, write_dataset_sources

MLFLOW_BOOT_S = 120


@pytest.fixture(scope="session")
def dataset_sources(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SourceServer]:
    """emotion (good and broken variants) and roco-radiology shards at `<url>/<folder>/<file>`."""
    with serve_sources(tmp_path_factory.mktemp("dataset-sources"), write_dataset_sources) as server:
        yield server


@pytest.fixture
def registry(registry: Registry, dataset_sources: SourceServer) -> Registry:
    """The core registry, with emotion and roco-radiology pointed at the local sources (small sizes)."""
    use_sources(registry.root, dataset_sources, point_dataset_sources, "Use local dataset sources")
    return registry


@pytest.fixture(scope="session")
def mlflow_boot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    """Start a real `mlflow server` (SQLite backend) without waiting: it boots while the tests before it run."""
    with start_mlflow(tmp_path_factory.mktemp("mlflow-server")) as server:
        yield server


@pytest.fixture
def mlflow_server(mlflow_boot: MlflowServer) -> MlflowServer:
    """The real MLflow server, once it answers /health."""
    if not answers_health(mlflow_boot, MLFLOW_BOOT_S):
        pytest.fail(f"mlflow server did not answer within {MLFLOW_BOOT_S}s")
    return mlflow_boot
