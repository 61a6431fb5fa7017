"""`dreg gc`: delete DVC objects that no release tag, promotion tag or branch head references."""

from __future__ import annotations

from typing import Annotated

import typer

from steps.cli.output import console, plain


def gc_command(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would be deleted (size, why), delete nothing.")]
    = False,
    keep_untagged_days: Annotated[float, typer.Option("--keep-untagged-days", min=0, metavar="N",
                                                      help="Keep unreferenced objects younger than N days (data "
                                                           "pushed for a release not yet tagged).")] = 7,
) -> None:
    """Remove objects of the DVC remote and cache that no release tag, promotion tag or branch head references
    (mark, then sweep; nothing is deleted when any ref cannot be read)."""
    from steps.cli.release import in_registry
    from steps.inspect.gc import collect

    report = collect(in_registry(), dry_run=dry_run, keep_untagged_days=keep_untagged_days)
    for g in report.garbage:
        console.print(plain(f"{'would delete' if dry_run else 'deleted'} {g.store} {g.oid} {g.size} bytes: {g.why}"),
                      soft_wrap=True)
    verb = "would reclaim" if dry_run else "reclaimed"
    console.print(plain(f"{report.refs} refs marked {report.kept} objects; {verb} {report.reclaimed} bytes in "
                        f"{len(report.garbage)} object(s)"), soft_wrap=True)
