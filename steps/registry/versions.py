"""Release versions: the one tag grammar `<dataset>-vMAJOR.MINOR.PATCH[-automated]`, semver bumps, resolving.

References, one grammar everywhere (CLI, `--repo`, client): `DATASET` (latest), `DATASET@1.2.0`, `DATASET@v1.2.0`,
`DATASET@latest`, `DATASET@<stage>` (a promotion stage: `steps.registry.stages`) and the tag `DATASET-v1.2.0`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from steps import layout
from steps.errors import DregError
from steps.git import git, git_message, remote_tags

Bump = Literal["patch", "minor", "major"]
FIRST = (1, 0, 0)
AUTOMATED_SUFFIX = "-automated"
DATASET_NAME = r"[a-z0-9][a-z0-9-]{0,63}"
DATASET_RE = re.compile(rf"^{DATASET_NAME}$")
TAG = re.compile(rf"^(?P<dataset>{DATASET_NAME})-v(?P<major>\d+)\.(?P<minor>\d+)\.(?P<patch>\d+)"
                 rf"(?P<automated>{AUTOMATED_SUFFIX})?$")
STAGE_NAME = r"(?!v\d)[a-z][a-z0-9-]{0,31}"  # never read as a version (`v2`)
STAGE_RE = re.compile(rf"^{STAGE_NAME}$")
STAGE_TAG = re.compile(rf"^(?P<dataset>{DATASET_NAME})#(?P<stage>{STAGE_NAME})#(?P<number>[1-9]\d{{0,8}})$")
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


def check_stage(stage: str) -> str:
    """`stage` if it is a valid promotion stage name (lower-case letters, digits, dashes; not `latest`)."""
    if not STAGE_RE.match(stage) or stage in RESERVED_STAGES:
        raise DregError(f"invalid stage name {stage[:40]!r}",
                        "use a lower-case word such as prod or staging (letters, digits, dashes; not 'latest')")
    return stage


def parse_stage_tag(tag: str, dataset: str | None = None) -> tuple[str, str, int] | None:
    """(dataset, stage, number) of a promotion tag `<dataset>#<stage>#<n>` (of `dataset`, when given), else None."""
    m = STAGE_TAG.match(tag)
    if not m or (dataset is not None and m["dataset"] != dataset):
        return None
    return m["dataset"], m["stage"], int(m["number"])


def stage_tag(dataset: str, stage: str, number: int) -> str:
    """The promotion tag name of the `number`-th assignment of `stage` for `dataset`."""
    return f"{check_dataset(dataset)}#{check_stage(stage)}#{number}"


def release_tags(root: Path | str = ".", repo: str | None = None) -> list[str]:
    """Every release tag (sorted): local tags of the registry at `root`, or `repo`'s refs (read without cloning)."""
    tags = remote_tags(repo) if repo is not None else git("tag", "--list", cwd=root).stdout.split()
    return sorted(t for t in tags if parse_tag(t))


def split_ref(ref: str) -> tuple[str, str | None]:
    """(dataset, wanted) of a reference; `wanted` None for the latest. One line on bad syntax."""
    if (v := parse_tag(ref)) is not None:
        return v.dataset, v.tag
    dataset, at, wanted = ref.partition("@")
    if DATASET_RE.match(dataset) and (not at or re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9.+-]{0,79}", wanted)):
        return dataset, wanted or None
    shown = ref[:40] + ("…" if len(ref) > 40 else "")
    raise DregError(f"bad reference {shown!r}", "write DATASET, DATASET@1.2.0, DATASET@latest, DATASET@prod or the "
                                                "tag DATASET-v1.2.0")


def unknown_dataset(dataset: str, known: Iterable[str], where: str = "") -> DregError:
    """"unknown dataset" with the closest known names as the hint."""
    names = sorted(set(known))
    close = difflib.get_close_matches(dataset, names, n=3, cutoff=0.6)
    listing = f"datasets{where}: {', '.join(names[:12])}{' …' if len(names) > 12 else ''}" if names else \
        f"no datasets{where} yet"
    return DregError(f"unknown dataset '{dataset}'{where}", (f"did you mean: {', '.join(close)}? " if close else "") + listing)


def known_datasets(tags: Iterable[str], root: Path | str = ".", repo: str | None = None) -> set[str]:
    """Dataset names a registry knows: those with release tags, plus (locally) its pipelines and curated data."""
    names = {v.dataset for t in tags if (v := parse_tag(t))}
    return names if repo is not None else names | set(layout.pipeline_datasets(root)) | set(layout.curated_datasets(root))


def resolve_ref(ref: str, root: Path | str = ".", repo: str | None = None) -> Version:
    """THE resolver: `DATASET[@1.2.0|@v1.2.0|@latest|@<stage>]` or the tag `DATASET-v1.2.0` → the published Version.

    `repo` None reads the local tags of the registry at `root`; otherwise `repo` (git URL, `file://` or a plain
    path) is read through its refs (`git ls-remote`), without cloning.
    """
    dataset, wanted = split_ref(ref)
    where = f" in {repo}" if repo is not None else ""
    refs = remote_refs(repo) if repo is not None else None
    tags = list(refs) if refs is not None else git("tag", "--list", cwd=root).stdout.split()
    versions = versions_in(tags, dataset)
    if not versions and dataset not in known_datasets(tags, root, repo):
        raise unknown_dataset(dataset, known_datasets(tags, root, repo), where)
    if wanted and not re.match(r"v?\d", wanted) and wanted != "latest" and parse_tag(wanted) is None:
        return stage_version(dataset, check_stage(wanted), versions, root, refs, where)
    return pick_version(versions, dataset, wanted, where)


def stage_version(dataset: str, stage: str, versions: list[Version], root: Path | str,
                  refs: dict[str, str] | None, where: str = "") -> Version:
    """The version `stage` currently names for `dataset` (its newest promotion tag)."""
    current = stage_assignments(dataset, root, refs).get(stage)
    if current is None:
        raise DregError(f"{dataset} has no version in stage '{stage}'{where}",
                        f"promote one with `dreg promote {dataset}@VERSION --to {stage}`; see `dreg history {dataset}`")
    return pick_version(versions, dataset, current, where)


def local_refs(root: Path | str = ".") -> dict[str, str]:
    """{tag name: commit it peels to} of the repository at `root`."""
    out = git("for-each-ref", "--format=%(refname:strip=2) %(objectname) %(*objectname)", "refs/tags", cwd=root).stdout
    return {name: peeled or sha for name, sha, peeled in (f"{line} ".split(" ")[:3] for line in out.splitlines())}


def version_at(dataset: str, commit: str, refs: dict[str, str]) -> str | None:
    """The semver of the release of `dataset` at `commit` (the newest, if several share it)."""
    found = sorted((v for t, c in refs.items() if c == commit and (v := parse_tag(t, dataset))), reverse=True)
    return found[0].semver if found else None


def stage_assignments(dataset: str, root: Path | str = ".", refs: dict[str, str] | None = None) -> dict[str, str]:
    """{stage: semver} from the newest promotion tag of each stage (`refs` from `remote_refs`, or local tags):
    a promotion tag sits on its release's commit."""
    refs = local_refs(root) if refs is None else refs
    newest: dict[str, tuple[int, str]] = {}
    for tag, commit in refs.items():
        if (parsed := parse_stage_tag(tag, dataset)) and parsed[2] > newest.get(parsed[1], (0, ""))[0]:
            newest[parsed[1]] = (parsed[2], commit)
    return {stage: semver for stage, (_, commit) in sorted(newest.items())
            if (semver := version_at(dataset, commit, refs)) is not None}


def remote_refs(repo: str, cwd: Path | str | None = None) -> dict[str, str]:
    """{tag name: commit it peels to} of a repository (path, git URL or, with `cwd`, a remote's name), read with
    `git ls-remote` (no clone)."""
    proc = git("ls-remote", "--tags", "--", repo, cwd=cwd, check=False)
    if proc.returncode != 0:
        raise DregError(f"cannot read tags of {repo[:200]}: {git_message(proc)}", "check the registry URL or path")
    refs: dict[str, str] = {}
    for sha, _, name in (line.partition("\t") for line in proc.stdout.splitlines()):
        if name.startswith("refs/tags/"):
            short = name.removeprefix("refs/tags/")
            if short.endswith("^{}"):
                refs[short.removesuffix("^{}")] = sha
            else:
                refs.setdefault(short, sha)
    return refs
