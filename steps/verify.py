"""Reproducibility check: rebuild a tagged version in a temporary worktree and compare hashes."""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from steps.dvcops import lock_outputs, lock_path, open_repo, reproduce
from steps.errors import DregError
from steps.gitinfo import git, show_file
from steps.metadata import stable_view

TAG_RE = re.compile(r"^(?P<dataset>.+)-v\d+\.\d+\.\d+(-automated)?$")


@dataclass
class VerifyReport:
    """Outcome of a rebuild: which outputs matched the tag's dvc.lock and which differ."""

    tag: str
    matched: list[str] = field(default_factory=list)
    differ: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def reproducible(self) -> bool:
        return not self.differ


def dataset_of(tag: str, root: Path) -> str:
    m = TAG_RE.match(tag)
    if not m or git("rev-parse", "-q", "--verify", f"refs/tags/{tag}", cwd=root, check=False).returncode != 0:
        raise DregError(f"no release tag {tag}", "list releases with `dreg list`")
    return m["dataset"]


def compare(tag: str, dataset: str, released_lock: str, released_meta: str | None, worktree: Path) -> VerifyReport:
    """Compare a rebuilt worktree with the release: data outputs by hash, metadata by stable content."""
    report = VerifyReport(tag)
    rebuilt = lock_outputs((worktree / lock_path(dataset)).read_text())
    meta_rel = f"data/{dataset}/metadata.json"
    for path, expected in sorted(lock_outputs(released_lock).items()):
        if path == meta_rel and released_meta is not None:
            fresh = stable_view(json.loads((worktree / meta_rel).read_text()))
            same = fresh == stable_view(json.loads(released_meta))
            got = expected if same else "content differs"
        else:
            got = rebuilt.get(path, "missing")
            same = got == expected
        if same:
            report.matched.append(path)
        else:
            report.differ[path] = (expected, got)
    return report


@contextlib.contextmanager
def isolated_services(scratch: Path) -> Iterator[None]:
    """During a rebuild, stages write to a throwaway embedded PostgreSQL, never to the live vector table."""
    saved = {key: os.environ.get(key) for key in ("DREG_PGDATA", "PGVECTOR_HOST")}
    os.environ["DREG_PGDATA"] = str(scratch / "pgdata")
    os.environ.pop("PGVECTOR_HOST", None)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if (scratch / "pgdata").exists():
            from steps.embeddings.pgserver import stop_embedded

            stop_embedded(scratch / "pgdata")


def verify_release(tag: str, root: Path | str = ".") -> VerifyReport:
    """Rebuild `tag` from its pinned inputs (params, code, sources) and compare with what it recorded."""
    root = Path(root).resolve()
    dataset = dataset_of(tag, root)
    released_lock = show_file(tag, lock_path(dataset), root)
    if not released_lock:
        raise DregError(f"{tag} has no {lock_path(dataset)}", "only pipeline releases can be rebuilt")
    with tempfile.TemporaryDirectory(prefix="dreg-verify-") as tmp:
        worktree = Path(tmp) / "worktree"
        git("worktree", "add", "-q", "--detach", str(worktree), tag, cwd=root)
        try:
            with contextlib.chdir(worktree), isolated_services(Path(tmp)):
                reproduce(open_repo(worktree), dataset, force=True)
            return compare(tag, dataset, released_lock, show_file(tag, f"data/{dataset}/metadata.json", root), worktree)
        finally:
            git("worktree", "remove", "--force", str(worktree), cwd=root, check=False)
            git("worktree", "prune", cwd=root, check=False)
