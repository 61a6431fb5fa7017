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

from steps.errors import DregError
from steps.git import git, git_message
from steps.registry.versions import (
    Version,
    check_stage,
    local_refs,
    parse_stage_tag,
    parse_tag,
    remote_refs,
    resolve_ref,
    stage_assignments,
    stage_tag,
    version_at,
)

MAX_ATTEMPTS = 20


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
    return stage_assignments(dataset, root, remote_refs(repo) if repo is not None else None)


def message(version: Version, stage: str, by: str, at: str) -> str:
    """The annotated promotion tag's message: what was assigned, by whom, when."""
    return (f"promote {version.tag} to {stage}\n\ndataset: {version.dataset}\nversion: {version.semver}\n"
            f"tag: {version.tag}\nstage: {stage}\nby: {by}\nat: {at}\n")


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


def identity(root: Path | str) -> tuple[list[str], str]:
    """(git `-c` identity args when none is configured, the `Name <email>` recorded as who promoted)."""
    args: list[str] = []
    if not git("config", "user.email", cwd=root, check=False).stdout.strip():
        args = ["-c", "user.name=data-registry", "-c", "user.email=data-registry@localhost"]
    ident = git(*args, "var", "GIT_COMMITTER_IDENT", cwd=root, check=False).stdout.strip()
    return args, ident.rsplit(">", 1)[0] + ">" if ">" in ident else "unknown"


def next_number(dataset: str, *tag_lists: list[str]) -> int:
    """1 + the highest promotion number of `dataset` among the given tag names."""
    return 1 + max((p[2] for tags in tag_lists for t in tags if (p := parse_stage_tag(t, dataset))), default=0)


def has_remote(root: Path | str, remote: str) -> bool:
    """Whether the registry has the git remote `remote` (origin)."""
    return git("remote", "get-url", "--", remote, cwd=root, check=False).returncode == 0


def require_data(version: Version, root: Path | str) -> None:
    """Refuse (one line) unless the DVC remote holds every object of `version`, intact (`verify --remote-only`)."""
    from steps.registry.verify import audit_remote

    problems = audit_remote([version.tag], root)[0].problems
    if problems:
        raise DregError(f"{version.tag}: its data is not intact in the DVC remote ({len(problems)} problem(s), "
                        f"first: {problems[0][:160]}); nothing was promoted",
                        f"push the data with `dvc push`, then check it with `dreg verify --remote-only {version.tag}`")


def promote(ref: str, stage: str, root: Path | str = ".", push: bool | None = None) -> tuple[str, Version]:
    """Assign the version `ref` names to `stage` with a new annotated tag; push it to origin (default when the
    registry has one). Only versions whose data the DVC remote holds intact; return (the tag created, version)."""
    from steps.config import get_settings

    root = Path(root).resolve()
    check_stage(stage)
    version = resolve_ref(ref, root)
    remote = get_settings().git_remote
    push = has_remote(root, remote) if push is None else push
    if push and not has_remote(root, remote):
        raise DregError(f"this registry has no git remote '{remote}' to push the promotion to",
                        "add it with `git remote add`, or promote locally with --no-push")
    origin = remote_refs(remote, cwd=root) if push else {}
    if push and version.tag not in origin:
        raise DregError(f"{version.tag} is not on {remote}: consumers could not read it; nothing was promoted",
                        f"publish it first (`git push {remote} {version.tag}`, or `dreg publish --push`)")
    require_data(version, root)
    if push:
        fetch_stage_tags(version.dataset, remote, root)  # this clone's history shows every promoter's tags
    args, by = identity(root)
    commit = git("rev-parse", f"refs/tags/{version.tag}^{{commit}}", cwd=root).stdout.strip()
    for _ in range(MAX_ATTEMPTS):
        tag = stage_tag(version.dataset, stage, next_number(version.dataset, list(local_refs(root)), list(origin)))
        at = datetime.now(UTC).isoformat(timespec="seconds")
        made = git(*args, "tag", "-a", tag, "-m", message(version, stage, by, at), commit, cwd=root, check=False)
        if made.returncode != 0:
            if tag in local_refs(root):
                continue  # another promotion in this clone took the number first
            raise DregError(f"git tag failed: {git_message(made)}", "see `git status` in the registry")
        if not push:
            return tag, version
        proc = git("push", "-q", "--atomic", "--", remote, f"refs/tags/{tag}", cwd=root, check=False)
        if proc.returncode == 0:
            return tag, version
        git("tag", "-d", tag, cwd=root, check=False)
        origin = remote_refs(remote, cwd=root)
        if tag not in origin:  # not a lost race: origin refused it (a hook, permissions)
            raise DregError(f"{remote} refused {tag}: {git_message(proc)}", "nothing was promoted; see the message")
        fetch_stage_tags(version.dataset, remote, root)
    raise DregError(f"{version.dataset}: {MAX_ATTEMPTS} promotions raced this one", "retry `dreg promote`")


def fetch_stage_tags(dataset: str, remote: str, root: Path | str) -> None:
    """Copy origin's promotion tags of `dataset` that this clone lacks (never moving a local tag)."""
    git("fetch", "-q", "--no-tags", "--", remote, f"refs/tags/{dataset}#*:refs/tags/{dataset}#*", cwd=root,
        check=False)
