"""`dreg diff DATASET@A DATASET@B`: what changed between two versions, with drift above a threshold flagged."""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from steps.registry.diff import DEFAULT_THRESHOLD_PCT, SECTIONS, Change, diff_metadata, load_metadata
from steps.registry.versions import Version, resolve_ref

console = Console(highlight=False)


def fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    text = json.dumps(value) if isinstance(value, (list, dict)) else str(value)
    return text if len(text) <= 48 else text[:45] + "…"


def fmt_rel(rel: float | None) -> str:
    return "" if rel is None else ("new" if math.isinf(rel) else f"{rel * 100:+.2f}%")


def render(a: Version, b: Version, changes: list[Change], threshold: float) -> None:
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
    ref_a: Annotated[str, typer.Argument(metavar="DATASET@A")],
    ref_b: Annotated[str, typer.Argument(metavar="DATASET@B")],
    threshold: Annotated[float, typer.Option("--threshold", min=0,
                                             help="Flag relative changes above this many percent.")]
    = DEFAULT_THRESHOLD_PCT,
    as_json: Annotated[bool, typer.Option("--json", help="Print the changes as JSON.")] = False,
) -> None:
    """What changed between two versions: params, sources, sample counts, class distributions, statistics."""
    a, b = resolve_ref(ref_a), resolve_ref(ref_b)
    changes = diff_metadata(load_metadata(a), load_metadata(b), threshold / 100)
    if as_json:
        doc = {"from": a.tag, "to": b.tag, "threshold": threshold / 100,
               "flagged": sum(c.flagged for c in changes),
               "changes": [{**asdict(c), "rel": None if c.rel is None or math.isinf(c.rel) else c.rel}
                           for c in changes]}
        typer.echo(json.dumps(doc, indent=2, default=str))
        return
    render(a, b, changes, threshold / 100)
