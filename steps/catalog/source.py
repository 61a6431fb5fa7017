"""What the catalogue shows, read from git alone: release tags, their dates, metadata, cards and dvc.lock sizes."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from steps import layout
from steps.git import git_out
from steps.kit.files import load_yaml
from steps.refs.handle import Registry, Release
from steps.refs.lock import out_sizes, parse_lock
from steps.refs.versions import Version, parse_tag


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
    croissant: str | None = None


@dataclass(frozen=True)
class DatasetInfo:
    """A dataset, its releases (newest first) and its promotion stages ({stage: semver}, e.g. prod=1.0.0)."""

    name: str
    releases: list[ReleaseInfo]
    stages: dict[str, str] = field(default_factory=dict)

    @property
    def latest(self) -> ReleaseInfo:
        return self.releases[0]

    def stages_of(self, semver: str) -> list[str]:
        """The stages `semver` is in now, sorted."""
        return sorted(stage for stage, v in self.stages.items() if v == semver)


def tag_dates(gitdir: Path, dataset: str) -> dict[str, str]:
    """Every release tag of `dataset` and its creation time as `YYYY-MM-DD HH:MM` UTC."""
    out = git_out("for-each-ref", "--format=%(refname:strip=2) %(creatordate:unix)", f"refs/tags/{dataset}-v*",
                  cwd=gitdir)
    pairs = (line.rsplit(" ", 1) for line in out.splitlines() if line.strip())
    return {tag: datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%d %H:%M") for tag, ts in pairs}


def bump_kind(version: Version, previous: Version | None) -> str:
    """`initial`, `major`, `minor` or `patch`: what changed from the previous version."""
    if previous is None:
        return "initial"
    if version.major != previous.major:
        return "major"
    return "minor" if version.minor != previous.minor else "patch"


def release_size(reg: Registry, release: Release) -> int | None:
    """Sum of the release's output sizes (dvc.lock, or the `.dvc` files of curated data); None if unknown."""
    dataset = release.dataset
    lock = reg.read_text(release, layout.dvc_lock(dataset))
    if lock is not None:
        sizes = out_sizes(parse_lock(lock))
    else:
        names = git_out("ls-tree", "--name-only", f"{release.commit}:{layout.data_dir(dataset)}",
                        cwd=reg.gitdir(release)).splitlines()
        docs = [parse_lock(reg.read_text(release, layout.data_file(dataset, n))) for n in names
                if n.endswith(".dvc")]
        sizes = {path: size for doc in docs for path, size in out_sizes(doc).items()}
    return sum(sizes.values()) if sizes else None


def stage_names(reg: Registry, release: Release) -> list[str]:
    """The pipeline's stages at the release in dvc.yaml order; `dreg add` for curated data."""
    text = reg.read_text(release, layout.dvc_yaml(release.dataset))
    return list((load_yaml(text) or {}).get("stages", {})) if text else ["dreg add"]


def parse_metadata(text: str | None) -> dict[str, Any]:
    """A release's metadata.json as a mapping; {} when absent, not JSON, nested past Python's limits or no mapping
    (one bad release never fails the whole catalogue)."""
    try:
        doc = json.loads(text) if text else {}
    except (ValueError, RecursionError):
        return {}
    return doc if isinstance(doc, dict) else {}


def release_contents(reg: Registry, release: Release) -> dict[str, Any]:
    """What the catalogue reads from git at one release (metadata, card, size, stage names, Croissant): the part a
    rebuild can keep, since a release tag never moves."""
    meta, dataset = reg.read_text(release, layout.metadata_json(release.dataset)), release.dataset
    return {"commit": release.commit, "metadata": parse_metadata(meta),
            "card": reg.read_text(release, layout.card_md(dataset)), "size": release_size(reg, release),
            "stages": stage_names(reg, release), "croissant": reg.read_text(release, layout.croissant_json(dataset))}


def read_release(reg: Registry, version: Version, previous: Version | None, date: str,
                 known: dict[str, dict[str, Any]]) -> ReleaseInfo:
    """Everything the catalogue shows about one release tag; its contents from `known` ({tag: contents}, updated)
    when read before at the same commit."""
    release = Release(version.dataset, version.semver, version.tag, reg.refs[version.tag])  # listed from the refs
    got = known.get(version.tag)
    if not isinstance(got, dict) or got.get("commit") != release.commit:
        got = known[version.tag] = release_contents(reg, release)
    return ReleaseInfo(version, date, bump_kind(version, previous), got["metadata"], got["card"], got["size"],
                       list(got["stages"]), got.get("croissant"))


def read_datasets(reg: Registry, known: dict[str, dict[str, Any]] | None = None) -> list[DatasetInfo]:
    """Every dataset with release tags in the registry, by name (a remote's tags fetched once per dataset); the
    contents of releases in `known` ({tag: contents}, from an earlier build; updated) are not read again."""
    known = {} if known is None else known
    datasets = []
    for name in sorted(reg.index.versions):  # the refs as the handle parsed them once
        dates = tag_dates(reg.tag_objects(name), name)
        versions = sorted(v for t in dates if (v := parse_tag(t, name)) and t in reg.refs)
        releases = [read_release(reg, v, versions[i - 1] if i else None, dates[v.tag], known)
                    for i, v in enumerate(versions)]
        datasets.append(DatasetInfo(name, releases[::-1], reg.stages(name)))
    return datasets
