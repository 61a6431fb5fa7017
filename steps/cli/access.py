"""`dreg get` and `dreg ls`: a version's data files, read at its release tag (this checkout or `--repo`) through
the one registry handle, like `dvc get`/`dvc list` with the dataset grammar; every file md5-checked, all or nothing."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from steps.cli.output import JsonFlag, RepoOption, console, plain, print_json
from steps.cli.release import RefArg, reading
from steps.output import err_console

PathArg = Annotated[str, typer.Argument(metavar="[PATH]", help="A file or folder under data/DATASET/ (default: all "
                                                               "the version's data).", show_default=False)]


def ls_command(ref: RefArg, path: PathArg = "", repo: RepoOption = None, as_json: JsonFlag = False) -> None:
    """List a version's data files with their sizes and released md5."""
    with reading(repo) as reg:
        release = reg.resolve(ref)
        files = reg.files(release, path)
    if as_json:
        print_json({"dataset": release.dataset, "version": release.version, "tag": release.tag, "repo": repo,
                    "files": [{"path": f.path, "size": f.size, "md5": f.md5} for f in files]})
        return
    table = Table("path", "size", "md5", title=plain(release.tag))
    for f in files:
        table.add_row(plain(f.path), "-" if f.size is None else f"{f.size:,}", f.md5 or "-")
    console.print(table)


def get_command(
    ref: RefArg,
    path: PathArg = "",
    out: Annotated[Path, typer.Option("-o", "--out", help="Folder to write into (the file or folder keeps its "
                                                          "name).", show_default=False)] = Path("."),
    force: Annotated[bool, typer.Option("--force", help="Replace what is already there.")] = False,
    repo: RepoOption = None,
) -> None:
    """Download a file or all of a version's data, each file checked against its released md5 (all or nothing)."""
    out = out.resolve()  # named from where dreg was called, before it moves to the registry root
    with reading(repo) as reg, progress_bar() as progress:
        release = reg.resolve(ref)
        target = reg.download(release, path, out, force=force, progress=progress)
    console.print(plain(f"{release.tag}: wrote {target}"), soft_wrap=True)


@contextlib.contextmanager
def progress_bar() -> Iterator[Callable[[int, int | None], None] | None]:
    """A Rich download bar on stderr (bytes, speed, time left) when stderr is a terminal; None (nothing printed)
    in a pipe or a log."""
    if not err_console.is_terminal:
        yield None
        return
    columns = (TextColumn("downloading"), BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err_console) as bar:
        task = bar.add_task("download", total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)
