"""Thin wrappers over the git CLI: one place that runs git and turns failures into DregError."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from steps.errors import DregError

MEANINGFUL = re.compile(r"^(remote:|error:|fatal:|! )")
MAX_LINES, MAX_CHARS = 4, 400
REF_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$")


def git(*args: str, cwd: Path | str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run `git args` in `cwd`; raise DregError with git's message if it fails and `check` is set."""
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise DregError(f"git {args[0]} failed: {git_message(proc)}", "see `git status` in the registry")
    return proc


def git_message(proc: subprocess.CompletedProcess[str]) -> str:
    """The meaningful lines of a failed git command (server messages, errors), joined and bounded."""
    lines = [ln.strip() for ln in (proc.stderr or proc.stdout or "").splitlines() if ln.strip()]
    picked = [ln for ln in lines if MEANINGFUL.match(ln)] or lines[-1:]
    text = " | ".join(dict.fromkeys(picked[:MAX_LINES])) or f"exit {proc.returncode}"
    return text if len(text) <= MAX_CHARS else text[:MAX_CHARS] + "…"


def check_ref_name(value: str, what: str) -> str:
    """`value` if it is a safe git name (remote, branch): no leading dash, no spaces or shell characters."""
    if not REF_NAME.match(value) or ".." in value or value.endswith((".", "/", ".lock")):
        raise DregError(f"invalid {what} {value[:40]!r}", "use letters, digits, '.', '_', '-' and '/' only")
    return value


def git_out(*args: str, cwd: Path | str | None = None) -> str:
    """stdout of a successful git command, stripped."""
    return git(*args, cwd=cwd).stdout.strip()


def head_commit(cwd: Path | str | None = None) -> str | None:
    """The commit checked out in `cwd`, or None outside a git repository."""
    proc = git("rev-parse", "HEAD", cwd=cwd, check=False)
    return proc.stdout.strip() if proc.returncode == 0 else None


def repo_root(cwd: Path | str | None = None) -> Path:
    """Top of the git work tree containing `cwd`."""
    proc = git("rev-parse", "--show-toplevel", cwd=cwd, check=False)
    if proc.returncode != 0:
        raise DregError("not inside a git repository", "run dreg from a data-registry checkout")
    return Path(proc.stdout.strip())


def show_file(rev: str, path: str, cwd: Path | str | None = None) -> str | None:
    """Content of `path` at `rev`, or None if it does not exist there (`rev` never read as an option)."""
    if rev.startswith("-"):
        return None
    proc = git("cat-file", "blob", f"{rev}:{path}", cwd=cwd, check=False)
    return proc.stdout if proc.returncode == 0 else None


def show_bytes(rev: str, path: str, cwd: Path | str | None = None) -> bytes | None:
    """Exact bytes of `path` at `rev` (no newline translation), or None if it does not exist there."""
    if rev.startswith("-"):
        return None
    proc = subprocess.run(["git", "cat-file", "blob", f"{rev}:{path}"], cwd=cwd, capture_output=True, check=False)
    return proc.stdout if proc.returncode == 0 else None


def remote_tags(repo: str) -> list[str]:
    """Tag names of a repository (path or git URL), read from its refs without cloning it."""
    proc = git("ls-remote", "--tags", "--refs", "--", repo, check=False)
    if proc.returncode != 0:
        raise DregError(f"cannot read tags of {repo[:200]}: {git_message(proc)}", "check the registry URL or path")
    return [line.split("refs/tags/", 1)[1] for line in proc.stdout.splitlines() if "refs/tags/" in line]
