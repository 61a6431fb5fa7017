"""What the catalogue shows, read from git alone: release tags, their dates, metadata, cards and dvc.lock sizes."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from steps import layout
from steps.errors import DregError
from steps.git import git, git_out, repo_root, show_file
from steps.kit.files import load_yaml
from steps.registry.versions import Version, parse_tag


@dataclass(frozen=True)
class ReleaseInfo:
    """One release tag: version, tag date (UTC), bump kind, metadata, card, output size and stage names."""

    version: Version
    date: str
    bump: str
    metadata: dict[str, Any]
    card: str | None
    size: int | None
    stages: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class DatasetInfo:
    """A dataset and its releases, newest first."""

    name: str
    releases: list[ReleaseInfo]

    @property
    def latest(self) -> ReleaseInfo:
        return self.releases[0]


@contextmanager
def git_dir(repo: str | None, root: Path) -> Iterator[Path]:
    """The registry's git directory: the checkout around `root`, or a temporary bare clone of `repo`."""
    if repo is None:
        yield repo_root(root)
        return
    with tempfile.TemporaryDirectory(prefix="dreg-catalog-") as tmp:
        proc = git("clone", "-q", "--bare", "--no-hardlinks", repo, f"{tmp}/registry.git", check=False)
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["unknown error"])[-1]
            raise DregError(f"cannot read registry {repo}: {last}", "pass a git URL or a path to a registry repository")
        yield Path(tmp, "registry.git")


def tag_dates(gitdir: Path) -> dict[str, str]:
    """Every tag and its creation time as `YYYY-MM-DD HH:MM` UTC."""
    out = git_out("for-each-ref", "--format=%(refname:strip=2) %(creatordate:unix)", "refs/tags", cwd=gitdir)
    pairs = (line.rsplit(" ", 1) for line in out.splitlines() if line.strip())
    return {tag: datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%d %H:%M") for tag, ts in pairs}


def bump_kind(version: Version, previous: Version | None) -> str:
    """`initial`, `major`, `minor` or `patch`: what changed from the previous version."""
    if previous is None:
        return "initial"
    if version.major != previous.major:
        return "major"
    return "minor" if version.minor != previous.minor else "patch"


def out_sizes(doc: Any) -> dict[str, int]:
    """`size` of every output in a dvc.lock or `.dvc` document, by path."""
    if not isinstance(doc, dict):
        return {}
    outs = [o for stage in (doc.get("stages") or {}).values() for o in stage.get("outs", [])] + doc.get("outs", [])
    return {o["path"]: o["size"] for o in outs if isinstance(o, dict) and isinstance(o.get("size"), int)}


def release_size(gitdir: Path, tag: str, dataset: str) -> int | None:
    """Sum of the release's output sizes (dvc.lock, or the `.dvc` files of curated data); None if unknown."""
    lock = show_file(tag, layout.dvc_lock(dataset), gitdir)
    if lock is not None:
        sizes = out_sizes(load_yaml(lock))
    else:
        names = git_out("ls-tree", "--name-only", f"{tag}:{layout.data_dir(dataset)}", cwd=gitdir).splitlines()
        docs = [load_yaml(show_file(tag, layout.data_file(dataset, n), gitdir) or "") for n in names if n.endswith(".dvc")]
        sizes = {path: size for doc in docs for path, size in out_sizes(doc).items()}
    return sum(sizes.values()) if sizes else None


def stage_names(gitdir: Path, tag: str, dataset: str) -> list[str]:
    """The pipeline's stages at `tag` in dvc.yaml order; `dreg add` for curated data."""
    text = show_file(tag, layout.dvc_yaml(dataset), gitdir)
    return list((load_yaml(text) or {}).get("stages", {})) if text else ["dreg add"]


def read_release(gitdir: Path, version: Version, previous: Version | None, date: str) -> ReleaseInfo:
    """Everything the catalogue shows about one release tag."""
    tag, name = version.tag, version.dataset
    meta = show_file(tag, layout.metadata_json(name), gitdir)
    return ReleaseInfo(version, date, bump_kind(version, previous), json.loads(meta) if meta else {},
                       show_file(tag, layout.card_md(name), gitdir), release_size(gitdir, tag, name),
                       stage_names(gitdir, tag, name))


def read_datasets(gitdir: Path) -> list[DatasetInfo]:
    """Every dataset with release tags in the repository at `gitdir`, by name."""
    dates = tag_dates(gitdir)
    by_dataset: dict[str, list[Version]] = {}
    for v in sorted(v for t in dates if (v := parse_tag(t))):
        by_dataset.setdefault(v.dataset, []).append(v)
    datasets = []
    for name, versions in sorted(by_dataset.items()):
        releases = [read_release(gitdir, v, versions[i - 1] if i else None, dates[v.tag]) for i, v in enumerate(versions)]
        datasets.append(DatasetInfo(name, releases[::-1]))
    return datasets
