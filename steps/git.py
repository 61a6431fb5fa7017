"""git for the producer: the runner is the client's (`dreg_client.git`, the one place that spawns git); these are
the producer's helpers over it."""

from __future__ import annotations

import re
from pathlib import Path

from dreg_client.git import git, git_message, local_refs, peeled_refs, show_bytes
from steps.errors import DregError

__all__ = ["check_ref_name", "git", "git_message", "git_out", "head_commit", "local_refs", "remote_refs",
           "repo_root", "show_bytes", "show_file", "update_refs"]

REF_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,199}")


def check_ref_name(value: str, what: str) -> str:
    """`value` if it is a safe git name (remote, branch): no leading dash, no spaces or shell characters."""
    if not REF_NAME.fullmatch(value) or ".." in value or value.endswith((".", "/", ".lock")):
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
    if proc.returncode != 0 or not proc.stdout.strip():
        raise DregError("not inside a git repository", "run dreg from a data-registry checkout")
    return Path(proc.stdout.strip())


def show_file(rev: str, path: str, cwd: Path | str | None = None) -> str | None:
    """Text of `path` at `rev` (UTF-8, undecodable bytes replaced), or None if it does not exist there."""
    data = show_bytes(rev, path, cwd)
    return None if data is None else data.decode("utf-8", errors="replace")


def remote_refs(repo: str, cwd: Path | str | None = None) -> dict[str, str]:
    """{tag: commit it peels to} of a repository (path, URL or, with `cwd`, a remote's name), via `git ls-remote`."""
    proc = git("ls-remote", "--tags", "--", repo, cwd=cwd, check=False)
    if proc.returncode != 0:
        raise DregError(f"cannot read tags of {repo[:200]}: {git_message(proc)}", "check the registry URL or path")
    return peeled_refs(proc.stdout)


def update_refs(root: Path | str, commands: str) -> None:
    """Apply `git update-ref --stdin` commands in one transaction."""
    proc = git("update-ref", "--stdin", cwd=root, check=False, stdin=commands)
    if proc.returncode != 0:
        raise DregError(f"cannot update refs: {git_message(proc)}", "see `git tag` in the registry")
