"""The one output module: the console every command and the release core print through (Rich), plain-text
printing of user data, and the width rule for pipes."""

from __future__ import annotations

import os

from rich.console import Console
from rich.rule import Rule
from rich.text import Text

PIPE_WIDTH = 10_000  # piped output: as wide as the content, never cut at Rich's 80-column default
RULE_WIDTH = 80  # a section rule when piped: a line, not 10,000 dashes


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
