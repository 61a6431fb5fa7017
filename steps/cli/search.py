"""`dreg search`: ranked chunks of the embeddings table for a query."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from steps import layout
from steps.cli.output import JsonFlag, make_console, print_json
from steps.cli.release import in_registry
from steps.errors import DregError

EMBEDDINGS_DATASET = "opencloudhub-readmes-embeddings"
DEFAULT_TABLE = "readme_embeddings"
console = make_console()


def configured_table(root: Path) -> str:
    """`embed.table` of the embeddings pipeline's params.yaml, else the default table name."""
    from steps.kit.params import read_params_file

    path = root / layout.params_yaml(EMBEDDINGS_DATASET)
    embed = read_params_file(path).get("embed", {}) if path.exists() else {}
    return str(embed.get("table") or DEFAULT_TABLE) if isinstance(embed, dict) else DEFAULT_TABLE


def first_lines(text: str, lines: int = 2, width: int = 160) -> str:
    kept = [line.strip() for line in text.splitlines() if line.strip()][:lines]
    joined = " / ".join(kept)
    return joined if len(joined) <= width else joined[: width - 1] + "…"


def search_command(
    query: Annotated[str, typer.Argument(help="What to look for, in plain words.", show_default=False)] = "",
    k: Annotated[int, typer.Option("--k", min=1, max=100, help="How many chunks to show.")] = 5,
    table: Annotated[str | None, typer.Option("--table", help="Table to search (default: embed.table).")] = None,
    as_json: JsonFlag = False,
    serve: Annotated[bool, typer.Option("--serve", help="Keep the model and the database up and answer searches "
                                        "on a socket in .dreg/ (later `dreg search` calls use it).")] = False,
    idle: Annotated[float, typer.Option("--idle", min=1, help="With --serve: stop after this many idle seconds.")]
    = 900,
) -> None:
    """Embed QUERY with the table's model and print the closest chunks (score, repo, file, section, text).

    Reads the registry's embedded PostgreSQL (started for this search, stopped after it; never created here) or the
    server in PGVECTOR_HOST. A server started with `dreg search --serve` in this registry answers instead, with the
    model already loaded."""
    from steps.embeddings.serve import ask

    root = Path.cwd() if table and pgvector_host() else in_registry()  # a named table on a server: no registry
    reply = None
    if not serve:
        if not query.strip():
            raise DregError("empty query", "pass the text to search for")
        reply = ask({"query": query, "k": k, "table": table})  # a `--serve` server here: no model load at all
        if reply is not None and "error" in reply:
            raise DregError(str(reply["error"]), reply.get("hint"))
    if reply is not None:
        name, hits = str(reply["table"]), [(h["score"], h["content"], h["metadata"]) for h in reply["hits"]]
    else:
        from steps.embeddings.spec import check_table_name

        name = check_table_name(table or configured_table(root))
        if serve:
            from steps.embeddings.serve import serve as serve_searches

            serve_searches(root, name, idle)
            return
        hits = searched(root, name, query, k)
    if as_json:
        print_json({"query": query, "table": name, "k": k,
                    "hits": [{"rank": rank, "score": score, "content": content, "metadata": meta}
                             for rank, (score, content, meta) in enumerate(hits, 1)]})
        return
    out = Table("#", "score", "repo", "file", "section", "text")
    for rank, (score, content, m) in enumerate(hits, 1):
        section = " > ".join(str(m[h]) for h in ("section_h1", "section_h2", "section_h3") if m.get(h))
        out.add_row(str(rank), f"{score:.3f}", str(m.get("source_repo", "")), str(m.get("source_file", "")),
                    section, first_lines(content))
    console.print(out)


def pgvector_host() -> str | None:
    """PGVECTOR_HOST from the settings (loaded only when a command names a table)."""
    from steps.config import get_settings

    return get_settings().pgvector_host


def searched(root: Path, table: str, query: str, k: int) -> list[tuple[float, str, dict[str, Any]]]:
    """(score, content, metadata) of the top-k chunks, searched in this process (database started, model loaded)."""
    from steps.embeddings.db import connect, pg_target
    from steps.embeddings.query import search

    conn = connect(pg_target(root, announce=False, create=False))
    try:
        return [(hit.score, hit.content, hit.metadata) for hit in search(conn, table, query, k)]
    finally:
        conn.close()
