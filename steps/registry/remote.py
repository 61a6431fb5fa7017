"""Remote reads: a file of a release from another registry without cloning it, and a version's data files
(`dreg ls`, `dreg get`) read through DVC at the release tag, every byte checked against its released md5.

Git files (metadata.json, dvc.lock) come from a small cache repository per registry URL (`$DREG_CACHE_DIR`, default
`~/.cache/dreg`): each tag is fetched once, one commit deep, and blobs only when read (`--filter=blob:none`).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from steps import layout
from steps.errors import DregError
from steps.git import git, git_message, show_file

CHUNK = 1 << 20
LOCAL_UPLOAD_PACK = "git -c uploadpack.allowFilter=true upload-pack"  # a local origin serves blob:none too


def cache_root() -> Path:
    """Where dreg keeps its cache repositories: `$DREG_CACHE_DIR`, else `$XDG_CACHE_HOME/dreg` or `~/.cache/dreg`."""
    explicit = os.environ.get("DREG_CACHE_DIR")
    base = Path(explicit) if explicit else Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dreg"
    return base.expanduser()


def canonical_url(repo: str) -> str:
    """`repo` as one cache key: URLs unchanged, plain paths absolute."""
    return repo if "://" in repo or (":" in repo and not Path(repo).exists()) else str(Path(repo).expanduser().resolve())


def is_local(url: str) -> bool:
    """A registry git reaches without a server (plain path or `file://`)."""
    return url.startswith("file://") or "://" not in url and not (":" in url and not Path(url).exists())


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `path` (two dreg processes never fetch into one cache repository at once)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def cache_repo(repo: str) -> Path:
    """The bare cache repository of the registry `repo` (created on first use, its `origin` set to `repo`)."""
    url = canonical_url(repo)
    path = cache_root() / "repos" / f"{hashlib.sha256(url.encode()).hexdigest()[:24]}.git"
    if not (path / "HEAD").is_file():
        tmp = Path(tempfile.mkdtemp(prefix=".new-", dir=path.parent if path.parent.exists() else mkdirs(path.parent)))
        git("init", "-q", "--bare", str(tmp))
        git("remote", "add", "origin", url, cwd=tmp)
        if is_local(url):
            git("config", "remote.origin.uploadpack", LOCAL_UPLOAD_PACK, cwd=tmp)
        try:
            tmp.rename(path)
        except OSError:  # another process created it first
            shutil.rmtree(tmp, ignore_errors=True)
    return path


def mkdirs(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def cached_tag_current(tag: str, path: Path) -> bool:
    """The cache holds `tag` as origin has it now (a registry re-created at the same URL re-tags: never serve stale)."""
    cached = git("rev-parse", "-q", "--verify", f"refs/tags/{tag}", cwd=path, check=False)
    if cached.returncode != 0:
        return False
    remote = git("ls-remote", "origin", f"refs/tags/{tag}", cwd=path, check=False).stdout.split()
    return bool(remote) and remote[0] == cached.stdout.strip()


def fetch_tag(tag: str, repo: str) -> Path:
    """The cache repository of `repo` holding `tag` (fetched once: one commit deep, blobs on demand)."""
    if tag.startswith("-") or not tag:
        raise DregError(f"invalid tag {tag[:40]!r}", "give a release tag such as wine-quality-v1.0.0")
    path = cache_repo(repo)
    with locked(path / "dreg.lock"):
        if not cached_tag_current(tag, path):
            proc = git("fetch", "-q", "--depth", "1", "--filter=blob:none", "--no-tags", "origin",
                       f"+refs/tags/{tag}:refs/tags/{tag}", cwd=path, check=False)
            if proc.returncode != 0:
                raise DregError(f"cannot fetch {tag} from {repo[:200]}: {git_message(proc)}",
                                "check the registry URL and the version with `dreg list --repo`")
    return path


def fetch_dataset_tags(dataset: str, repo: str) -> Path:
    """The cache repository of `repo` holding every release and promotion tag of `dataset` (tag objects, one
    commit deep, no blobs): what `dreg history --repo` reads."""
    path = cache_repo(repo)
    with locked(path / "dreg.lock"):
        proc = git("fetch", "-q", "--depth", "1", "--filter=blob:none", "--no-tags", "--prune", "origin",
                   f"+refs/tags/{dataset}-v*:refs/tags/{dataset}-v*", f"+refs/tags/{dataset}#*:refs/tags/{dataset}#*",
                   cwd=path, check=False)
        if proc.returncode != 0:
            raise DregError(f"cannot fetch the tags of {dataset} from {repo[:200]}: {git_message(proc)}",
                            "check the registry URL")
    return path


def show_at(tag: str, path: str, root: Path | str = ".", repo: str | None = None) -> str | None:
    """Content of `path` at release `tag`: of the registry at `root`, or of `repo` (no full clone); None if absent."""
    if repo is None:
        return show_file(tag, path, root)
    return show_file(tag, path, fetch_tag(tag, repo))


@dataclass(frozen=True)
class DataFile:
    """One file of a version's data folder: its path under `data/<dataset>/`, size and released md5."""

    path: str
    size: int | None
    md5: str | None


def version_fs(tag: str, repo: str):
    """A `dvc.api.DVCFileSystem` of the registry `repo` at release `tag`."""
    from dvc.api import DVCFileSystem

    from steps.client import registry_url
    from steps.config import dvc_config

    return DVCFileSystem(registry_url(repo), rev=tag, config=dvc_config())


def list_files(fs, dataset: str, path: str = "") -> list[DataFile]:
    """Every file of a version under `data/<dataset>/<path>` (a file or a folder), sorted, with size and md5
    (sizes of DVC-tracked files read from the DVC remote: a directory manifest records none)."""
    base = layout.data_dir(dataset)
    top = layout.data_file(dataset, path) if path else base
    if not fs.exists(top):
        raise DregError(f"{dataset} has no {path or 'data'} in this version",
                        f"list its files with `dreg ls {dataset}@VERSION`")
    found = fs.find(top, detail=True) if fs.isdir(top) else {top: fs.info(top)}
    sizes = object_sizes(fs)
    return [DataFile(name.removeprefix(base + "/"), info.get("size") if info.get("size") is not None else
                     sizes(info.get("md5")), info.get("md5"))
            for name, info in sorted(found.items())
            if info.get("type") != "directory" and Path(name).name != ".gitignore"]


def object_sizes(fs) -> Callable[[str | None], int | None]:
    """md5 → size of that object in the selected DVC remote (None when it cannot be read)."""
    odb: list = []

    def size(md5: str | None) -> int | None:
        if not md5:
            return None
        try:
            if not odb:
                odb.append(fs.repo.cloud.get_remote_odb(name=None))
            return int(odb[0].fs.size(odb[0].oid_to_path(md5)))
        except Exception:  # noqa: BLE001 - a size is informative: unknown rather than a failed listing
            return None

    return size


def download_file(fs, rel: str, dest: Path, expected_md5: str | None, what: str) -> None:
    """Stream `rel` to `dest`, hashing as it goes; a mismatch with `expected_md5` raises (the caller discards it)."""
    from steps.registry.verify import md5_of

    dest.parent.mkdir(parents=True, exist_ok=True)
    with fs.open(rel, "rb") as src, open(dest, "wb") as out:
        def chunks() -> Iterator[bytes]:
            for chunk in iter(lambda: src.read(CHUNK), b""):
                out.write(chunk)
                yield chunk
        got = md5_of(chunks())
    if expected_md5 and got != expected_md5.removesuffix(".dir"):
        raise DregError(f"{what[:200]}: content does not match its released md5 {expected_md5[:32]} (corrupted object "
                        "in the DVC remote or cache); nothing was written",
                        f"report it to the registry owners (`dreg verify --remote-only {what.split(':')[0]}`)")


def get_files(tag: str, dataset: str, path: str, out: Path | str, repo: str, force: bool = False) -> Path:
    """`dreg get`: copy a file or folder of a version (default: all its data) into `out`, under its own name;
    every file md5-checked, all-or-nothing (a failure leaves nothing behind)."""
    fs = version_fs(tag, repo)
    files = list_files(fs, dataset, path)
    name = Path(path.rstrip("/")).name if path else dataset
    out = Path(out)
    target = out / name
    if target.exists() and not force:
        raise DregError(f"{target} already exists", "choose another -o folder, or pass --force to replace it")
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".dreg-get-{name}-", dir=out))
    try:
        single = len(files) == 1 and files[0].path == path.strip("/")
        prefix = (path.strip("/") + "/") if path and not single else ""
        for f in files:
            local = staging / name if single else staging / name / f.path.removeprefix(prefix)
            download_file(fs, layout.data_file(dataset, f.path), local, f.md5, f"{tag}:{f.path}")
        if target.exists():  # --force: set the old copy aside in the staging folder (removed with it)
            os.replace(target, staging / f".old-{name}")
        os.replace(staging / name, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
