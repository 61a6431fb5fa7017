"""Fixtures for the seed datasets: their sample sources on a local HTTP server, and a real MLflow server."""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import requests

from steps.samples import write_sample_files
from steps.scaffold import Registry, update_params
from tests.conftest import QuietHandler, SourceServer, commit_all, free_port

EMOTION_FILE = "emotions_dataset.parquet"
ROCO_FILE = "train-00000-of-00001.parquet"
MLFLOW_BOOT_S = 120


def emotion_variant(good: bytes, kind: str) -> bytes:
    """A broken copy of the emotion source: an empty text, an unknown label, or a class with one row."""
    frame = pq.read_table(io.BytesIO(good)).to_pandas()
    if kind == "empty":
        frame.loc[3, "Sentence"] = "   "
    elif kind == "unknown":
        frame.loc[5, "Label"] = "boredom"
    elif kind == "rare":
        rare = frame.index[frame["Label"] == "desire"]
        frame = frame.drop(rare[1:]).reset_index(drop=True)
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), buf)
    return buf.getvalue()


@pytest.fixture(scope="session")
def dataset_sources(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SourceServer]:
    """emotion (good and broken variants) and roco-radiology shards at `<url>/<folder>/<file>`."""
    root = tmp_path_factory.mktemp("dataset-sources")
    md5 = {"emotion": write_sample_files(root, "emotion", size=400, seed=1),
           "roco-radiology": write_sample_files(root, "roco-radiology", size=40, seed=1)}
    good = (root / "emotion" / EMOTION_FILE).read_bytes()
    for kind in ("empty", "unknown", "rare"):
        (root / f"emotion-{kind}").mkdir()
        (root / f"emotion-{kind}" / EMOTION_FILE).write_bytes(emotion_variant(good, kind))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield SourceServer(f"http://127.0.0.1:{server.server_address[1]}", root, md5)
    server.shutdown()


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def registry(registry: Registry, dataset_sources: SourceServer) -> Registry:
    """The core registry, with emotion and roco-radiology pointed at the local sources (small sizes)."""
    src = dataset_sources
    update_params(registry.root, "emotion", {"download": {
        "url": src.file_url("emotion", EMOTION_FILE), "sha256": sha256_of(src.root / "emotion" / EMOTION_FILE)}})
    update_params(registry.root, "roco-radiology", {
        "download": {"url": src.file_url("roco-radiology", ROCO_FILE),
                     "sha256": sha256_of(src.root / "roco-radiology" / ROCO_FILE)},
        "process": {"num_samples": 30, "test_fraction": 0.2}})
    commit_all(registry.root, "Use local dataset sources")
    subprocess.run(["git", "push", "-q", "origin", "main"], cwd=registry.root, check=True)
    return registry


@dataclass
class MlflowServer:
    url: str
    process: subprocess.Popen


@pytest.fixture(scope="session")
def mlflow_boot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    """Start a real `mlflow server` (SQLite backend) without waiting: it boots while the tests before it run."""
    base = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    with open(base / "server.log", "wb") as log:
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "mlflow"), "server", "--backend-store-uri",
             f"sqlite:///{base}/mlflow.db", "--default-artifact-root", str(base / "artifacts"),
             "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )
    yield MlflowServer(f"http://127.0.0.1:{port}", proc)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


@pytest.fixture
def mlflow_server(mlflow_boot: MlflowServer) -> MlflowServer:
    """The real MLflow server, once it answers /health."""
    deadline = time.monotonic() + MLFLOW_BOOT_S
    while time.monotonic() < deadline:
        assert mlflow_boot.process.poll() is None, "mlflow server exited during start-up"
        try:
            if requests.get(f"{mlflow_boot.url}/health", timeout=2).ok:
                return mlflow_boot
        except requests.ConnectionError:
            pass
        time.sleep(0.5)
    pytest.fail(f"mlflow server did not answer within {MLFLOW_BOOT_S}s")
