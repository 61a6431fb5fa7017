"""Thin wrappers over the git CLI: one place that runs git and turns failures into DregError."""

from __future__ import annotations

import subprocess
from pathlib import Path

from steps.errors import DregError


def git(*args: str, cwd: Path | str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run `git args` in `cwd`; raise DregError with git's message if it fails and `check` is set."""
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        msg = (proc.stderr or proc.stdout).strip().splitlines()
        raise DregError(f"git {args[0]} failed: {msg[-1] if msg else proc.returncode}", "see `git status` in the registry")
    return proc


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
    """Content of `path` at `rev`, or None if it does not exist there."""
    proc = git("show", f"{rev}:{path}", cwd=cwd, check=False)
    return proc.stdout if proc.returncode == 0 else None


def remote_tags(repo: str) -> list[str]:
    """Tag names of a repository (path or git URL), read from its refs without cloning it."""
    proc = git("ls-remote", "--tags", "--refs", repo, check=False)
    if proc.returncode != 0:
        raise DregError(f"cannot read tags of {repo}: {proc.stderr.strip()[:200]}", "check the registry URL or path")
    return [line.split("refs/tags/", 1)[1] for line in proc.stdout.splitlines() if "refs/tags/" in line]
