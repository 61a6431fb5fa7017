"""`dreg search --serve`: one process keeps the database connection and the table's query model, answering
searches on a Unix socket in the registry's state folder; `dreg search` asks it first, so a fresh command pays no
model load (and no `torch` import)."""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from steps import layout
from steps.errors import DregError
from steps.output import err_console as console

LIMIT = 1 << 20  # one request or reply line, at most 1 MiB


def socket_path() -> Path:
    """The server's socket, relative to the registry root (every registry command runs there): a Unix socket path
    is limited to 107 bytes, and a registry's absolute path may be longer."""
    return Path(layout.STATE) / "search.sock"


def ask(request: dict[str, Any], timeout: float = 120.0) -> dict[str, Any] | None:
    """The server's reply to `request`, or None when no server listens (no socket, a stale one, or it went away)."""
    path = socket_path()
    if not path.is_socket():
        return None
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(str(path))
            sock.sendall(json.dumps(request).encode() + b"\n")
            with sock.makefile("rb") as reply:
                line = reply.readline(LIMIT)
        except (ConnectionRefusedError, FileNotFoundError, ConnectionResetError, BrokenPipeError):
            return None
    return json.loads(line) if line else None


def answer(line: bytes, search: Callable[[str, str, int], list[Any]], default_table: str) -> dict[str, Any]:
    """The reply to one request line: {"table", "hits"}, or {"error", "hint"} (a refusal, as `dreg search` says it)."""
    try:
        request = json.loads(line)
        table, query, k = str(request.get("table") or default_table), str(request["query"]), int(request.get("k", 5))
    except (ValueError, KeyError, TypeError, AttributeError):
        return {"error": "bad request to the search server", "hint": "send one JSON line: {\"query\": …, \"k\": 5}"}
    try:
        hits = search(table, query, k)
    except DregError as exc:
        return {"error": exc.message, "hint": exc.hint}
    return {"table": table, "hits": [{"score": h.score, "content": h.content, "metadata": h.metadata} for h in hits]}


@contextlib.contextmanager
def listening(path: Path) -> Iterator[socket.socket]:
    """A Unix socket listening on `path`, mode 0600 (a stale socket is replaced, a live one refused); removed at
    the end."""
    if ask({"query": " "}, timeout=5) is not None:
        raise DregError(f"a search server already answers on {path}", "use it, or stop it first (Ctrl-C)")
    path.unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        sock.bind(str(path))
    finally:
        os.umask(old)
    sock.listen(8)
    try:
        yield sock
    finally:
        sock.close()
        path.unlink(missing_ok=True)


def serve(root: Path, default_table: str, idle_s: float) -> None:
    """Answer searches one at a time until `idle_s` seconds pass without one, or SIGINT/SIGTERM; the model loads on
    the first search."""
    from steps.embeddings.db import connect, pg_target
    from steps.embeddings.query import search
    from steps.embeddings.spec import check_table_name

    conn = connect(pg_target(root, announce=False, create=False))
    stop = False

    def searching(table: str, query: str, k: int) -> list[Any]:
        return search(conn, check_table_name(table), query, k)

    def ended(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, ended)
    try:
        with listening(socket_path()) as sock:
            console.print(f"serving searches on {root / socket_path()} (table {default_table} unless asked); stops "
                          f"after {idle_s:g} s idle or on Ctrl-C", markup=False, highlight=False)
            last = time.monotonic()
            while not stop and time.monotonic() - last < idle_s:
                if not select.select([sock], [], [], 1.0)[0]:
                    continue
                client, _ = sock.accept()
                start = time.perf_counter()
                with client, client.makefile("rwb") as stream:
                    reply = answer(stream.readline(LIMIT), searching, default_table)
                    with contextlib.suppress(OSError):
                        stream.write(json.dumps(reply).encode() + b"\n")
                        stream.flush()
                said = f" — {reply['error']}" if "error" in reply else ""
                console.print(f"answered in {(time.perf_counter() - start) * 1000:.0f} ms: "
                              f"{len(reply.get('hits', []))} hit(s){said}", markup=False, highlight=False)
                last = time.monotonic()
    except KeyboardInterrupt:
        pass
    finally:
        conn.close()
    console.print("search server stopped", markup=False, highlight=False)
