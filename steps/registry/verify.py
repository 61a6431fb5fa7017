"""Reproducibility check: rebuild a tagged version in a temporary worktree and compare hashes."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from steps import layout
from steps.errors import DregError
from steps.git import git, show_file
from steps.kit.metadata import stable_view
from steps.registry.dvc import lock_outputs, open_repo, reproduce
from steps.registry.versions import parse_tag


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
    """The dataset a release tag of this registry belongs to."""
    version = parse_tag(tag)
    if not version or git("rev-parse", "-q", "--verify", f"refs/tags/{tag}", cwd=root, check=False).returncode != 0:
        raise DregError(f"no release tag {tag}", "list releases with `dreg list`")
    return version.dataset


def compare(tag: str, dataset: str, released_lock: str, released_meta: str | None, worktree: Path) -> VerifyReport:
    """Compare a rebuilt worktree with the release: data outputs by hash, metadata by stable content."""
    report = VerifyReport(tag)
    rebuilt = lock_outputs((worktree / layout.dvc_lock(dataset)).read_text())
    meta_rel = layout.metadata_json(dataset)
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
def scratch_env(scratch: Path) -> Iterator[None]:
    """During a rebuild, stages keep their side effects under `scratch` (`DREG_SCRATCH`): never live tables."""
    saved = os.environ.get("DREG_SCRATCH")
    os.environ["DREG_SCRATCH"] = str(scratch)
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("DREG_SCRATCH", None)
        else:
            os.environ["DREG_SCRATCH"] = saved


def verify_release(tag: str, root: Path | str = ".") -> VerifyReport:
    """Rebuild `tag` from its pinned inputs (params, code, sources) and compare with what it recorded."""
    root = Path(root).resolve()
    dataset = dataset_of(tag, root)
    released_lock = show_file(tag, layout.dvc_lock(dataset), root)
    if not released_lock:
        raise DregError(f"{tag} has no {layout.dvc_lock(dataset)}", "only pipeline releases can be rebuilt")
    with tempfile.TemporaryDirectory(prefix="dreg-verify-") as tmp:
        worktree = Path(tmp) / "worktree"
        git("worktree", "add", "-q", "--detach", str(worktree), tag, cwd=root)
        try:
            with contextlib.chdir(worktree), scratch_env(Path(tmp)):
                reproduce(open_repo(worktree), dataset, force=True)
            return compare(tag, dataset, released_lock, show_file(tag, layout.metadata_json(dataset), root), worktree)
        finally:
            git("worktree", "remove", "--force", str(worktree), cwd=root, check=False)
            git("worktree", "prune", cwd=root, check=False)
