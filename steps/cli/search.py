"""`dreg search`: ranked chunks of the embeddings table for a query."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from steps import layout
from steps.cli.output import JsonFlag, make_console, print_json

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
    query: Annotated[str, typer.Argument(help="What to look for, in plain words.", show_default=False)],
    k: Annotated[int, typer.Option("--k", min=1, max=100, help="How many chunks to show.")] = 5,
    table: Annotated[str | None, typer.Option("--table", help="Table to search (default: embed.table).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Embed QUERY with the table's model and print the closest chunks (score, repo, file, section, text).

    Reads the registry's embedded PostgreSQL (started for this search, stopped after it; never created here) or the
    server in PGVECTOR_HOST."""
    from steps.config import get_settings
    from steps.embeddings.db import connect, pg_target
    from steps.embeddings.query import search
    from steps.embeddings.spec import check_table_name

    if table and get_settings().pgvector_host:
        root = Path.cwd()  # a named table on a configured server: no registry needed
    else:
        from steps.cli.release import in_registry

        root = in_registry()
    name = check_table_name(table or configured_table(root))
    conn = connect(pg_target(root, announce=False, create=False))
    try:
        hits = search(conn, name, query, k)
    finally:
        conn.close()
    if as_json:
        print_json({"query": query, "table": name, "k": k,
                    "hits": [{"rank": rank, "score": hit.score, "content": hit.content, "metadata": hit.metadata}
                             for rank, hit in enumerate(hits, 1)]})
        return
    out = Table("#", "score", "repo", "file", "section", "text")
    for rank, hit in enumerate(hits, 1):
        m = hit.metadata
        section = " > ".join(str(m[h]) for h in ("section_h1", "section_h2", "section_h3") if m.get(h))
        out.add_row(str(rank), f"{hit.score:.3f}", str(m.get("source_repo", "")), str(m.get("source_file", "")),
                    section, first_lines(hit.content))
    console.print(out)
