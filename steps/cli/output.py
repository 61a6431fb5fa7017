"""Command output: Rich tables for people, `--json` for programs (one stable shape per command, docs/cli-json.md)."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

from steps.output import PIPE_WIDTH, console, make_console, plain, print_table

__all__ = ["PIPE_WIDTH", "JsonFlag", "RepoOption", "console", "make_console", "plain", "print_json",
           "print_table", "shown"]

JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON (see docs/cli-json.md).")]
RepoOption = Annotated[str | None, typer.Option("--repo", help="Registry to read instead of this checkout: a git URL, "
                                                               "a file:// URL or a plain path (read without cloning).")]


def print_json(data: Any) -> None:
    """`data` as indented, key-sorted JSON on stdout."""
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def shown(value: Any) -> str:
    """A field's value for a table: "-" for an unset field (never Python's `None`)."""
    return "-" if value is None or value == "" else str(value)
