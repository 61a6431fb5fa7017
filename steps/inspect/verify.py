"""Reproducibility check: rebuild a tagged version in a temporary worktree and compare hashes."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from steps import layout
from steps.config import get_settings
from steps.errors import DregError
from steps.git import git, show_bytes, show_file
from steps.kit.files import load_yaml
from steps.kit.metadata import stable_view
from steps.kit.params import param_value
from steps.refs.lock import lock_outputs, lock_outs, lock_stages, parse_lock
from steps.refs.versions import parse_tag
from steps.release.dvc import open_repo, reproduce

CHUNK = 1 << 20


@dataclass
class VerifyReport:
    """Outcome of a rebuild: which outputs matched the tag's dvc.lock and which differ."""

    tag: str
    matched: list[str] = field(default_factory=list)
    differ: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def reproducible(self) -> bool:
        return not self.differ


def dataset_of(tag: str, root: Path) -> str:
    """The dataset a release tag of this registry belongs to."""
    version = parse_tag(tag)
    if not version or git("rev-parse", "-q", "--verify", f"refs/tags/{tag}", cwd=root, check=False).returncode != 0:
        raise DregError(f"no release tag {tag}", "list releases with `dreg list`")
    return version.dataset


def compare(tag: str, dataset: str, released_lock: str, released_meta: str | None, worktree: Path) -> VerifyReport:
    """Compare a rebuilt worktree with the release: data outputs by hash, metadata by stable content."""
    report = VerifyReport(tag)
    rebuilt = lock_outputs((worktree / layout.dvc_lock(dataset)).read_text())
    meta_rel = layout.metadata_json(dataset)
    for path, expected in sorted(lock_outputs(released_lock).items()):
        if path == meta_rel and released_meta is not None:
            fresh = stable_view(json.loads((worktree / meta_rel).read_text()))
            same = fresh == stable_view(json.loads(released_meta))
            got = expected if same else "content differs"
        else:
            got = rebuilt.get(path, "missing")
            same = got == expected
        if same:
            report.matched.append(path)
        else:
            report.differ[path] = (expected, got)
    return report


@contextlib.contextmanager
def scratch_env(scratch: Path, root: Path) -> Iterator[None]:
    """During a rebuild, stages keep their side effects under `scratch` (`DREG_SCRATCH`): never live tables. The
    registry's folders (mirror, local DVC remote), which its files may name relative to itself, are pinned as
    absolute paths: the rebuild's worktree lies elsewhere."""
    pins = {"DREG_SCRATCH": str(scratch), **registry_folders(root)}
    saved = {name: os.environ.get(name) for name in pins}
    os.environ.update(pins)
    get_settings.cache_clear()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        get_settings.cache_clear()


def registry_folders(root: Path) -> dict[str, str]:
    """DREG_MIRROR and DVC_LOCAL_REMOTE_URL as the registry at `root` resolves them (absolute), where set."""
    from steps.config import registry_settings

    settings = registry_settings(root)
    with contextlib.closing(open_repo(root)) as repo:
        local = (repo.config.get("remote") or {}).get("local", {}).get("url")
    pins = {"DREG_MIRROR": settings.mirror, "DVC_LOCAL_REMOTE_URL": settings.local_remote_url or local}
    return {name: value for name, value in pins.items() if value and "://" not in value and Path(value).is_absolute()}


def verify_release(tag: str, root: Path | str = ".") -> VerifyReport:
    """Rebuild `tag` from its pinned inputs (params, code, sources) and compare with what it recorded."""
    root = Path(root).resolve()
    dataset = dataset_of(tag, root)
    released_lock = show_file(tag, layout.dvc_lock(dataset), root)
    if not released_lock:
        raise DregError(f"{tag} has no {layout.dvc_lock(dataset)}", "only pipeline releases can be rebuilt")
    with tempfile.TemporaryDirectory(prefix="dreg-verify-") as tmp:
        worktree = Path(tmp) / "worktree"
        git("worktree", "add", "-q", "--detach", str(worktree), tag, cwd=root)
        try:
            with contextlib.chdir(worktree), scratch_env(Path(tmp), root):
                reproduce(open_repo(worktree), dataset, force=True)
            return compare(tag, dataset, released_lock, show_file(tag, layout.metadata_json(dataset), root), worktree)
        finally:
            git("worktree", "remove", "--force", str(worktree), cwd=root, check=False)
            git("worktree", "prune", cwd=root, check=False)


@dataclass
class AuditReport:
    """A tag read back from the DVC remote: objects checked, and every problem (missing, corrupted, stale lock)."""

    tag: str
    checked: int = 0
    problems: list[str] = field(default_factory=list)


def md5_of(chunks: Iterator[bytes]) -> str:
    """md5 hex digest of a stream of byte chunks."""
    digest = hashlib.md5(usedforsecurity=False)
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


def check_digest(data: bytes, expected_md5: str | None, what: str) -> bytes:
    """`data` if its md5 is the one its release records; otherwise a clear DregError (a corrupted object)."""
    if expected_md5 and md5_of(iter([data])) != expected_md5.removesuffix(".dir"):
        raise DregError(f"{what[:200]}: content does not match its released md5 {expected_md5[:32]} (corrupted object "
                        "in the DVC remote or cache)", "do not use it; report it to the registry owners "
                        "(`dreg verify --remote-only TAG` names every bad object)")
    return data


def cached_outputs(lock_text: str | None, dvc_yaml_text: str | None) -> dict[str, str]:
    """{path: md5} of a pipeline lock's outputs that live in the DVC remote (not `cache: false`)."""
    uncached: set[str] = set()
    for stage in ((load_yaml(dvc_yaml_text or "") or {}).get("stages") or {}).values():
        for out in stage.get("outs") or []:
            if isinstance(out, dict):
                uncached.update(path for path, opts in out.items() if (opts or {}).get("cache") is False)
    return {path: oid for path, oid in lock_outputs(lock_text).items() if path not in uncached and oid}


def curated_outputs(tag: str, dataset: str, root: Path) -> dict[str, str]:
    """{path: md5} of the `.dvc` files a curated release records."""
    names = git("ls-tree", "--name-only", tag, "--", layout.data_dir(dataset) + "/", cwd=root).stdout.split()
    outs: dict[str, str] = {}
    for name in (n for n in names if n.endswith(".dvc")):
        for out in lock_outs(parse_lock(show_file(tag, name, root))):
            outs[f"{layout.data_dir(dataset)}/{out['path']}"] = out.get("md5") or ""
    return outs


def tag_outputs(tag: str, dataset: str, root: Path) -> dict[str, str]:
    """{path: md5} of every output of a release that must be in the DVC remote."""
    lock = show_file(tag, layout.dvc_lock(dataset), root)
    if lock:
        return cached_outputs(lock, show_file(tag, layout.dvc_yaml(dataset), root))
    return curated_outputs(tag, dataset, root)


def lock_problems(tag: str, dataset: str, root: Path) -> list[str]:
    """Where a release's dvc.lock disagrees with the params, code and upstream outputs it was tagged with."""
    lock = parse_lock(show_file(tag, layout.dvc_lock(dataset), root))
    stages = lock_stages(lock).values()
    outs = {o["path"]: o.get("md5") for o in lock_outs(lock)}
    problems: list[str] = []
    for stage in stages:
        for file, sections in (stage.get("params") or {}).items():
            current = load_yaml(show_file(tag, file, root) or "") or {}
            problems += [f"params {file}:{key} differ from dvc.lock" for key, value in sections.items()
                         if param_value(current, key) != value]
        for dep in stage.get("deps") or []:
            recorded, path = dep.get("md5"), dep["path"]
            data = None if path in outs else show_bytes(tag, path, root)
            got = outs.get(path) if path in outs else (md5_of(iter([data])) if data is not None else None)
            if got is not None and got != recorded:
                problems.append(f"dependency {path} differs from dvc.lock")
    return sorted(set(problems))


def remote_object(odb, oid: str) -> tuple[str | None, bytes | None]:
    """(md5 of the remote object or None when absent, its bytes when it is a directory manifest)."""
    path = odb.oid_to_path(oid)
    if not odb.fs.exists(path):
        return None, None
    with odb.fs.open(path, "rb") as f:
        if oid.endswith(".dir"):
            data = f.read()
            return md5_of(iter([data])), data
        return md5_of(iter(lambda: f.read(CHUNK), b"")), None


def audit_tag(tag: str, root: Path, odb) -> AuditReport:
    """Read every object of `tag` back from the remote `odb` and check its hash; check its lock against its inputs."""
    dataset = dataset_of(tag, root)
    report = AuditReport(tag, problems=lock_problems(tag, dataset, root))
    pending = list(tag_outputs(tag, dataset, root).items())
    while pending:
        path, oid = pending.pop()
        got, manifest = remote_object(odb, oid)
        report.checked += 1
        if got is None:
            report.problems.append(f"missing {path} ({oid})")
        elif got != oid.removesuffix(".dir"):
            report.problems.append(f"corrupted {path} ({oid}: remote content hashes to {got})")
        elif manifest is not None:
            pending += [(f"{path}/{e['relpath']}", e["md5"]) for e in json.loads(manifest)]
    return report


def audit_remote(tags: list[str], root: Path | str = ".") -> list[AuditReport]:
    """`dreg verify --remote-only`: each tag's objects read back from the configured DVC remote and hashed."""
    root = Path(root).resolve()
    remote = get_settings().dvc_remote
    try:
        odb = open_repo(root).cloud.get_remote_odb(name=remote, command="verify")
    except Exception as exc:  # noqa: BLE001 - any failure to reach the remote is one clear error
        raise DregError(f"cannot open DVC remote '{remote}': {str(exc)[:200]}",
                        "check the remote's URL and credentials") from None
    return [audit_tag(tag, root, odb) for tag in tags]


def read_verified(fs, path: str, what: str) -> bytes:
    """Bytes of `path` from a `dvc.api.DVCFileSystem` at a release, checked against the md5 the release records."""
    return check_digest(fs.read_bytes(path), fs.info(path).get("md5"), what)
