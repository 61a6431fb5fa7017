"""`dreg add`: curated files released under the same rules as pipelines."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from steps.cli.release import complete_dataset, in_registry
from steps.refs.versions import Bump


def add_command(
    dataset: Annotated[str, typer.Argument(metavar="DATASET", autocompletion=complete_dataset, show_default=False)],
    files: Annotated[list[Path], typer.Argument(help="Files to track (e.g. questions.csv).", show_default=False)],
    bump: Annotated[Bump, typer.Option("--bump", help="Version part to bump.")] = "patch",
    push: Annotated[bool, typer.Option("--push", help="Push the release commit and tag to origin.")] = False,
    new: Annotated[bool, typer.Option("--new", help="Create DATASET (required the first time: tags are permanent).")]
    = False,
) -> None:
    """Track curated files of DATASET (dvc add), push the data and release them as a new version."""
    from steps.release.curate import add_files

    files = [f.resolve() for f in files]  # named from where dreg was called, before it moves to the registry root
    in_registry()
    add_files(dataset, files, bump=bump, push=push, new=new)
