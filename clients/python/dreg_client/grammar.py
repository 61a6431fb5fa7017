"""The one reference grammar: release tags `<dataset>-vMAJOR.MINOR.PATCH[-automated]`, promotion tags
`<dataset>#<stage>#<n>`, and references `DATASET`, `DATASET@1.2.0`, `@v1.2.0`, `@latest`, `@<stage>` or the tag.

Pure functions over tag names and a {tag: commit} map; nothing here runs git or reads files.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from dreg_client.errors import BadReference, DatasetNotFound, VersionNotFound

Bump = Literal["patch", "minor", "major"]
BUMPS: tuple[Bump, ...] = ("patch", "minor", "major")
FIRST = (1, 0, 0)
AUTOMATED_SUFFIX = "-automated"
DATASET_NAME = r"[a-z0-9][a-z0-9-]{0,63}"
DATASET_RE = re.compile(DATASET_NAME)
TAG = re.compile(rf"(?P<dataset>{DATASET_NAME})-v(?P<major>\d+)\.(?P<minor>\d+)\.(?P<patch>\d+)"
                 rf"(?P<automated>{AUTOMATED_SUFFIX})?")
STAGE_NAME = r"(?!v\d)[a-z][a-z0-9-]{0,31}"  # never read as a version (`v2`)
STAGE_RE = re.compile(STAGE_NAME)
STAGE_TAG = re.compile(rf"(?P<dataset>{DATASET_NAME})#(?P<stage>{STAGE_NAME})#(?P<number>[1-9]\d{{0,8}})")
WANTED = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+-]{0,79}")
RESERVED_STAGES = ("latest",)


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
        """The next version after this one for a `kind` bump."""
        major, minor, patch = self.major, self.minor, self.patch
        if kind == "major":
            major, minor, patch = major + 1, 0, 0
        elif kind == "minor":
            minor, patch = minor + 1, 0
        else:
            patch += 1
        return Version(major, minor, patch, self.dataset, automated)


def shown(value: str, limit: int = 40) -> str:
    """`value` bounded for an error line (user input is never echoed whole)."""
    return value[:limit] + ("…" if len(value) > limit else "")


def parse_tag(tag: str, dataset: str | None = None) -> Version | None:
    """The Version a release tag names (of `dataset`, when given), or None for any other tag."""
    m = TAG.fullmatch(tag)
    if not m or (dataset is not None and m["dataset"] != dataset):
        return None
    return Version(int(m["major"]), int(m["minor"]), int(m["patch"]), m["dataset"], bool(m["automated"]))


def versions_in(tags: Iterable[str], dataset: str) -> list[Version]:
    """The versions of `dataset` among `tags`, newest first."""
    return sorted((v for t in tags if (v := parse_tag(t, dataset))), reverse=True)


def release_tags(tags: Iterable[str]) -> list[str]:
    """The release tags among `tags`, sorted."""
    return sorted(t for t in tags if parse_tag(t))


def datasets_in(tags: Iterable[str]) -> set[str]:
    """Dataset names that have release tags among `tags`."""
    return {v.dataset for t in tags if (v := parse_tag(t))}


def check_dataset(dataset: str) -> str:
    """`dataset` if it is a valid dataset name (lower-case letters, digits, dashes; at most 64 characters)."""
    if not isinstance(dataset, str) or not DATASET_RE.fullmatch(dataset):
        raise BadReference(f"invalid dataset name {shown(str(dataset))!r}",
                           "use lower-case letters, digits and dashes (at most 64)")
    return dataset


def check_stage(stage: str) -> str:
    """`stage` if it is a valid promotion stage name (lower-case letters, digits, dashes; not `latest`)."""
    if not STAGE_RE.fullmatch(stage) or stage in RESERVED_STAGES:
        raise BadReference(f"invalid stage name {shown(stage)!r}",
                           "use a lower-case word such as prod or staging (letters, digits, dashes; not 'latest')")
    return stage


def parse_stage_tag(tag: str, dataset: str | None = None) -> tuple[str, str, int] | None:
    """(dataset, stage, number) of a promotion tag `<dataset>#<stage>#<n>` (of `dataset`, when given), else None."""
    m = STAGE_TAG.fullmatch(tag)
    if not m or (dataset is not None and m["dataset"] != dataset):
        return None
    return m["dataset"], m["stage"], int(m["number"])


def stage_tag(dataset: str, stage: str, number: int) -> str:
    """The promotion tag name of the `number`-th assignment of `stage` for `dataset`."""
    return f"{check_dataset(dataset)}#{check_stage(stage)}#{number}"


def split_ref(ref: str) -> tuple[str, str | None]:
    """(dataset, wanted) of a reference; `wanted` None for the latest. BadReference on bad syntax."""
    if (v := parse_tag(ref)) is not None:
        return v.dataset, v.tag
    dataset, at, wanted = ref.partition("@")
    if DATASET_RE.fullmatch(dataset) and (not at or WANTED.fullmatch(wanted)):
        return dataset, wanted or None
    raise BadReference(f"bad reference {shown(ref)!r}", "write DATASET, DATASET@1.2.0, DATASET@latest, DATASET@prod "
                                                         "or the tag DATASET-v1.2.0")


def join_ref(ref: str, version: str | None) -> str:
    """`ref` with `version` applied: the old call form `(dataset, path, version)` as one reference."""
    if version in (None, ""):
        return ref
    dataset, wanted = split_ref(ref)
    if wanted is not None:
        raise BadReference(f"{shown(ref)!r} already names a version; version={shown(str(version))!r} is one too many",
                           "give the version once: in the reference (DATASET@1.2.0) or as version=")
    return f"{dataset}@{version}"


def is_stage_name(wanted: str | None) -> bool:
    """True when `wanted` names a promotion stage rather than a version (`prod`, not `1.2.0`/`latest`/a tag)."""
    text = wanted or ""
    return bool(text) and not re.match(r"v?\d", text) and text != "latest" and parse_tag(text) is None


def pick_version(versions: list[Version], dataset: str, wanted: str | None, where: str = "") -> Version:
    """`latest`/None, `1.2.0`, `v1.2.0` or a full tag, among `versions` (newest first)."""
    if not versions:
        raise VersionNotFound(f"{dataset} has no published versions{where}",
                              f"check the dataset name with `dreg list`, or publish one with `dreg run {dataset}`")
    if wanted in (None, "", "latest"):
        return versions[0]
    short = (wanted or "").removeprefix(f"{dataset}-").removeprefix("v")
    for v in versions:
        if short in (v.semver, v.tag.removeprefix(f"{dataset}-v")):
            return v
    raise VersionNotFound(f"{dataset} has no version {shown(wanted or '')}{where}",
                          f"published: {', '.join(v.semver for v in versions[:5])}")


def unknown_dataset(dataset: str, known: Iterable[str], where: str = "") -> DatasetNotFound:
    """"unknown dataset" with the closest known names as the hint."""
    names = sorted(set(known))
    close = difflib.get_close_matches(dataset, names, n=3, cutoff=0.6)
    listing = f"datasets{where}: {', '.join(names[:12])}{' …' if len(names) > 12 else ''}" if names else \
        f"no datasets{where} yet"
    return DatasetNotFound(f"unknown dataset '{shown(dataset, 64)}'{where}",
                           (f"did you mean: {', '.join(close)}? " if close else "") + listing)


def version_at(dataset: str, commit: str, refs: Mapping[str, str]) -> str | None:
    """The semver of the release of `dataset` at `commit` (the newest, if several share it)."""
    found = sorted((v for t, c in refs.items() if c == commit and (v := parse_tag(t, dataset))), reverse=True)
    return found[0].semver if found else None


@dataclass(frozen=True)
class RefIndex:
    """Every tag of a registry parsed once: versions per dataset (newest first), current stage assignments."""

    versions: dict[str, list[Version]]
    stages: dict[str, dict[str, str]]


def index_refs(refs: Mapping[str, str]) -> RefIndex:
    """One pass over `refs` ({tag: commit}): each dataset's versions and, from the newest promotion tag of each
    stage (it sits on its release's commit), {stage: semver}."""
    versions: dict[str, list[Version]] = {}
    at_commit: dict[tuple[str, str], Version] = {}
    newest: dict[tuple[str, str], tuple[int, str]] = {}
    for tag, commit in refs.items():
        if (v := parse_tag(tag)) is not None:
            versions.setdefault(v.dataset, []).append(v)
            at_commit[v.dataset, commit] = max(v, at_commit.get((v.dataset, commit), v))
        elif (p := parse_stage_tag(tag)) is not None and p[2] > newest.get((p[0], p[1]), (0, ""))[0]:
            newest[p[0], p[1]] = (p[2], commit)
    stages: dict[str, dict[str, str]] = {}
    for (dataset, stage), (_, commit) in sorted(newest.items()):
        if (found := at_commit.get((dataset, commit))) is not None:
            stages.setdefault(dataset, {})[stage] = found.semver
    return RefIndex({d: sorted(vs, reverse=True) for d, vs in versions.items()}, stages)


def stage_assignments(dataset: str, refs: Mapping[str, str]) -> dict[str, str]:
    """{stage: semver} of `dataset` currently assigned in `refs` ({tag: commit})."""
    return dict(index_refs(refs).stages.get(dataset, {}))


def next_number(dataset: str, *tag_lists: Iterable[str]) -> int:
    """1 + the highest promotion number of `dataset` among the given tag names."""
    return 1 + max((p[2] for tags in tag_lists for t in tags if (p := parse_stage_tag(t, dataset))), default=0)
