"""`dreg get` and `dreg ls`: a version's data files, read at its release tag (this checkout or `--repo`), like
`dvc get`/`dvc list` with the dataset grammar; every file md5-checked, nothing partial left behind."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from steps.cli.output import JsonFlag, RepoOption, make_console, print_json
from steps.cli.release import RefArg, in_registry
from steps.registry.versions import Version, resolve_ref

console = make_console()

PathArg = Annotated[str, typer.Argument(metavar="[PATH]", help="A file or folder under data/DATASET/ (default: all "
                                                               "the version's data).", show_default=False)]


def locate(ref: str, repo: str | None) -> tuple[Version, str]:
    """The version `ref` names and the registry (path or URL) its data is read from."""
    if repo is not None:
        return resolve_ref(ref, repo=repo), repo
    root = in_registry()
    return resolve_ref(ref, root), str(root)


def ls_command(ref: RefArg, path: PathArg = "", repo: RepoOption = None, as_json: JsonFlag = False) -> None:
    """List a version's data files with their sizes and released md5."""
    from steps.registry.remote import list_files, version_fs

    v, source = locate(ref, repo)
    files = list_files(version_fs(v.tag, source), v.dataset, path)
    if as_json:
        print_json({"dataset": v.dataset, "version": v.semver, "tag": v.tag, "repo": repo,
                    "files": [{"path": f.path, "size": f.size, "md5": f.md5} for f in files]})
        return
    table = Table("path", "size", "md5", title=v.tag)
    for f in files:
        table.add_row(f.path, "-" if f.size is None else f"{f.size:,}", f.md5 or "-")
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
    from steps.registry.remote import get_files

    out = out.resolve()  # named from where dreg was called, before it moves to the registry root
    v, source = locate(ref, repo)
    target = get_files(v.tag, v.dataset, path, out, source, force=force)
    console.print(f"{v.tag}: wrote {target}", soft_wrap=True)
