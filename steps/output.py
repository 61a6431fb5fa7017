"""The one output module: the console every command and the release core print through (Rich), plain-text
printing of user data, and the width rule for pipes."""

from __future__ import annotations

import os

from rich.console import Console
from rich.text import Text

PIPE_WIDTH = 10_000  # piped output: as wide as the content, never cut at Rich's 80-column default


def make_console(stderr: bool = False) -> Console:
    """A Rich console: terminal width on a TTY (or `COLUMNS`), else unbounded so piped tables stay complete."""
    probe = Console(stderr=stderr)
    wide = not probe.is_terminal and not os.environ.get("COLUMNS")
    return Console(highlight=False, stderr=stderr, width=PIPE_WIDTH if wide else None)


def plain(value: object) -> Text:
    """`value` as literal text: user data (names, paths, messages) is never read as Rich markup."""
    return Text(str(value))


console = make_console()
err_console = make_console(stderr=True)
