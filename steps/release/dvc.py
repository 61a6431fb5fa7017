"""DVC operations used by the CLI: open the repo with remote config, reproduce, push, check the remote."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from steps import layout
from steps.config import dvc_config, get_settings
from steps.errors import DregError
from steps.refs.code_identity import refresh


def open_repo(root: Path | str = "."):
    """A dvc Repo at `root` with the configured remote selected."""
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    _python_on_path()
    try:
        repo = Repo(str(root), config=dvc_config())
    except DvcException as exc:
        raise DregError(f"cannot open DVC repo at {root}: {exc}", "run dreg from the registry checkout") from None
    repo.scm_context.quiet = True  # dreg commits releases itself; DVC's "git add" advice would mislead
    return repo


def _python_on_path() -> None:
    """Stage commands say `python`: make that this interpreter, whatever shell started us."""
    bindir = os.path.dirname(sys.executable)
    if os.environ.get("PATH", "").split(os.pathsep)[0] != bindir:
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")


def target(repo, dataset: str, stage: str | None = None) -> str:
    """Absolute `dvc.yaml[:stage]` of a pipeline in `repo`."""
    return layout.stage_target(repo.root_dir, dataset, stage)


def reproduce(repo, dataset: str, stage: str | None = None, force: bool = False) -> list[str]:
    """Reproduce a pipeline (or one stage of it); return the names of the stages that ran."""
    from dvc.exceptions import DvcException

    refresh(repo.root_dir, dataset)  # code.yaml current before DVC compares it with dvc.lock
    try:
        stages = repo.reproduce(target(repo, dataset, stage), single_item=stage is not None, force=force)
    except DvcException as exc:
        cause = exc.__cause__ or exc
        raise DregError(
            f"{dataset}: {'stage ' + stage if stage else 'pipeline'} failed: {str(cause).splitlines()[0]}",
            "see the stage's error above; nothing was published",
        ) from None
    return [s.name for s in stages]


def push_outputs(repo, targets: list[str]) -> int:
    """Push the cached outputs of `targets` (dvc.yaml or .dvc files) to the selected remote; return files sent."""
    remote = get_settings().dvc_remote
    try:
        return repo.push(targets=targets, remote=remote)
    except Exception as exc:  # noqa: BLE001 - any failure (DVC, botocore, fsspec) means: not published
        raise DregError(
            f"push to DVC remote '{remote}' failed: {str(exc).splitlines()[0]}",
            "check the remote's URL/endpoint and credentials (DVC_REMOTE, DVC_S3_ENDPOINT_URL, AWS_*); "
            "nothing was published",
        ) from None


def release_objects(repo, targets: list[str]) -> list[str]:
    """Every object id a release needs in the remote: cached outputs, and the members of directory outputs."""
    oids: list[str] = []
    for stage in (st for t in targets for st in repo.stage.collect(t)):
        for out in stage.outs:
            oid = out.hash_info.value if out.use_cache and out.hash_info else None
            if not oid:
                continue
            oids.append(oid)
            if oid.endswith(".dir"):
                manifest = json.loads(Path(repo.cache.local.oid_to_path(oid)).read_text())
                oids.extend(entry["md5"] for entry in manifest)
    return oids


def missing_in_remote(repo, targets: list[str]) -> list[str]:
    """Object ids of the release that the selected remote does not have."""
    remote = get_settings().dvc_remote
    oids = release_objects(repo, targets)
    try:
        odb = repo.cloud.get_remote_odb(name=remote, command="publish")
        present = set(odb.oids_exist(oids))
    except Exception as exc:  # noqa: BLE001
        raise DregError(f"cannot list DVC remote '{remote}': {str(exc)[:200]}",
                        "check the remote's URL and credentials") from None
    return sorted(set(oids) - present)


def upload_objects(repo, oids: list[str]) -> int:
    """Copy objects straight from the local cache to the remote: DVC's push skips objects its index
    believes were sent (an interrupted or lossy remote would never be completed); return how many."""
    remote = get_settings().dvc_remote
    cache = repo.cache.local
    try:
        odb = repo.cloud.get_remote_odb(name=remote, command="publish")
        for oid in oids:
            odb.add(cache.oid_to_path(oid), cache.fs, oid, check_exists=False)
    except Exception as exc:  # noqa: BLE001 - any failure means: the release stays unpublished
        raise DregError(f"push to DVC remote '{remote}' failed: {str(exc).splitlines()[0][:200]}",
                        "check the remote and the local DVC cache; nothing was published") from None
    return len(oids)
