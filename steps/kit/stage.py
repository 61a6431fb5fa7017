"""Entry point shared by every dataset module: `python -m steps.datasets.<x> STAGE`."""

from __future__ import annotations

import sys
from collections.abc import Callable

from rich.console import Console
from rich.text import Text

from steps.errors import DregError

# The consoles of stage code (stage runs, Ray and the embedded PostgreSQL); the CLI's are in steps/output.py,
# which is no dependency of the stages (importing it would add a file to every stage's deps in dvc.yaml).
console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def report_error(exc: DregError) -> None:
    """Print a DregError as one line on stderr; its message and hint are plain text (they carry user input, never
    read as Rich markup)."""
    line = Text.assemble(("error:", "bold red"), " ", exc.message, (f" (hint: {exc.hint})" if exc.hint else "", "dim"))
    err_console.print(line, soft_wrap=True)


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
