"""A readable log for long runs (`make demo`, the venv build): each line of a command's output stamped with the
time, lines past a cap cut with a note of what was cut, and a "still working" line whenever the command is silent
for a while. Standard library only: scripts/setup-venv.sh runs it with the system Python before .venv exists.

`python -m steps.dev.runlog [--label L] [--keep REGEX] -- COMMAND...` runs COMMAND through it (exit: COMMAND's)."""

from __future__ import annotations

import argparse
import os
import queue
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime

LINE_CAP = 200  # characters of a logged line (pip's "Successfully installed …" runs to thousands)
HEARTBEAT_S = 30.0  # silence after which a "still working" line is printed, and again as long as it lasts


def heartbeat_s() -> float:
    """Seconds of silence before a "still working" line (DREG_HEARTBEAT_S, default 30)."""
    return float(os.environ.get("DREG_HEARTBEAT_S") or HEARTBEAT_S)


def clock() -> str:
    """The current UTC time of day, HH:MM:SS."""
    return datetime.now(UTC).strftime("%H:%M:%S")


def capped(line: str, cap: int = LINE_CAP) -> str:
    """`line` cut to `cap` characters, saying how many were left out."""
    return line if len(line) <= cap else f"{line[:cap]}… (+{len(line) - cap} characters)"


def stamped(line: str, cap: int = LINE_CAP) -> str:
    """One log line: the time, then the line capped."""
    return f"{clock()} {capped(line, cap)}"


def output_lines(stream: Iterable[str]) -> Iterator[str]:
    """Lines of a command's output; a progress line redrawn with carriage returns counts as its last state."""
    for raw in stream:
        line = raw.rstrip("\n").rstrip("\r").rsplit("\r", 1)[-1].rstrip()
        if line:
            yield line


def run_logged(argv: list[str], label: str, emit: Callable[[str], None] = print, keep: str | None = None,
               cwd: str | None = None, env: dict[str, str] | None = None) -> int:
    """Run `argv` (stdout and stderr together), emitting its lines (those matching `keep`, if given) stamped and
    capped, and a "still working on `label`" line after each heartbeat of silence; its exit status."""
    wanted = re.compile(keep) if keep else None
    lines: queue.Queue[str | None] = queue.Queue()
    with subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          errors="replace", bufsize=1) as proc:
        assert proc.stdout is not None
        reader = threading.Thread(target=pump, args=(proc.stdout, lines), daemon=True)
        reader.start()
        start = last = time.monotonic()
        while True:
            try:
                line = lines.get(timeout=max(0.0, last + heartbeat_s() - time.monotonic()))
            except queue.Empty:
                last = time.monotonic()
                emit(stamped(f"… still working on {label}: {last - start:.0f}s"))
                continue
            if line is None:
                break
            if wanted is None or wanted.search(line):
                emit(stamped(line))
                last = time.monotonic()
        return proc.wait()


def pump(stream: Iterable[str], lines: queue.Queue[str | None]) -> None:
    """Move a command's output lines onto `lines`, then None at its end."""
    for line in output_lines(stream):
        lines.put(line)
    lines.put(None)


def flushed(line: str) -> None:
    """Print a line at once (the log is read while the run goes on)."""
    print(line, flush=True)


def main(argv: list[str] | None = None) -> int:
    """The command-line runner: exit with the command's status."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--label", default=None, help="What the heartbeat says is running (default: the command).")
    parser.add_argument("--keep", default=None, help="Log only lines matching this regular expression.")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given")
    return run_logged(command, args.label or " ".join(command)[:60], emit=flushed, keep=args.keep)


if __name__ == "__main__":
    sys.exit(main())
