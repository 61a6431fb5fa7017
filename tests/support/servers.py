"""Local servers for the tests: the one HTTP source server, a moto S3 endpoint and a real MLflow server."""

from __future__ import annotations

import functools
import http.server
import os
import re
import signal
import socket
import subprocess
import sys
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


@contextmanager
def moto_s3(bucket: str = "registry") -> Iterator[S3Endpoint]:
    """A real S3 HTTP endpoint (moto server) on 127.0.0.1 with an empty `bucket`, until the block ends."""
    import boto3
    from moto.server import ThreadedMotoServer

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    try:
        boto3.client("s3", endpoint_url=url, region_name="us-east-1").create_bucket(Bucket=bucket)
        yield S3Endpoint(url, bucket)
    finally:
        server.stop()


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
