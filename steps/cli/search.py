"""`dreg search`: ranked chunks of the embeddings table for a query."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from steps import layout

EMBEDDINGS_DATASET = "opencloudhub-readmes-embeddings"
DEFAULT_TABLE = "readme_embeddings"
console = Console(highlight=False)


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
    query: Annotated[str, typer.Argument(help="What to look for, in plain words.")],
    k: Annotated[int, typer.Option("--k", min=1, max=100, help="How many chunks to show.")] = 5,
    table: Annotated[str | None, typer.Option("--table", help="Table to search (default: embed.table).")] = None,
) -> None:
    """Embed QUERY with the table's model and print the closest chunks (score, repo, file, section, text)."""
    from steps.embeddings.db import connect, pg_target
    from steps.embeddings.query import search
    from steps.embeddings.spec import check_table_name

    root = Path.cwd()
    name = check_table_name(table or configured_table(root))
    conn = connect(pg_target(root, announce=False))
    try:
        hits = search(conn, name, query, k)
    finally:
        conn.close()
    out = Table("#", "score", "repo", "file", "section", "text")
    for rank, hit in enumerate(hits, 1):
        m = hit.metadata
        section = " > ".join(str(m[h]) for h in ("section_h1", "section_h2", "section_h3") if m.get(h))
        out.add_row(str(rank), f"{hit.score:.3f}", str(m.get("source_repo", "")), str(m.get("source_file", "")),
                    section, first_lines(hit.content))
    console.print(out)
