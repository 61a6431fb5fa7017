"""Versions of the registry's own datasets: the client's one grammar (`dreg_client.grammar`) plus what only a
producer asks: the local release tags of a dataset and the version its next release gets."""

from __future__ import annotations

from pathlib import Path

from dreg_client.grammar import (
    AUTOMATED_SUFFIX,
    BUMPS,
    FIRST,
    Bump,
    Version,
    check_dataset,
    check_stage,
    datasets_in,
    next_number,
    parse_stage_tag,
    parse_tag,
    pick_version,
    split_ref,
    stage_assignments,
    stage_tag,
    unknown_dataset,
    version_at,
    versions_in,
)
from steps.git import git

__all__ = ["AUTOMATED_SUFFIX", "BUMPS", "FIRST", "Bump", "Version", "check_dataset", "check_stage", "datasets_in",
           "latest_version", "list_versions", "local_tags", "next_number", "next_version", "parse_stage_tag",
           "parse_tag", "pick_version", "split_ref", "stage_assignments", "stage_tag", "unknown_dataset",
           "version_at", "versions_in"]


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
