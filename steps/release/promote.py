"""`dreg promote`: assign a release to a stage with a NEW annotated tag `<dataset>#<stage>#<n>` on its commit (never
a moved one), only when the DVC remote holds its data intact; pushed to origin before this clone records it, racing
promoters take the next number.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from steps.errors import DregError
from steps.git import git, git_message, local_refs, remote_refs
from steps.refs.handle import Release, open_registry
from steps.refs.versions import Version, check_stage, next_number, stage_tag
from steps.release.sequence import fault_point

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
        obj = tag_object(args, tag, commit, message(version, stage, by, at), root)
        if not push:
            if create_tag(root, tag, obj):
                return tag, version
            continue  # another promotion in this clone took the number first
        proc = git("push", "-q", "--", remote, f"{obj}:refs/tags/{tag}", cwd=root, check=False)
        if proc.returncode == 0:  # only now this clone records it (killed before: the next fetch restores it)
            fault_point("promotion-pushed")
            create_tag(root, tag, obj)
            return tag, version
        origin = remote_refs(remote, cwd=root)
        if tag not in origin:  # not a lost race: origin refused it (a hook, permissions)
            raise DregError(f"{remote} refused {tag}: {git_message(proc)}", "nothing was promoted; see the message")
        fetch_stage_tags(version.dataset, remote, root)
    raise DregError(f"{version.dataset}: {MAX_ATTEMPTS} promotions raced this one", "retry `dreg promote`")


def tag_object(args: list[str], tag: str, commit: str, body: str, root: Path) -> str:
    """Write the annotated tag object `tag` on `commit` with no ref pointing at it (the ref is made once origin
    holds the tag, so a promotion killed before its push leaves nothing that list, history or @stage read)."""
    ident = git(*args, "var", "GIT_COMMITTER_IDENT", cwd=root).stdout.strip()
    text = f"object {commit}\ntype commit\ntag {tag}\ntagger {ident}\n\n{body}"
    proc = git("mktag", cwd=root, check=False, stdin=text)
    if proc.returncode != 0:
        raise DregError(f"git mktag failed: {git_message(proc)}", "see `git status` in the registry")
    return proc.stdout.strip()


def create_tag(root: Path, tag: str, obj: str) -> bool:
    """Point the new ref `refs/tags/<tag>` at the tag object `obj`; False when the tag already exists."""
    return git("update-ref", f"refs/tags/{tag}", obj, "", cwd=root, check=False).returncode == 0


def fetch_stage_tags(dataset: str, remote: str, root: Path | str) -> None:
    """Copy origin's promotion tags of `dataset` that this clone lacks (never moving a local tag)."""
    git("fetch", "-q", "--no-tags", "--", remote, f"refs/tags/{dataset}#*:refs/tags/{dataset}#*", cwd=root,
        check=False)
