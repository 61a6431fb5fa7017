"""Entry point shared by every dataset module: `python -m steps.datasets.<x> STAGE`."""

from __future__ import annotations

import sys
from collections.abc import Callable

from rich.console import Console

from steps.errors import DregError

err_console = Console(stderr=True, highlight=False)


def report_error(exc: DregError) -> None:
    """Print a DregError as one line on stderr."""
    hint = f" [dim](hint: {exc.hint})[/dim]" if exc.hint else ""
    err_console.print(f"[bold red]error:[/bold red] {exc.message}{hint}", soft_wrap=True)


def run_stage_main(dataset: str, *functions: Callable[[], None], argv: list[str] | None = None) -> None:
    """Run the stage named on the command line (each stage is the function of that name);
    DregError becomes one line on stderr and exit 1."""
    stages = {f.__name__: f for f in functions}
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0] not in stages:
        err_console.print(f"usage: python -m steps.datasets.<module> {{{','.join(stages)}}}  (dataset {dataset})")
        sys.exit(2)
    from steps.kit.lineage_events import stage_run

    try:
        with stage_run(dataset, args[0]):  # OpenLineage START, then COMPLETE or FAIL
            stages[args[0]]()
    except DregError as exc:
        report_error(exc)
        sys.exit(1)
