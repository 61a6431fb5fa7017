"""The one output module: the console every command and the release core print through (Rich), plain-text
printing of user data, and the width rule for pipes."""

from __future__ import annotations

import os

from rich.console import Console
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

PIPE_WIDTH = 10_000  # piped output: as wide as the content, never cut at Rich's 80-column default
RULE_WIDTH = 80  # a section rule when piped: a line, not 10,000 dashes
NARROWEST_TEXT = 8  # a wrapping column (descriptions, lists) keeps at least this many characters a line


def make_console(stderr: bool = False) -> Console:
    """A Rich console: terminal width on a TTY (or `COLUMNS`), else unbounded so piped tables stay complete."""
    probe = Console(stderr=stderr)
    wide = not probe.is_terminal and not os.environ.get("COLUMNS")
    return Console(highlight=False, stderr=stderr, width=PIPE_WIDTH if wide else None)


def plain(value: object) -> Text:
    """`value` as literal text: user data (names, paths, messages) is never read as Rich markup; bytes that are not
    UTF-8 (a file name's surrogate escapes) show as `\\xNN`."""
    return Text(str(value).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace"))


console = make_console()
err_console = make_console(stderr=True)


def rule(title: str) -> None:
    """A section rule on the console: terminal width (or `COLUMNS`), 80 columns when piped."""
    console.print(Rule(title), width=RULE_WIDTH if console.width == PIPE_WIDTH else console.width)


def whole_width(table: Table, out: Console) -> int:
    """The narrowest `table` gets with its `no_wrap` columns (names, tags, timestamps) whole and every other column
    at least NARROWEST_TEXT wide; sets those columns' `min_width` to their longest cell."""
    needed = table._extra_width
    for index, column in enumerate(table.columns):
        if column.no_wrap:
            cells = (column.header, *column.cells)
            column.min_width = max([column.min_width or 0, *(out.measure(cell).maximum for cell in cells)])
        needed += table._get_padding_width(index) + ((column.min_width or 0) if column.no_wrap else NARROWEST_TEXT)
    return needed


def print_table(table: Table, out: Console | None = None) -> None:
    """Print `table` at the console width, other columns wrapping first; when even so its `no_wrap` columns would be
    cut, it is printed as wide as they need (the terminal wraps the line: a name or tag is never cut)."""
    target = out or console
    needed = whole_width(table, target)
    if needed > target.width:
        table.width = needed  # wider than the console: Rich would otherwise shrink every column to fit
    target.print(table, crop=False)
