"""Promotion stages (GTO's model): each assignment of a version to a stage is a NEW annotated tag
`<dataset>#<stage>#<n>` on the release's commit, never a moved one; a stage names the version of its newest tag.

`n` counts every promotion of the dataset (all stages), so tags sort in promotion order and two promoters racing
for the same number cannot both push it: the loser takes the next number. `#` is valid in git ref names and can
never appear in a release tag (`<dataset>-vX.Y.Z`), so the two are never mistaken for each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from steps.git import git, local_refs
from steps.refs.handle import open_registry
from steps.refs.versions import (
    parse_stage_tag,
    parse_tag,
    version_at,
)


@dataclass(frozen=True)
class Promotion:
    """One stage assignment as its tag records it."""

    tag: str
    dataset: str
    stage: str
    number: int
    version: str | None
    by: str
    at: str


def current_stages(dataset: str, root: Path | str = ".", repo: str | None = None) -> dict[str, str]:
    """Stage → semver currently assigned for `dataset`: local tags at `root`, or `repo`'s refs (no clone)."""
    with open_registry(repo, root) as reg:
        return reg.stages(dataset)


def parse_message(text: str) -> dict[str, str]:
    """The `key: value` lines of a promotion message."""
    return {k.strip(): v.strip() for k, sep, v in (ln.partition(":") for ln in text.splitlines()) if sep and k.strip()}


def tag_records(root: Path | str, patterns: list[str]) -> list[tuple[str, int, str, str]]:
    """(name, creation time in unix seconds, tagger `Name <email>`, message) of the tags matching `patterns`."""
    fmt = "%(refname:strip=2)%00%(creatordate:unix)%00%(taggername) %(taggeremail)%00%(contents)%01"
    out = git("for-each-ref", f"--format={fmt}", "--", *patterns, cwd=root).stdout
    records = []
    for record in out.split("\x01"):
        fields = record.lstrip("\n").split("\x00", 3)
        if len(fields) == 4:
            records.append((fields[0], int(fields[1] or 0), fields[2].strip(), fields[3]))
    return records


def utc(seconds: int) -> str:
    """Unix seconds as an ISO 8601 UTC timestamp."""
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")


def promotions(dataset: str, root: Path | str = ".") -> list[Promotion]:
    """Every promotion of `dataset` recorded by the tags of the repository at `root`, oldest first."""
    refs = local_refs(root)
    found = []
    for name, seconds, tagger, body in tag_records(root, [f"refs/tags/{dataset}#*"]):
        if parsed := parse_stage_tag(name, dataset):
            fields = parse_message(body)
            found.append(Promotion(name, dataset, parsed[1], parsed[2],
                                   fields.get("version") or version_at(dataset, refs.get(name, ""), refs),
                                   fields.get("by") or tagger, utc(seconds)))
    return sorted(found, key=lambda p: p.number)


def history(dataset: str, root: Path | str = ".") -> list[dict[str, object]]:
    """Releases and promotions of `dataset` in time order (ties: releases first, then by version or number)."""
    events: list[tuple[tuple, dict[str, object]]] = []
    for name, seconds, tagger, _ in tag_records(root, [f"refs/tags/{dataset}-v*"]):
        if v := parse_tag(name, dataset):
            events.append(((seconds, 0, v.major, v.minor, v.patch), {
                "kind": "release", "at": utc(seconds), "version": v.semver, "tag": name, "stage": None,
                "by": tagger or None}))
    times = {name: seconds for name, seconds, _, _ in tag_records(root, [f"refs/tags/{dataset}#*"])}
    for p in promotions(dataset, root):
        events.append(((times[p.tag], 1, p.number, 0, 0), {
            "kind": "promotion", "at": p.at, "version": p.version, "tag": p.tag, "stage": p.stage, "by": p.by}))
    return [event for _, event in sorted(events, key=lambda e: e[0])]


