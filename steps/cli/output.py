"""Command output: Rich tables for people, `--json` for programs (one stable shape per command, docs/cli-json.md)."""

from __future__ import annotations

import json
import os
import sys
from typing import Annotated, Any

import typer
from rich.console import Console

JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON (see docs/cli-json.md).")]
RepoOption = Annotated[str | None, typer.Option("--repo", help="Registry to read instead of this checkout: a git URL, "
                                                               "a file:// URL or a plain path (read without cloning).")]
PIPE_WIDTH = 10_000  # piped output: as wide as the content, never cut at Rich's 80-column default


def make_console(stderr: bool = False) -> Console:
    """A Rich console: terminal width on a TTY (or `COLUMNS`), else unbounded so piped tables stay complete."""
    probe = Console(stderr=stderr)
    wide = not probe.is_terminal and not os.environ.get("COLUMNS")
    return Console(highlight=False, stderr=stderr, width=PIPE_WIDTH if wide else None)


def print_json(data: Any) -> None:
    """`data` as indented, key-sorted JSON on stdout."""
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def shown(value: Any) -> str:
    """A field's value for a table: "-" for an unset field (never Python's `None`)."""
    return "-" if value is None or value == "" else str(value)
