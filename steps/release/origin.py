"""Talking to origin: the release branch, fetching origin's branch and tags (never moving a local tag), adopting
origin's tags, rebasing onto it and the git identity releases are made with."""

from __future__ import annotations

from pathlib import Path

from steps.config import get_settings
from steps.errors import DregError
from steps.git import git, git_message, update_refs
from steps.output import console

ORIGIN_TAGS = "refs/dreg/origin-tags"  # origin's tags as last fetched: local tags are never moved by a fetch


def identity_args(root: Path) -> list[str]:
    """`-c user.name/email` for git when the environment has no identity (e.g. a fresh container)."""
    if git("config", "user.email", cwd=root, check=False).stdout.strip():
        return []
    return ["-c", "user.name=data-registry", "-c", "user.email=data-registry@localhost"]


def current_branch(root: Path) -> str:
    """The branch releases are committed on; a detached HEAD (a CI checkout of a sha) gets the release branch."""
    branch = git("symbolic-ref", "--quiet", "--short", "HEAD", cwd=root, check=False).stdout.strip()
    if branch:
        return branch
    branch = get_settings().release_branch
    git("checkout", "-q", "-B", branch, cwd=root)
    console.print(f"HEAD was detached: releasing on branch '{branch}' (DREG_RELEASE_BRANCH)")
    return branch


def fetch_origin(root: Path, branch: str) -> None:
    """Fetch origin's branch, and its tags into a private namespace (a fetch never moves a local tag)."""
    remote = get_settings().git_remote
    git("fetch", "-q", "--no-tags", "--prune", "--", remote, f"+refs/heads/{branch}:refs/remotes/{remote}/{branch}",
        f"+refs/tags/*:{ORIGIN_TAGS}/*", cwd=root)


def ref_map(root: Path, namespace: str) -> dict[str, str]:
    """{name below `namespace`: object id} of the refs in `namespace`."""
    out = git("for-each-ref", "--format=%(objectname) %(refname)", namespace, cwd=root).stdout
    return {ref.removeprefix(namespace + "/"): oid for oid, ref in (line.split(" ", 1) for line in out.splitlines())}


def adopt_origin_tags(root: Path) -> dict[str, str]:
    """Create the local tags that origin has and this clone lacks (never moving one); return origin's tags."""
    origin, local = ref_map(root, ORIGIN_TAGS), ref_map(root, "refs/tags")
    missing = "".join(f"create refs/tags/{name} {oid}\n" for name, oid in origin.items() if name not in local)
    if missing:
        update_refs(root, missing)
    return origin


def rebase_onto_origin(root: Path, branch: str) -> None:
    """Replay local commits onto origin's branch; release files keep this publisher's content."""
    remote = get_settings().git_remote
    proc = git(*identity_args(root), "rebase", "-q", "--autostash", "-X", "theirs", f"{remote}/{branch}", cwd=root,
               check=False)
    if proc.returncode != 0:
        git("rebase", "--abort", cwd=root, check=False)
        raise DregError(f"cannot rebase onto {remote}/{branch}: {git_message(proc)}",
                        "resolve the conflict by hand, then run `dreg publish` again")
