"""Release versions: the one tag grammar `<dataset>-vMAJOR.MINOR.PATCH[-automated]`, semver bumps, resolving."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from steps.errors import DregError
from steps.git import git

Bump = Literal["patch", "minor", "major"]
FIRST = (1, 0, 0)
AUTOMATED_SUFFIX = "-automated"
DATASET_NAME = r"[a-z0-9][a-z0-9-]{0,63}"
DATASET_RE = re.compile(rf"^{DATASET_NAME}$")
TAG = re.compile(rf"^(?P<dataset>{DATASET_NAME})-v(?P<major>\d+)\.(?P<minor>\d+)\.(?P<patch>\d+)"
                 rf"(?P<automated>{AUTOMATED_SUFFIX})?$")


@dataclass(frozen=True, order=True)
class Version:
    """One published version of a dataset (ordered by semver)."""

    major: int
    minor: int
    patch: int
    dataset: str = ""
    automated: bool = False

    @property
    def semver(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"

    @property
    def tag(self) -> str:
        return f"{self.dataset}-v{self.semver}{AUTOMATED_SUFFIX if self.automated else ''}"

    def bump(self, kind: Bump, automated: bool = False) -> Version:
        major, minor, patch = self.major, self.minor, self.patch
        if kind == "major":
            major, minor, patch = major + 1, 0, 0
        elif kind == "minor":
            minor, patch = minor + 1, 0
        else:
            patch += 1
        return Version(major, minor, patch, self.dataset, automated)


def parse_tag(tag: str, dataset: str | None = None) -> Version | None:
    """The Version a release tag names (of `dataset`, when given), or None for any other tag."""
    m = TAG.match(tag)
    if not m or (dataset is not None and m["dataset"] != dataset):
        return None
    return Version(int(m["major"]), int(m["minor"]), int(m["patch"]), m["dataset"], bool(m["automated"]))


def versions_in(tags: Iterable[str], dataset: str) -> list[Version]:
    """The versions of `dataset` among `tags`, newest first."""
    return sorted((v for t in tags if (v := parse_tag(t, dataset))), reverse=True)


def check_dataset(dataset: str) -> str:
    """`dataset` if it is a valid dataset name (lower-case letters, digits, dashes; at most 64 characters)."""
    if not DATASET_RE.match(dataset):
        shown = dataset[:40] + ("…" if len(dataset) > 40 else "")
        raise DregError(f"invalid dataset name {shown!r}", "use lower-case letters, digits and dashes (at most 64)")
    return dataset


def local_tags(dataset: str, root: Path | str = ".") -> list[str]:
    """Release-looking tags of `dataset` in the repository at `root`."""
    return git("tag", "--list", "--", f"{check_dataset(dataset)}-v*", cwd=root).stdout.split()


def list_versions(dataset: str, root: Path | str = ".") -> list[Version]:
    """Published versions of `dataset` (from local tags), newest first."""
    return versions_in(local_tags(dataset, root), dataset)


def latest_version(dataset: str, root: Path | str = ".") -> Version | None:
    """The newest published version of `dataset`, or None before its first release."""
    return next(iter(list_versions(dataset, root)), None)


def next_version(dataset: str, bump: Bump, automated: bool, root: Path | str = ".") -> Version:
    """The version a new release gets: v1.0.0 first, then the latest bumped by `bump`."""
    latest = latest_version(dataset, root)
    return latest.bump(bump, automated) if latest else Version(*FIRST, dataset, automated)


def pick_version(versions: list[Version], dataset: str, wanted: str | None, where: str = "") -> Version:
    """The one resolver: `latest`/None, `1.2.0`, `v1.2.0` or a full tag, among `versions` (newest first)."""
    if not versions:
        raise DregError(f"{dataset} has no published versions{where}",
                        f"check the dataset name with `dreg list`, or publish one with `dreg run {dataset}`")
    if wanted in (None, "", "latest"):
        return versions[0]
    short = wanted.removeprefix(f"{dataset}-").removeprefix("v")
    for v in versions:
        if short in (v.semver, v.tag.removeprefix(f"{dataset}-v")):
            return v
    raise DregError(f"{dataset} has no version {wanted}", f"published: {', '.join(v.semver for v in versions[:5])}")


def resolve_version(dataset: str, version: str | None, root: Path | str = ".") -> Version:
    """A published version of the registry at `root` (local tags)."""
    return pick_version(list_versions(dataset, root), dataset, version)


def resolve_ref(ref: str, root: Path | str = ".") -> Version:
    """`DATASET@VERSION` (or `DATASET` for the latest) → the published Version."""
    dataset, _, version = ref.partition("@")
    if not DATASET_RE.match(dataset) or not re.fullmatch(r"[A-Za-z0-9.+-]{0,80}", version) or version.startswith("-"):
        shown = ref[:40] + ("…" if len(ref) > 40 else "")
        raise DregError(f"bad reference {shown!r}", "write DATASET@VERSION, e.g. emotion@1.0.0")
    return resolve_version(dataset, version or None, root)
