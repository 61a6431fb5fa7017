"""The release rules: push data, check the remote has it, commit lock + metadata, tag, push to origin."""

from __future__ import annotations

import json
import os
import signal
from dataclasses import dataclass
from pathlib import Path

from steps import layout
from steps.config import get_settings
from steps.errors import DregError
from steps.git import git, git_message, head_commit, show_file
from steps.kit.metadata import stable_view
from steps.output import console
from steps.refs.code_identity import code_yaml, refresh
from steps.refs.lock import lock_outputs
from steps.refs.versions import Bump, Version, latest_version, local_tags, next_version
from steps.release.dvc import (
    missing_in_remote,
    open_repo,
    push_outputs,
    target,
    upload_objects,
)
from steps.release.origin import (
    adopt_origin_tags,
    current_branch,
    fetch_origin,
    identity_args,
    rebase_onto_origin,
    ref_map,
)

PUSH_ATTEMPTS = 5
LOST_RACE = ("fetch first", "non-fast-forward", "already exists", "stale info", "cannot lock ref")
ALLOW_SAMPLE_KEY = "dreg.allowSampleData"
FAULT_ENV = "DREG_FAULT_POINT"  # test hook: SIGKILL at the named point (see tests/faults)


def fault_point(name: str) -> None:
    """Test hook: the process kills itself (SIGKILL) at point `name` when DREG_FAULT_POINT names it."""
    if os.environ.get(FAULT_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass(frozen=True)
class Release:
    """A published release: its version, commit and whether origin has it."""

    version: Version
    commit: str
    pushed: bool

    @property
    def tag(self) -> str:
        return self.version.tag


def release_paths(dataset: str, root: Path) -> list[str]:
    """Files a release commits: pipeline definition, lock, params, code identity and Hub pin (or the `.dvc`
    files of curated data), metadata, its card, its Croissant description and .gitignore."""
    candidates = [
        layout.dvc_yaml(dataset), layout.dvc_lock(dataset), layout.params_yaml(dataset), code_yaml(dataset),
        layout.hub_pin(dataset),
        layout.metadata_json(dataset), layout.card_md(dataset), layout.croissant_json(dataset),
        layout.data_file(dataset, ".gitignore"),
    ]
    dvcfiles = [p.relative_to(root).as_posix() for p in layout.curated_dvcfiles(root, dataset)]
    return [p for p in candidates if (root / p).exists()] + dvcfiles


def release_fingerprint(lock_text: str | None, metadata_text: str | None, dataset: str) -> tuple:
    """What decides "changed": data output hashes, and metadata apart from volatile lineage fields."""
    outs = lock_outputs(lock_text)
    outs.pop(layout.metadata_json(dataset), None)
    meta = stable_view(json.loads(metadata_text)) if metadata_text else None
    return tuple(sorted(outs.items())), json.dumps(meta, sort_keys=True)


def changed_since(version: Version | None, dataset: str, root: Path) -> bool:
    """True if the reproduced outputs differ from those of `version` (or there is no version yet)."""
    if version is None:
        return True
    current = release_fingerprint(
        _read(root / layout.dvc_lock(dataset)), _read(root / layout.metadata_json(dataset)), dataset
    )
    return current != tag_fingerprint(version.tag, dataset, root)


def _read(path: Path) -> str | None:
    return path.read_text() if path.exists() else None


def check_publishable(repo, dataset: str, root: Path) -> None:
    """Refuse to publish an unreproduced pipeline, outputs that drifted from dvc.lock, or demo sample data."""
    if not (root / layout.dvc_lock(dataset)).exists():
        raise DregError(f"{dataset} has not been reproduced (no {layout.dvc_lock(dataset)})",
                        f"run `dreg run {dataset}`")
    drift = lock_drift(repo, dataset)
    if drift:
        raise DregError(f"{dataset}: workspace differs from dvc.lock ({', '.join(drift)})",
                        f"run `dreg run {dataset}` first")
    meta = _read(root / layout.metadata_json(dataset))
    kind = json.loads(meta).get("lineage", {}).get("source", {}).get("kind") if meta else None
    allowed = git("config", "--get", ALLOW_SAMPLE_KEY, cwd=root, check=False).stdout.strip() == "true"
    if kind == "sample" and not allowed:
        raise DregError(
            f"{dataset} was built from generated sample data",
            "sample data is only for the demo registry; unset DREG_MIRROR or point it at a real mirror",
        )


def lock_drift(repo, dataset: str) -> list[str]:
    """Stages of `dataset` whose params, code, dependencies or outputs differ from dvc.lock (`dvc status`)."""
    from dvc.exceptions import DvcException

    refresh(repo.root_dir, dataset)  # code.yaml current, so code changed since the last run counts as drift
    try:
        status = repo.status(targets=[target(repo, dataset)])
    except DvcException as exc:
        raise DregError(f"{dataset}: cannot check outputs: {str(exc)[:200]}", f"run `dreg run {dataset}`") from None
    return sorted(stage for stage, changes in status.items() if [c for c in changes if c != "always changed"])


def commit_and_tag(dataset: str, version: Version, root: Path) -> str:
    """Write the release's Croissant description, commit the release files and its attestation (signed for
    `version` when a signing key is set) and create the annotated tag; return the commit. A rebased, re-versioned
    release commit is amended, never stacked."""
    from steps.release.attest import write_attestation
    from steps.release.croissant import write_croissant  # it names the version: rewritten on renumbering

    write_croissant(dataset, version.tag, root)
    paths = release_paths(dataset, root)
    signed = write_attestation(dataset, version, paths, root)
    paths += signed
    ident = identity_args(root)
    git("add", "-A", "--", *paths, cwd=root)
    if git("diff", "--cached", "--quiet", "--", *paths, cwd=root, check=False).returncode != 0:
        amend = ["--amend"] if unpublished_release_head(dataset, root) else []
        git(*ident, "commit", "-q", *amend, "-m", release_message(dataset, version), "--", *paths, cwd=root)
    else:
        retitle_release(dataset, version, root)
    fault_point("committed")
    outputs = lock_outputs(_read(root / layout.dvc_lock(dataset)))
    summary = ", ".join(f"{p}={h[:12]}" for p, h in sorted(outputs.items()))
    attestation = f"\nattestation: {layout.attestation(dataset)}" if layout.attestation(dataset) in signed and \
        (root / layout.attestation(dataset)).exists() else ""
    git(*ident, "tag", "-a", version.tag, "-m", f"{dataset} v{version.semver}\n\n{summary}{attestation}", cwd=root)
    return head_commit(root) or ""


def retitle_release(dataset: str, version: Version, root: Path) -> None:
    """An unpublished release commit of `dataset` at HEAD (rebased or re-versioned) gets `version` in its subject."""
    wanted = release_message(dataset, version)
    if git("log", "-1", "--format=%s", cwd=root, check=False).stdout.strip() == wanted:
        return
    if unpublished_release_head(dataset, root):
        git(*identity_args(root), "commit", "-q", "--amend", "--allow-empty", "-m", wanted, cwd=root)


def unpublished_release_head(dataset: str, root: Path) -> bool:
    """True when HEAD is a release commit of `dataset` that no tag names and origin lacks (rebased or re-versioned:
    it may be amended)."""
    subject = git("log", "-1", "--format=%s", cwd=root, check=False).stdout.strip()
    if not subject.startswith(release_message(dataset, Version(0, 0, 0))[:-5]):
        return False
    if git("tag", "--points-at", "HEAD", cwd=root).stdout.strip():
        return False  # another tag names this commit: it is a published release, never rewritten
    return not git("for-each-ref", "--contains", "HEAD", "refs/remotes/", cwd=root).stdout.strip()  # origin lacks it


def sync_with_origin(dataset: str, root: Path) -> None:
    """`--push` only: decide against origin. Local release tags of `dataset` that origin lacks (a publish killed
    before its git push) are dropped when they hold exactly the workspace's release, which is then published;
    a stranded tag holding other data is refused (never lost, never pushed blindly)."""
    fetch_origin(root, current_branch(root))
    origin = adopt_origin_tags(root)
    local = ref_map(root, "refs/tags")
    stranded = [t for t in local_tags(dataset, root) if origin.get(t) != local[t]]
    if not stranded:
        return
    workspace = release_fingerprint(_read(root / layout.dvc_lock(dataset)), _read(root / layout.metadata_json(dataset)),
                                    dataset)
    for tag in stranded:
        if tag_fingerprint(tag, dataset, root) != workspace:
            raise DregError(f"{tag} exists here but not on {get_settings().git_remote}, with other data than the "
                            "workspace",
                            f"push it (`git push {get_settings().git_remote} {tag}`) or delete it, then retry")
        git("tag", "-d", tag, cwd=root)
        if tag in origin:
            git("update-ref", f"refs/tags/{tag}", origin[tag], cwd=root)
        console.print(f"{dataset}: {tag} was tagged here but never reached origin; publishing it now", soft_wrap=True)


def tag_fingerprint(tag: str, dataset: str, root: Path) -> tuple:
    """The release fingerprint recorded by `tag`."""
    return release_fingerprint(show_file(tag, layout.dvc_lock(dataset), root),
                               show_file(tag, layout.metadata_json(dataset), root), dataset)


def check_rebased(dataset: str, root: Path) -> None:
    """After a rebase the lock must still match its inputs: refuse when upstream changed the dataset's params,
    code or dependencies (nothing is tagged; the data stays in the DVC remote)."""
    drift = lock_drift(open_repo(root), dataset)
    if drift:
        raise DregError(f"{get_settings().git_remote} changed the params, code or dependencies of {dataset} during "
                        f"this run ({', '.join(drift)}): nothing tagged",
                        f"run `dreg run {dataset} --push` again to release with the new inputs")


def release_message(dataset: str, version: Version) -> str:
    return f"chore({dataset}): release v{version.semver}"


def rollback(root: Path, dataset: str, version: Version) -> None:
    """Undo a local release that could not be pushed (tag and release commit), so that a retry starts clean."""
    git("tag", "-d", version.tag, cwd=root, check=False)
    subject = git("log", "-1", "--format=%s", cwd=root, check=False).stdout.strip()
    if subject == release_message(dataset, version) and git("rev-parse", "-q", "--verify", "HEAD~1", cwd=root,
                                                            check=False).returncode == 0:
        git("reset", "-q", "--soft", "HEAD~1", cwd=root)


def push_release(dataset: str, version: Version, bump: Bump, root: Path) -> Version | None:
    """Push commit and tag atomically; on rejection rebase, recompute the version and retry."""
    remote, branch = get_settings().git_remote, current_branch(root)
    for _ in range(PUSH_ATTEMPTS):
        proc = git("push", "-q", "--atomic", "--", remote, f"HEAD:refs/heads/{branch}", f"refs/tags/{version.tag}",
                   cwd=root, check=False)
        if proc.returncode == 0:
            fault_point("git-pushed")
            return version
        if not any(word in proc.stderr for word in LOST_RACE):
            rollback(root, dataset, version)
            raise DregError(f"git push to {remote} was refused: {git_message(proc)}",
                            "nothing was published; fix the cause above, then run `dreg publish --push` again")
        console.print(f"[yellow]{remote} moved on (another release landed); rebasing and retrying[/yellow]")
        git("tag", "-d", version.tag, cwd=root)
        fetch_origin(root, branch)
        adopt_origin_tags(root)
        rebase_onto_origin(root, branch)
        fault_point("rebased")
        try:
            check_rebased(dataset, root)
        except DregError:
            rollback(root, dataset, version)
            raise
        latest = latest_version(dataset, root)
        if not changed_since(latest, dataset, root):
            console.print(f"{dataset}: {latest.tag if latest else '?'} already has these outputs; nothing to publish")
            return None
        version = next_version(dataset, bump, version.automated, root)
        commit_and_tag(dataset, version, root)
    rollback(root, dataset, version)
    raise DregError(f"push rejected {PUSH_ATTEMPTS} times", "other publishers keep landing; try again shortly")


def check_schema_bump(dataset: str, bump: Bump, root: Path) -> None:
    """Stop before anything is pushed or tagged when the schema changed more than `bump` allows (a breaking change
    needs major, an addition minor), naming each change and the bump it needs."""
    from steps.kit.schema import RANK, needed_bump, schema_changes

    latest = latest_version(dataset, root)
    old, new = show_file(latest.tag, layout.metadata_json(dataset), root) if latest else None, \
        _read(root / layout.metadata_json(dataset))
    if old is None or new is None:
        return
    changes = schema_changes(json.loads(old).get("schema"), json.loads(new).get("schema"))
    needed = needed_bump(changes)
    if RANK[needed] > RANK[bump]:
        listed = "; ".join(str(c) for c in changes if RANK[c.bump] > RANK[bump])
        raise DregError(f"{dataset}: the schema changed since {latest.tag if latest else '-'} and needs a {needed} "
                        f"bump, not {bump}: {listed}",
                        f"release it with `--bump {needed}`; nothing was pushed or tagged")


def already_released(dataset: str, root: Path) -> bool:
    """True (and says so) when the latest release has exactly these outputs: nothing to publish."""
    latest = latest_version(dataset, root)
    if changed_since(latest, dataset, root):
        return False
    console.print(f"{dataset}: nothing changed since {latest.tag if latest else '-'}; no release", soft_wrap=True)
    return True


def release(
    dataset: str, targets: list[str], repo, root: Path, *, bump: Bump, automated: bool, push: bool, again: str,
) -> Release | None:
    """The one release sequence: push the data of `targets` (dvc.yaml or .dvc files), require every object in
    the remote, commit and tag; with `push`, push commit and tag to origin. None if a rebase found it released."""
    check_schema_bump(dataset, bump, root)
    remote = get_settings().dvc_remote
    with console.status(f"pushing {dataset} data to DVC remote '{remote}'"):
        sent = push_outputs(repo, targets)
        fault_point("data-pushed")
        missing = missing_in_remote(repo, targets)
        if missing:
            sent += upload_objects(repo, missing)
            missing = missing_in_remote(repo, targets)
    if missing:
        raise DregError(f"remote '{remote}' lacks {len(missing)} object(s) of this release (e.g. {missing[0]})",
                        f"the push was incomplete; run `{again}` again — no tag was created")
    from steps.release.card import write_card  # only a release writes a card: a no-op run never imports it

    version = next_version(dataset, bump, automated, root)
    write_card(dataset, root)
    commit = commit_and_tag(dataset, version, root)
    fault_point("tagged")
    if not push:
        console.print(f"{dataset}: pushed {sent} file(s); tagged [bold]{version.tag}[/bold] at {commit[:10]}",
                      soft_wrap=True)
        return Release(version, commit, pushed=False)
    pushed = push_release(dataset, version, bump, root)
    if pushed is None:
        return None
    head = head_commit(root) or commit
    after = " after rebase" if pushed != version else ""
    console.print(f"{dataset}: pushed {sent} file(s); tagged [bold]{pushed.tag}[/bold] at {head[:10]} and pushed it "
                  f"to {get_settings().git_remote}{after}", soft_wrap=True)  # said only once origin holds the tag
    return Release(pushed, head, pushed=True)


def publish_release(
    dataset: str, bump: Bump = "patch", automated: bool = False, push: bool = False, root: Path | str = ".",
    repo=None,
) -> Release | None:
    """Publish what is reproduced as a new version; None when nothing changed since the latest release."""
    from steps.kit.lineage_events import LineageRun, read_lineage, reported

    root = Path(root).resolve()
    outs = sorted(p for p in lock_outputs(_read(root / layout.dvc_lock(dataset))) if p != layout.metadata_json(dataset))
    with reported(LineageRun(f"{dataset}.publish", outs, []), root) as run:  # OpenLineage: START, COMPLETE/FAIL
        made = publish_checked(dataset, bump, automated, push, root, repo)
        if made is not None:
            run.outputs = [made.tag]
            run.lineage, run.metadata = read_lineage(dataset, root)
    return made


def publish_checked(dataset: str, bump: Bump, automated: bool, push: bool, root: Path, repo) -> Release | None:
    """The publish rules: sync with origin, skip what is released, refuse what is not publishable, release."""
    if push:
        sync_with_origin(dataset, root)
    if (root / layout.dvc_lock(dataset)).exists() and already_released(dataset, root):
        return None
    repo = repo or open_repo(root)
    check_publishable(repo, dataset, root)
    return release(dataset, [target(repo, dataset)], repo, root, bump=bump, automated=automated, push=push,
                   again="dreg publish")
