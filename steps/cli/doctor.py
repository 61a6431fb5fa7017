"""`dreg doctor`: check what this setup needs (registry, git origin, DVC remote, MLflow, pgvector, keys)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.table import Column, Table
from rich.text import Text

from steps.cli.output import console, plain, print_table

if TYPE_CHECKING:
    from steps.inspect.doctor import Check

STYLES = {"ok": "green", "FAIL": "bold red", "skipped": "dim"}


def doctor_command() -> None:
    """Check this setup: the registry checkout, its git origin and DVC remote (with the credentials at hand), the
    MLflow server and pgvector database when configured, the signing and trusted keys when set. One row per check
    (ok, FAIL or skipped: not configured) and how to fix each failure; exit 1 if any check fails."""
    from steps.inspect.doctor import run_checks

    checks = run_checks()
    print_table(report_table(checks))
    failures = [c for c in checks if c.status == "FAIL"]
    for c in failures:
        console.print(plain(f"fix {c.name}: {c.fix or 'see the detail above'}"), soft_wrap=True)
    if failures:
        raise typer.Exit(1)


def report_table(checks: list[Check]) -> Table:
    """One row per check: name, status (coloured) and what was found."""
    table = Table(Column("check", no_wrap=True), Column("status", no_wrap=True), Column("detail", overflow="fold"))
    for c in checks:
        table.add_row(plain(c.name), Text(c.status, style=STYLES[c.status]), plain(c.detail))
    return table
