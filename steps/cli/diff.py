"""`dreg diff DATASET@A DATASET@B`: what changed between two versions, with drift above a threshold flagged."""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from typing import Annotated, Any

import typer
from rich.table import Table

from steps.cli.output import JsonFlag, RepoOption, console, plain, print_json
from steps.cli.release import complete_ref, reading, release_metadata
from steps.errors import DregError
from steps.inspect.diff import (
    DEFAULT_MIN_EFFECT,
    DEFAULT_MIN_SHARE,
    DEFAULT_THRESHOLD_PCT,
    SECTIONS,
    Change,
    Floors,
    diff_metadata,
)
from steps.refs.handle import Release


def fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    text = json.dumps(value) if isinstance(value, (list, dict)) else str(value)
    return text if len(text) <= 48 else text[:45] + "…"


def fmt_rel(rel: float | None) -> str:
    return "" if rel is None else ("new" if math.isinf(rel) else f"{rel * 100:+.2f}%")


def describe(threshold: float, floors: Floors) -> str:
    """The flag rule in words: the relative threshold and the absolute floors."""
    return (f"above {threshold * 100:g}% and at least {floors.share:g} of a class share or {floors.effect:g} std "
            "of a statistic")


def render(a: Release, b: Release, changes: list[Change], threshold: float, floors: Floors) -> None:
    """Side-by-side table per section; flagged rows in red."""
    console.print(plain(f"{a.tag} → {b.tag}  (flag {describe(threshold, floors)})"), style="bold", soft_wrap=True)
    for section, title in SECTIONS.items():
        rows = [c for c in changes if c.section == section]
        if not rows:
            console.print(f"{title}: unchanged")
            continue
        table = Table(title, a.tag, b.tag, "change", "")
        for c in rows:
            table.add_row(plain(c.key), plain(fmt(c.old)), plain(fmt(c.new)), fmt_rel(c.rel),
                          "[red]FLAG[/red]" if c.flagged else "")
        console.print(table)
    flagged = sum(c.flagged for c in changes)
    console.print(f"{flagged} change(s) flagged" if flagged else "no change flagged", soft_wrap=True)


def diff_command(
    ref_a: Annotated[str, typer.Argument(metavar="DATASET@A", autocompletion=complete_ref, show_default=False)],
    ref_b: Annotated[str, typer.Argument(metavar="DATASET@B", autocompletion=complete_ref, show_default=False)],
    threshold: Annotated[float, typer.Option("--threshold", min=0,
                                             help="Flag relative changes above this many percent.")]
    = DEFAULT_THRESHOLD_PCT,
    min_share: Annotated[float, typer.Option("--min-share", min=0, max=1, help="A class share is flagged only when "
                                             "it also moves at least this much (0.01: one percentage point).")]
    = DEFAULT_MIN_SHARE,
    min_effect: Annotated[float, typer.Option("--min-effect", min=0, help="A statistic with a recorded std (a mean, "
                                              "min, max) is flagged only when it also moves at least this many "
                                              "stds.")] = DEFAULT_MIN_EFFECT,
    repo: RepoOption = None,
    as_json: JsonFlag = False,
) -> None:
    """What changed between two versions of one dataset: params, sources, sample counts, class distributions,
    statistics; drift is flagged above a relative threshold and an absolute floor."""
    floors = Floors(share=min_share, effect=min_effect)
    with reading(repo) as reg:
        a, b = reg.resolve(ref_a), reg.resolve(ref_b)
        if a.dataset != b.dataset:
            raise DregError(f"cannot compare {a.tag} with {b.tag}: they are releases of two datasets",
                            f"compare two versions of one dataset, e.g. `dreg diff {a.dataset}@A {a.dataset}@B`")
        changes = diff_metadata(release_metadata(reg, a), release_metadata(reg, b), threshold / 100, floors)
    if as_json:
        print_json(diff_doc(a, b, changes, threshold / 100, floors))
        return
    render(a, b, changes, threshold / 100, floors)


def diff_doc(a: Release, b: Release, changes: list[Change], threshold: float, floors: Floors) -> dict[str, Any]:
    """The `--json` shape (docs/cli-json.md): both tags, the threshold, the floors and every change (`rel` null when
    new)."""
    return {"from": a.tag, "to": b.tag, "threshold": threshold, "min_share": floors.share,
            "min_effect": floors.effect, "flagged": sum(c.flagged for c in changes),
            "changes": [{**asdict(c), "rel": None if c.rel is None or math.isinf(c.rel) else c.rel} for c in changes]}
