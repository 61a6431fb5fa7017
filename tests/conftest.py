"""Shared fixtures (built from tests/support): scratch registries on a local source server, the `dreg` CLI,
an S3 endpoint, a real MLflow server."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from steps.dev.scaffold import Registry
from tests.support.registry import cli_env, local_registry, run_dreg
from tests.support.servers import (
    MlflowServer,
    S3Endpoint,
    SourceServer,
    answers_health,
    seaweed_s3,
    serve_sources,
    start_mlflow,
)
from tests.support.sources import write_core_sources

MLFLOW_BOOT_S = 120


@pytest.fixture(scope="session")
def source_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SourceServer]:
    """wine-quality and fashion-mnist samples on the local HTTP source server, for the session."""
    with serve_sources(tmp_path_factory.mktemp("sources"), write_core_sources) as server:
        yield server


@pytest.fixture
def registry(tmp_path: Path, source_server: SourceServer) -> Registry:
    """A fresh registry whose core pipelines download from the local source server."""
    return local_registry(tmp_path, source_server)


@pytest.fixture
def dreg(registry: Registry) -> Callable[..., subprocess.CompletedProcess[str]]:
    """`dreg(*args, **env)` runs the CLI in the registry and returns the completed process."""

    def call(*args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
        return run_dreg(cwd or registry.root, *args, env=cli_env(**env))

    return call


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[S3Endpoint]:
    """A real S3 server (SeaweedFS) on 127.0.0.1 with an empty bucket; the session's AWS credentials are its
    one identity (testing/testing), so a request signed with other keys is refused as on a real store."""
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
    with seaweed_s3(key="testing", secret="testing") as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def ray_local(s3_endpoint: S3Endpoint) -> Iterator[None]:
    """The one in-process Ray of a test session (a process can hold only one), started after the S3 endpoint
    so its workers inherit the S3 credentials from the environment, as cluster workers do."""
    import logging

    import ray
    from ray.data import DataContext

    ray.init(num_cpus=2, object_store_memory=200 * 2**20, include_dashboard=False, logging_level=logging.WARNING)
    DataContext.get_current().enable_progress_bars = False
    yield
    ray.shutdown()


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
