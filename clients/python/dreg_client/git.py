"""The one place that runs git: a subprocess per call, failures turned into RegistryError with git's own words."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from dreg_client.errors import RegistryError

MEANINGFUL = re.compile(r"^(remote:|error:|fatal:|! )")
MAX_LINES, MAX_CHARS = 4, 400


def git(*args: str, cwd: Path | str | None = None, check: bool = True,
        stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run `git args` in `cwd` (text mode; `stdin` fed to it); raise RegistryError with git's message on failure
    when `check` is set."""
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False, input=stdin,
                          encoding="utf-8", errors="surrogateescape")
    if check and proc.returncode != 0:
        raise RegistryError(f"git {args[0]} failed: {git_message(proc)}", "see `git status` in the registry")
    return proc


def git_bytes(*args: str, cwd: Path | str | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run `git args` in `cwd` and keep stdout as bytes (file contents, exactly as committed)."""
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False)


def git_message(proc: subprocess.CompletedProcess[str] | subprocess.CompletedProcess[bytes]) -> str:
    """The meaningful lines of a failed git command (server messages, errors), joined and bounded."""
    err = proc.stderr or proc.stdout or ""
    text_out = err.decode(errors="replace") if isinstance(err, bytes) else err
    lines = [ln.strip() for ln in text_out.splitlines() if ln.strip()]
    picked = [ln for ln in lines if MEANINGFUL.match(ln)] or lines[-1:]
    text = " | ".join(dict.fromkeys(picked[:MAX_LINES])) or f"exit {proc.returncode}"
    return text if len(text) <= MAX_CHARS else text[:MAX_CHARS] + "…"


def show_bytes(rev: str, path: str, cwd: Path | str | None = None) -> bytes | None:
    """Exact bytes of `path` at `rev` (no newline translation), or None if it does not exist there."""
    if rev.startswith("-"):
        return None
    proc = git_bytes("cat-file", "blob", f"{rev}:{path}", cwd=cwd)
    return proc.stdout if proc.returncode == 0 else None


def peeled_refs(out: str) -> dict[str, str]:
    """{tag: commit} from `git ls-remote --tags` output (annotated tags peeled to the commit they name)."""
    refs: dict[str, str] = {}
    for sha, _, name in (line.partition("\t") for line in out.splitlines()):
        if name.startswith("refs/tags/"):
            short = name.removeprefix("refs/tags/")
            if short.endswith("^{}"):
                refs[short.removesuffix("^{}")] = sha
            else:
                refs.setdefault(short, sha)
    return refs


def local_refs(root: Path | str) -> dict[str, str]:
    """{tag: commit it peels to} of the repository at `root` (one `for-each-ref`)."""
    out = git("for-each-ref", "--format=%(refname:strip=2) %(objectname) %(*objectname)", "refs/tags", cwd=root).stdout
    return {name: peeled or sha for name, sha, peeled in (f"{line} ".split(" ")[:3] for line in out.splitlines())}
