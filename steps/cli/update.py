"""`dreg update`: move a dataset's Hub pin to the commit its branch or tag names now (DVC's `dvc update`)."""

from __future__ import annotations

from steps import layout
from steps.cli.output import make_console
from steps.cli.release import DatasetArg, in_registry
from steps.refs.pipelines import require_pipeline

console = make_console()


def update_command(dataset: DatasetArg) -> None:
    """Resolve DATASET's Hub revision (download.revision) through the Hub API now and record the commit; the next
    `dreg run DATASET` downloads it and releases a new version if anything changed."""
    from steps.sources.hub import update_pin

    in_registry()
    require_pipeline(dataset)
    old, new = update_pin(dataset)
    where = f"{new.repo}@{new.revision}"
    if old == new:
        console.print(f"{dataset}: {where} is still at {new.commit}; nothing to update", soft_wrap=True)
        return
    was = f" (was {old.commit})" if old is not None and old.commit and old.followed == new.followed else ""
    console.print(f"{dataset}: {where} pinned to {new.commit}{was} in {layout.hub_pin(dataset)}; "
                  f"`dreg run {dataset}` reads that commit and releases what changed", soft_wrap=True)
