"""`dreg promote` and `dreg history`: promotion stages as immutable tags `<dataset>#<stage>#<n>`."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Column, Table

from steps.cli.output import JsonFlag, RepoOption, console, plain, print_json, print_table, shown
from steps.cli.release import DatasetArg, RefArg, in_registry, reading


def promote_command(
    ref: RefArg,
    to: Annotated[str, typer.Option("--to", metavar="STAGE", help="The stage: prod, staging or any lower-case name.",
                                    show_default=False)],
    push: Annotated[bool | None, typer.Option("--push/--no-push", help="Push the promotion tag to origin (default: "
                                              "when the registry has origin).", show_default=False)] = None,
    as_json: JsonFlag = False,
) -> None:
    """Assign a version to a stage with a new annotated tag (never a moved one), if the DVC remote holds its data."""
    from steps.release.promote import promote

    tag, v = promote(ref, to, in_registry(), push=push)
    if as_json:
        print_json({"dataset": v.dataset, "stage": to, "version": v.semver, "tag": tag, "release": v.tag})
        return
    console.print(f"{v.dataset}@{v.semver} → {to} (tag {tag})", soft_wrap=True)


def history_command(dataset: DatasetArg, repo: RepoOption = None, as_json: JsonFlag = False) -> None:
    """Releases and promotions of a dataset in time order, and its current stages."""
    from steps.refs.stages import history
    from steps.refs.versions import check_dataset

    check_dataset(dataset)
    with reading(repo) as reg:
        reg.resolve(dataset)  # unknown dataset → one line with the closest names
        stages = reg.stages(dataset)
        events = history(dataset, reg.tag_objects(dataset))
    if as_json:
        print_json({"dataset": dataset, "repo": repo, "stages": stages, "events": events})
        return
    table = Table(*(Column(name, no_wrap=True) for name in ("at (UTC)", "event", "version", "tag")),
                  Column("by", overflow="ellipsis"), title=plain(dataset))  # only the tagger may be shortened
    for e in events:
        what = "release" if e["kind"] == "release" else f"→ {e['stage']}"
        at = str(e["at"]).replace("T", " ").removesuffix("+00:00")  # the header says UTC
        table.add_row(at, plain(what), shown(e["version"]), plain(e["tag"]), plain(shown(e["by"])))
    print_table(table)
    console.print("stages: " + (" ".join(f"{s}={v}" for s, v in stages.items()) or "-"))
