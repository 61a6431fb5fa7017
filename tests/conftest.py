"""Shared fixtures: scratch registries with a bare origin, a local HTTP source server, an S3 endpoint."""

from __future__ import annotations

import functools
import hashlib
import http.server
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from steps.samples import fashion_md5_params, write_sample_files
from steps.scaffold import Registry, create_registry, update_params

VENV_BIN = str(Path(sys.executable).parent)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@dataclass
class SourceServer:
    """A local HTTP server standing in for the dataset hosts; files at `<url>/<dataset>/<name>`."""

    url: str
    root: Path
    md5: dict[str, dict[str, str]]

    def file_url(self, dataset: str, name: str) -> str:
        return f"{self.url}/{dataset}/{name}"


@pytest.fixture(scope="session")
def source_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SourceServer]:
    root = tmp_path_factory.mktemp("sources")
    md5 = {d: write_sample_files(root, d) for d in ("wine-quality", "fashion-mnist")}
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield SourceServer(f"http://127.0.0.1:{server.server_address[1]}", root, md5)
    server.shutdown()


def point_sources(reg_root: Path, server: SourceServer) -> None:
    """Aim the core pipelines' params at the local source server, with that data's checksums."""
    wine = server.root / "wine-quality"
    update_params(reg_root, "wine-quality", {"download": {"sources": {
        color: {"url": server.file_url("wine-quality", f"winequality-{color}.csv"),
                "sha256": hashlib.sha256((wine / f"winequality-{color}.csv").read_bytes()).hexdigest()}
        for color in ("red", "white")}}})
    update_params(reg_root, "fashion-mnist", fashion_md5_params(server.md5["fashion-mnist"]))
    update_params(reg_root, "fashion-mnist", {"download": {"base_url": f"{server.url}/fashion-mnist/"}})


def commit_all(root: Path, message: str) -> None:
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(["git", "commit", "-q", "-m", message], cwd=root, check=True)


@pytest.fixture
def registry(tmp_path: Path, source_server: SourceServer) -> Registry:
    """A fresh registry whose core pipelines download from the local source server."""
    reg = create_registry(tmp_path)
    point_sources(reg.root, source_server)
    commit_all(reg.root, "Use local sources")
    subprocess.run(["git", "push", "-q", "origin", "main"], cwd=reg.root, check=True)
    return reg


def cli_env(**extra: str) -> dict[str, str]:
    """Environment for running `dreg` in a subprocess: this venv first, no inherited registry settings."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DREG_", "DVC_", "ARGO_", "DOCKER_IMAGE", "MLFLOW_", "PGVECTOR_"))}
    env.update(PATH=VENV_BIN + os.pathsep + env.get("PATH", ""), DREG_DOWNLOAD_BACKOFF="0",
               DREG_DOWNLOAD_RETRIES="2", DVC_NO_ANALYTICS="1", **extra)
    return env


def run_dreg(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real `dreg` CLI in `cwd`."""
    return subprocess.run([str(Path(VENV_BIN) / "dreg"), *args], cwd=cwd, capture_output=True, text=True,
                          env=env or cli_env(), check=False)


@pytest.fixture
def dreg(registry: Registry):
    """`dreg(*args, **env)` runs the CLI in the registry and returns the completed process."""

    def call(*args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
        return run_dreg(cwd or registry.root, *args, env=cli_env(**env))

    return call


def tags(repo: Path) -> list[str]:
    """Tags of a repo (work tree or bare)."""
    out = subprocess.run(["git", "tag", "--list"], cwd=repo, capture_output=True, text=True, check=True).stdout
    return sorted(out.split())


@dataclass
class S3Endpoint:
    url: str
    bucket: str


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[S3Endpoint]:
    """A real S3 HTTP endpoint (moto server) on 127.0.0.1 with an empty bucket."""
    import boto3
    from moto.server import ThreadedMotoServer

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    boto3.client("s3", endpoint_url=url, region_name="us-east-1").create_bucket(Bucket="registry")
    yield S3Endpoint(url, "registry")
    server.stop()
