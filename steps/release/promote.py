"""`dreg promote`: assign a release to a stage with a NEW annotated tag `<dataset>#<stage>#<n>` on its commit (never
a moved one), only when the DVC remote holds its data intact; pushed to origin, racing promoters take the next number.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from steps.errors import DregError
from steps.git import git, git_message, local_refs, remote_refs
from steps.refs.handle import Release, open_registry
from steps.refs.versions import Version, check_stage, next_number, stage_tag

MAX_ATTEMPTS = 20


def message(version: Version | Release, stage: str, by: str, at: str) -> str:
    """The annotated promotion tag's message: what was assigned, by whom, when."""
    return (f"promote {version.tag} to {stage}\n\ndataset: {version.dataset}\nversion: {version.semver}\n"
            f"tag: {version.tag}\nstage: {stage}\nby: {by}\nat: {at}\n")


def identity(root: Path | str) -> tuple[list[str], str]:
    """(git `-c` identity args when none is configured, the `Name <email>` recorded as who promoted)."""
    args: list[str] = []
    if not git("config", "user.email", cwd=root, check=False).stdout.strip():
        args = ["-c", "user.name=data-registry", "-c", "user.email=data-registry@localhost"]
    ident = git(*args, "var", "GIT_COMMITTER_IDENT", cwd=root, check=False).stdout.strip()
    return args, ident.rsplit(">", 1)[0] + ">" if ">" in ident else "unknown"


def has_remote(root: Path | str, remote: str) -> bool:
    """Whether the registry has the git remote `remote` (origin)."""
    return git("remote", "get-url", "--", remote, cwd=root, check=False).returncode == 0


def require_data(version: Version | Release, root: Path | str) -> None:
    """Refuse (one line) unless the DVC remote holds every object of `version`, intact (`verify --remote-only`)."""
    from steps.inspect.verify import audit_remote

    problems = audit_remote([version.tag], root)[0].problems
    if problems:
        raise DregError(f"{version.tag}: its data is not intact in the DVC remote ({len(problems)} problem(s), "
                        f"first: {problems[0][:160]}); nothing was promoted",
                        f"push the data with `dvc push`, then check it with `dreg verify --remote-only {version.tag}`")


def promote(ref: str, stage: str, root: Path | str = ".", push: bool | None = None) -> tuple[str, Release]:
    """Assign the version `ref` names to `stage` with a new annotated tag; push it to origin (default when the
    registry has one). Only versions whose data the DVC remote holds intact; return (the tag created, version)."""
    from steps.config import get_settings

    root = Path(root).resolve()
    check_stage(stage)
    with open_registry(None, root) as reg:
        version = reg.resolve(ref)
    settings = get_settings()
    remote = settings.git_remote
    if push is None:  # default: push when origin exists; a remote named by DREG_GIT_REMOTE must exist
        push = has_remote(root, remote) or "git_remote" in settings.model_fields_set
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
        try:
            proc = git("push", "-q", "--atomic", "--", remote, f"refs/tags/{tag}", cwd=root, check=False)
        except BaseException:  # ^C, SIGTERM/SIGHUP: never leave a promotion only this clone sees (had the push
            git("tag", "-d", tag, cwd=root, check=False)  # landed, the next fetch of origin's stage tags restores it)
            raise
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
