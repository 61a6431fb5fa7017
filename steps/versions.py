"""Release versions: tags `<dataset>-vMAJOR.MINOR.PATCH[-automated]` and semver bumps."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from steps.errors import DregError
from steps.gitinfo import git

Bump = Literal["patch", "minor", "major"]
FIRST = (1, 0, 0)
AUTOMATED_SUFFIX = "-automated"


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


def tag_pattern(dataset: str) -> re.Pattern[str]:
    return re.compile(rf"^{re.escape(dataset)}-v(\d+)\.(\d+)\.(\d+)({AUTOMATED_SUFFIX})?$")


def parse_tag(tag: str, dataset: str) -> Version | None:
    """The Version a tag names for `dataset`, or None if it is not one of its release tags."""
    m = tag_pattern(dataset).match(tag)
    if not m:
        return None
    return Version(int(m[1]), int(m[2]), int(m[3]), dataset, bool(m[4]))


def list_versions(dataset: str, root: Path | str = ".") -> list[Version]:
    """Published versions of `dataset` (from local tags), newest first."""
    tags = git("tag", "--list", f"{dataset}-v*", cwd=root).stdout.split()
    return sorted((v for t in tags if (v := parse_tag(t, dataset))), reverse=True)


def next_version(dataset: str, bump: Bump, automated: bool, root: Path | str = ".") -> Version:
    """The version a new release gets: v1.0.0 first, then the latest bumped by `bump`."""
    versions = list_versions(dataset, root)
    if not versions:
        return Version(*FIRST, dataset, automated)
    return versions[0].bump(bump, automated)


def resolve_version(dataset: str, version: str | None, root: Path | str = ".") -> Version:
    """A published version from `latest`/None, `1.2.0`, `v1.2.0` or a full tag."""
    versions = list_versions(dataset, root)
    if not versions:
        raise DregError(f"{dataset} has no published versions", f"publish one with `dreg run {dataset}`")
    if version in (None, "", "latest"):
        return versions[0]
    wanted = version.removeprefix(f"{dataset}-").removeprefix("v")
    for v in versions:
        if wanted in (v.semver, v.tag.removeprefix(f"{dataset}-v")):
            return v
    raise DregError(f"{dataset} has no version {version}", f"published: {', '.join(v.semver for v in versions[:5])}")
