"""Fixtures for the seed datasets (built from tests/support): their sample sources on the local HTTP source
server (the real MLflow server is in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from steps.dev.scaffold import Registry
from tests.support.registry import use_sources
from tests.support.servers import SourceServer, serve_sources
from tests.support.sources import point_dataset_sources, write_dataset_sources


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
