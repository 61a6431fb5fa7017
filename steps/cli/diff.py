"""`dreg diff DATASET@A DATASET@B`: what changed between two versions, with drift above a threshold flagged."""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from typing import Annotated, Any

import typer
from rich.table import Table

from steps.cli.output import JsonFlag, RepoOption, console, print_json
from steps.cli.release import complete_ref, reading, release_metadata
from steps.inspect.diff import DEFAULT_THRESHOLD_PCT, SECTIONS, Change, diff_metadata
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


def render(a: Release, b: Release, changes: list[Change], threshold: float) -> None:
    """Side-by-side table per section; flagged rows in red."""
    console.print(f"[bold]{a.tag}[/bold] → [bold]{b.tag}[/bold]  (flag above {threshold * 100:g}%)")
    for section, title in SECTIONS.items():
        rows = [c for c in changes if c.section == section]
        if not rows:
            console.print(f"{title}: unchanged")
            continue
        table = Table(title, a.tag, b.tag, "change", "")
        for c in rows:
            table.add_row(c.key, fmt(c.old), fmt(c.new), fmt_rel(c.rel), "[red]FLAG[/red]" if c.flagged else "")
        console.print(table)
    flagged = sum(c.flagged for c in changes)
    console.print(f"{flagged} change(s) above {threshold * 100:g}%" if flagged else "no change above the threshold")


def diff_command(
    ref_a: Annotated[str, typer.Argument(metavar="DATASET@A", autocompletion=complete_ref, show_default=False)],
    ref_b: Annotated[str, typer.Argument(metavar="DATASET@B", autocompletion=complete_ref, show_default=False)],
    threshold: Annotated[float, typer.Option("--threshold", min=0,
                                             help="Flag relative changes above this many percent.")]
    = DEFAULT_THRESHOLD_PCT,
    repo: RepoOption = None,
    as_json: JsonFlag = False,
) -> None:
    """What changed between two versions: params, sources, sample counts, class distributions, statistics."""
    with reading(repo) as reg:
        a, b = reg.resolve(ref_a), reg.resolve(ref_b)
        changes = diff_metadata(release_metadata(reg, a), release_metadata(reg, b), threshold / 100)
    if as_json:
        print_json(diff_doc(a, b, changes, threshold / 100))
        return
    render(a, b, changes, threshold / 100)


def diff_doc(a: Release, b: Release, changes: list[Change], threshold: float) -> dict[str, Any]:
    """The `--json` shape (docs/cli-json.md): both tags, the threshold and every change (`rel` null when new)."""
    return {"from": a.tag, "to": b.tag, "threshold": threshold, "flagged": sum(c.flagged for c in changes),
            "changes": [{**asdict(c), "rel": None if c.rel is None or math.isinf(c.rel) else c.rel} for c in changes]}
