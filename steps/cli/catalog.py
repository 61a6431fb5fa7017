"""`dreg catalog build`: the browsable catalogue, a static HTML site of the registry's releases."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from steps.cli.output import make_console

console = make_console()
catalog_app = typer.Typer(help="The browsable catalogue: a static HTML site of the registry's releases.",
                          no_args_is_help=True)


@catalog_app.command("build")
def build_cmd(
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder to write the site into.")]
    = Path("build/catalog"),
    repo: Annotated[str | None, typer.Option("--repo", help="Registry to read (git URL or path); default: this "
                                                            "checkout.")] = None,
) -> None:
    """Render index, dataset pages, cards, lineage graphs, plots and drift from the release tags."""
    from steps.catalog.build import build_site

    output = output.resolve()  # named from where dreg was called
    if repo is None:
        from steps.cli.release import in_registry

        in_registry()
    index, count = build_site(output, repo, Path.cwd())
    console.print(f"catalogue of {count} dataset(s): {index}", soft_wrap=True)
