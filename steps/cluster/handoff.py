"""Hand-off of a stage that runs off the workflow volume (the Ray head) to the publish workspace.

The Ray pods clone the registry at the workflow's commit, run `dreg stage`, then `export` the
stage's `dvc.lock` entry and its outputs: cached outputs are pushed to the DVC remote like any
release data, and a small JSON bundle (the lock entry, the commit, and the contents of the
`cache: false` outputs) is written next to them at `<remote>/handoff/<key>/<dataset>--<stage>.json`,
keyed by the Argo workflow uid. `import` in the workflow's workspace merges that entry into
`dvc.lock`, writes the uncached outputs, pulls the cached ones, and checks that DVC now sees the
stage as up to date, so the next stages and `dreg publish` proceed exactly as after a local run.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from steps import layout
from steps.errors import DregError
from steps.git import git, head_commit
from steps.kit.files import write_bytes
from steps.refs.code_identity import refresh
from steps.refs.lock import lock_stages, read_lock

HANDOFF_DIR = "handoff"
FORMAT = 1

RepoFactory = Callable[[Path], Any]


def lock_file(root: Path, dataset: str) -> Path:
    return Path(root) / layout.dvc_lock(dataset)


def git_head(root: Path) -> str:
    """The commit checked out at `root`."""
    commit = head_commit(root)
    if commit is None:
        raise DregError(f"{root} is not a git checkout", "run the hand-off inside the registry's checkout")
    return commit


def bundle_location(repo: Any, remote: str | None, key: str, dataset: str, stage: str) -> tuple[Any, str]:
    """The remote's filesystem and the bundle's path on it."""
    if not key or "/" in key or key.startswith("."):
        raise DregError(f"invalid hand-off key {key!r}", "pass the Argo workflow uid")
    target = repo.cloud.get_remote(name=remote, command="handoff")
    return target.fs, target.fs.join(target.path, HANDOFF_DIR, key, f"{dataset}--{stage}.json")


def _stage(repo: Any, dataset: str, stage: str) -> Any:
    from dvc.exceptions import DvcException

    try:
        (found,) = repo.stage.collect(layout.stage_target(repo.root_dir, dataset, stage))
    except (DvcException, ValueError) as exc:
        raise DregError(
            f"{dataset}: no stage {stage!r}: {exc}", "check pipelines/<dataset>/dvc.yaml"
        ) from None
    return found


def _changed(repo: Any, dataset: str, stage: str) -> list[Any]:
    """What DVC reports as changed for the stage (empty when its deps and outputs match the lock)."""
    refresh(repo.root_dir, dataset)  # code.yaml current before DVC compares it with the lock
    status = repo.status(targets=[layout.stage_target(repo.root_dir, dataset, stage)])
    return [change for changes in status.values() for change in changes]


# What `dvc status` reports for an output that is only absent here; the remote can still supply it.
ABSENT = frozenset({"deleted", "not in cache"})


def _describe(change: Any) -> list[str]:
    """One `dvc status` entry as readable reasons; outputs only absent from the workspace are left out."""
    if not isinstance(change, dict):
        return [str(change)]
    reasons = []
    for kind, detail in change.items():
        if kind == "changed outs" and isinstance(detail, dict):
            reasons += [f"output {path} {state}" for path, state in detail.items() if state not in ABSENT]
        elif isinstance(detail, dict):
            reasons.append(f"{kind}: {', '.join(f'{k} {v}' for k, v in sorted(detail.items()))}")
        else:
            reasons.append(f"{kind}: {detail}")
    return reasons


def run_reasons(repo: Any, dataset: str, stage: str, remote: str | None = None) -> list[str]:
    """Why the stage must run in this checkout; empty when its lock entry matches its command, params and
    deps and the remote holds its locked outputs (then pulling them is all there is to do)."""
    root = Path(repo.root_dir)
    path, lock = lock_file(root, dataset), read_lock(dataset, root)
    if not lock_stages(lock).get(stage):
        return [f"{path.relative_to(root)} has no entry for stage {stage!r}"]
    reasons = [reason for change in _changed(repo, dataset, stage) for reason in _describe(change)]
    found = _stage(repo, dataset, stage)
    for out in found.outs:
        if not out.use_cache and not (root / str(out.def_path)).exists():
            reasons.append(f"uncached output {out.def_path} is missing")
    oids = {str(out.def_path): out.hash_info.value for out in found.outs if out.use_cache and out.hash_info}
    if oids and not reasons:
        try:
            odb = repo.cloud.get_remote_odb(name=remote, command="handoff")
            present = set(odb.oids_exist(list(oids.values())))
        except Exception as exc:  # noqa: BLE001 (unreachable remote: run rather than guess)
            return [f"cannot list the DVC remote: {str(exc).splitlines()[0][:200]}"]
        reasons += [f"output {out} is not on the DVC remote" for out, oid in oids.items() if oid not in present]
    return reasons


def pull_stage(repo: Any, dataset: str, stage: str, remote: str | None) -> list[Any]:
    """Pull the stage's locked outputs and git-ignore the cached ones as `dvc repro` does (so publish commits the same
    files as a local run); what still differs from the lock afterwards."""
    repo.pull(targets=[layout.stage_target(repo.root_dir, dataset, stage)], remote=remote)
    for out in _stage(repo, dataset, stage).outs:
        if out.use_cache:
            out.ignore()
    return _changed(repo, dataset, stage)


def restore_stage(
    root: Path, dataset: str, stage: str, remote: str | None = None, open_repo: RepoFactory | None = None
) -> None:
    """The stage did not need to run: pull its locked outputs; afterwards DVC sees it as up to date."""
    from dvc.repo import Repo

    factory: RepoFactory = open_repo or (lambda path: Repo(str(path)))
    with factory(Path(root)) as repo:
        changed = pull_stage(repo, dataset, stage, remote)
    if changed:
        raise DregError(
            f"{dataset}: stage {stage!r} differs from its lock after pulling its outputs: {changed}",
            "rerun the workflow with force=true",
        )


def export_stage(repo: Any, dataset: str, stage: str, key: str, remote: str | None = None) -> dict[str, Any]:
    """Push the stage's cached outputs and write its hand-off bundle to the DVC remote."""
    root = Path(repo.root_dir)
    lock_path = lock_file(root, dataset)
    entry = lock_stages(read_lock(dataset, root)).get(stage)
    if not entry:
        raise DregError(
            f"{dataset}: {lock_path.relative_to(root)} has no entry for stage {stage!r}",
            "run the stage first",
        )
    changed = _changed(repo, dataset, stage)
    if changed:
        raise DregError(
            f"{dataset}: stage {stage!r} is not up to date here: {changed}", "run the stage before exporting"
        )
    files: dict[str, str] = {}
    for out in _stage(repo, dataset, stage).outs:
        if out.use_cache:
            continue
        path = root / str(out.def_path)
        if not path.is_file():
            raise DregError(
                f"{dataset}: uncached output {out.def_path} is not a file",
                "only small files can be handed off",
            )
        files[str(out.def_path)] = base64.b64encode(path.read_bytes()).decode()
    repo.push(targets=[layout.stage_target(root, dataset, stage)], remote=remote)
    bundle = {
        "format": FORMAT,
        "dataset": dataset,
        "stage": stage,
        "commit": git_head(root),
        "lock": entry,
        "files": files,
    }
    fs, location = bundle_location(repo, remote, key, dataset, stage)
    fs.makedirs(fs.parent(location), exist_ok=True)
    fs.pipe_file(location, json.dumps(bundle, sort_keys=True, indent=1).encode())
    return bundle


def read_bundle(repo: Any, dataset: str, stage: str, key: str, remote: str | None = None) -> dict[str, Any]:
    """The bundle exported under `key`, checked against the dataset and stage asked for."""
    fs, path = bundle_location(repo, remote, key, dataset, stage)
    try:
        bundle = json.loads(fs.cat_file(path))
    except FileNotFoundError:
        raise DregError(
            f"{dataset}: no hand-off for stage {stage!r} under key {key}",
            "the Ray job did not finish its export; check the RayJob's logs",
        ) from None
    if bundle.get("format") != FORMAT or (bundle.get("dataset"), bundle.get("stage")) != (dataset, stage):
        raise DregError(f"{path}: not a hand-off bundle for {dataset}:{stage}")
    return bundle


def _write_lock_entry(root: Path, dataset: str, stage: str, entry: dict[str, Any]) -> None:
    path, lock = lock_file(root, dataset), read_lock(dataset, root)
    lock.setdefault("schema", "2.0")
    lock.setdefault("stages", {})[stage] = entry
    write_bytes(path, yaml.safe_dump(lock, sort_keys=False).encode())


def import_stage(
    root: Path,
    dataset: str,
    stage: str,
    key: str,
    remote: str | None = None,
    open_repo: RepoFactory | None = None,
) -> dict[str, Any]:
    """Bring an exported stage into the checkout at `root`; afterwards DVC sees it as up to date."""
    from dvc.repo import Repo

    factory: RepoFactory = open_repo or (lambda path: Repo(str(path)))
    root = Path(root)
    with factory(root) as repo:
        bundle = read_bundle(repo, dataset, stage, key, remote)
    head = git_head(root)
    if bundle["commit"] != head:
        raise DregError(
            f"{dataset}: stage {stage!r} ran at commit {bundle['commit'][:12]}, this workspace is at {head[:12]}",
            "run the Ray stage with the commit the workflow checked out",
        )
    _write_lock_entry(root, dataset, stage, bundle["lock"])
    for rel, content in bundle["files"].items():
        write_bytes(root / rel, base64.b64decode(content))
    with factory(root) as repo:
        changed = pull_stage(repo, dataset, stage, remote)
    if changed:
        raise DregError(f"{dataset}: stage {stage!r} still differs after import: {changed}")
    return bundle


def run_remote(
    dataset: str, stage: str, rev: str, key: str, force: bool, repo_url: str, workdir: Path | None = None
) -> Path:
    """What the Ray head runs: clone at `rev`, `dreg stage` there, then `dreg handoff export`."""
    if Path(repo_url).exists() and "://" not in repo_url:
        repo_url = str(Path(repo_url).resolve())
    clone = Path(workdir or tempfile.mkdtemp(prefix="dreg-")) / "repo"
    git("clone", "--quiet", "--", repo_url, str(clone))
    git("checkout", "--quiet", rev, "--", cwd=clone)
    dreg = [sys.executable, "-c", "from steps.cli import main; main()"]
    # The stage's Ray tasks read source releases from the registry's URL: workers have no such clone.
    env = {"DREG_REGISTRY_URL": repo_url}
    _run([*dreg, "stage", dataset, stage, *(["--force"] if force else [])], clone, env)
    _run([*dreg, "handoff", "export", dataset, stage, "--key", key], clone)
    return clone


def _run(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
    environment = {**os.environ, "PYTHONPATH": str(cwd), **(env or {})}
    result = subprocess.run(command, cwd=cwd, env=environment, check=False)
    if result.returncode != 0:
        raise DregError(f"`{' '.join(command[:4])} ...` failed with exit code {result.returncode}")
