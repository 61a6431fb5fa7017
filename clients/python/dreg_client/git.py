"""The one place that runs git: a subprocess per call, failures turned into RegistryError with git's own words."""

from __future__ import annotations

import contextlib
import re
import subprocess
import threading
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


class BlobReader:
    """One `git cat-file --batch` process per repository: file contents at a revision without a process per read
    (a catalogue of thousands of releases reads four files each)."""

    def __init__(self, cwd: Path | str) -> None:
        self.cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None
        self.lock = threading.Lock()

    def read(self, rev: str, path: str) -> tuple[str, bytes | None]:
        """(object type, bytes) of `path` at `rev`: ("blob", data), (another type, None) or ("missing", None)."""
        if rev.startswith("-") or "\n" in rev + path:
            return "missing", None
        with self.lock:
            if self.proc is None or self.proc.poll() is not None:
                self.proc = subprocess.Popen(["git", "cat-file", "--batch"], cwd=self.cwd, stdin=subprocess.PIPE,
                                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            assert self.proc.stdin is not None and self.proc.stdout is not None
            self.proc.stdin.write(f"{rev}:{path}\n".encode("utf-8", "surrogateescape"))
            self.proc.stdin.flush()
            header = self.proc.stdout.readline().decode(errors="replace").split()
            if len(header) != 3 or not header[2].isdigit():  # `<name> missing` / `ambiguous`
                return "missing", None
            data = self.proc.stdout.read(int(header[2]) + 1)[:-1]
            return header[1], data if header[1] == "blob" else None

    def close(self) -> None:
        """End the git process."""
        if self.proc is not None:
            if self.proc.stdin:
                self.proc.stdin.close()
            self.proc.wait()
            if self.proc.stdout:
                self.proc.stdout.close()
            self.proc = None

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()


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


def blobs(rev: str, paths: list[str], cwd: Path | str | None = None) -> dict[str, bytes]:
    """{path: exact bytes at `rev`} of the files among `paths` that exist there, read by one `git cat-file --batch`."""
    if rev.startswith("-") or not paths:
        return {}
    names = [p for p in paths if "\n" not in p]
    proc = subprocess.run(["git", "cat-file", "--batch"], cwd=cwd, capture_output=True, check=False,
                          input="".join(f"{rev}:{p}\n" for p in names).encode())
    if proc.returncode != 0:
        raise RegistryError(f"git cat-file failed: {git_message(proc)}",
                            "check the registry's git objects (`git fsck`)")
    out, pos, found = proc.stdout, 0, {}
    for name in names:
        end = out.index(b"\n", pos)
        header = out[pos:end].split(b" ")
        pos = end + 1
        if len(header) == 3 and header[1] == b"blob":
            size = int(header[2])
            found[name] = out[pos:pos + size]
            pos += size + 1
        elif len(header) == 3:  # a tree or another object: skip its content
            pos += int(header[2]) + 1
    return found
