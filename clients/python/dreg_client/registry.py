"""`Registry`: one handle on a registry, local checkout or remote URL, opened once and read one way.

    with Registry.open("https://git.example.org/org/data-registry.git") as reg:
        release = reg.resolve("wine-quality@prod")          # refs read once: tags, stages, latest
        meta = json.loads(reg.read_file(release, layout.metadata_json(release.dataset)))
        data = reg.read_data(release, "processed/train/train.parquet")   # md5-checked

A work tree is read in place (its tags, its objects, its DVC config and cache). Anything else (a git URL, a
`file://` URL, a bare origin's path) is read through one strategy: `git ls-remote` once for the refs, then a cache
repository per URL (`$DREG_CACHE_DIR`, default `~/.cache/dreg`) into which each release commit is fetched once,
one commit deep; DVC reads that commit straight from the cache repository (no clone, no checkout).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dreg_client import attest, grammar, layout
from dreg_client.errors import (
    CredentialsMissing,
    IntegrityError,
    ObjectMissing,
    PathNotFound,
    RegistryError,
    RemoteNotConfigured,
    RemoteUnavailable,
)
from dreg_client.git import BlobReader, blobs, git, git_message, local_refs, peeled_refs

if TYPE_CHECKING:
    from typing import Self  # annotations only: never imported at run time (the client runs on 3.10)

CHUNK = 1 << 20
Progress = Callable[[int, int | None], None]  # download progress: (bytes done, bytes in all or None)
STAGING_PREFIX = ".dreg-get-"  # a download's staging folder inside its destination (renamed into place at the end)
STAGING_LOCK = ".alive"
STALE_STAGING_S = 120  # a staging folder this old whose lock is free was left by a dead download
LOCAL_UPLOAD_PACK = "git -c uploadpack.allowFilter=true upload-pack"


@dataclass(frozen=True)
class Release:
    """One immutable release: dataset, version (semver), tag and the commit the tag names."""

    dataset: str
    version: str
    tag: str
    commit: str

    @property
    def ref(self) -> str:
        return f"{self.dataset}@{self.version}"

    @property
    def semver(self) -> str:
        """The version as `MAJOR.MINOR.PATCH` (same as `version`)."""
        return self.version


@dataclass(frozen=True)
class DataFile:
    """One file of a release's data folder: its path under `data/<dataset>/`, size and released md5."""

    path: str
    size: int | None
    md5: str | None


def cache_root() -> Path:
    """Where cache repositories live: `$DREG_CACHE_DIR`, else `$XDG_CACHE_HOME/dreg` or `~/.cache/dreg`."""
    explicit = os.environ.get("DREG_CACHE_DIR")
    base = Path(explicit) if explicit else Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dreg"
    return base.expanduser()


def is_url(location: str) -> bool:
    """True for `scheme://…` and scp-like `host:path` locations (not an existing local path)."""
    return "://" in location or (":" in location and not Path(location).exists() and not location.startswith("/"))


def work_tree(location: str) -> Path | None:
    """The top of the git work tree at `location`, or None (a URL, a bare repository, not a repository)."""
    if is_url(location) or not Path(location).expanduser().is_dir():
        return None
    proc = git("rev-parse", "--is-bare-repository", "--show-toplevel", cwd=Path(location).expanduser(), check=False)
    lines = proc.stdout.split("\n")
    if proc.returncode != 0 or lines[0].strip() != "false" or len(lines) < 2 or not lines[1].strip():
        return None
    return Path(lines[1].strip())


def canonical_url(location: str) -> str:
    """`location` as a git remote and cache key: URLs unchanged, paths absolute."""
    return location if is_url(location) else str(Path(location).expanduser().resolve())


def check_location(location: str) -> str:
    """`location` unless it could be read as a git option."""
    if not location or location.startswith("-"):
        raise RegistryError(f"invalid registry location {grammar.shown(location)!r}",
                            "give a git URL, a file:// URL or a path to a registry")
    return location


Config = Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None


class Registry:
    """A registry opened once: its refs (read once), files at a release, the DVC filesystem at a release (built
    once per release), verified data reads and all-or-nothing downloads."""

    def __init__(self, location: str | os.PathLike[str] = ".", remote: str | None = None,
                 config: Config = None, trusted_keys: attest.KeySpec = None,
                 require_signed: bool | None = None) -> None:
        self.location = check_location(os.fspath(location))
        self.remote = remote
        self._config = config
        self.policy = attest.Policy.resolve(trusted_keys, require_signed)
        self.root = work_tree(self.location)
        self.url = str(self.root) if self.root else canonical_url(self.location)
        self._fs: dict[str, Any] = {}
        self._blobs: dict[Path, BlobReader] = {}
        self._signed: dict[str, attest.Attestation | None] = {}
        self._listed: set[str] = set()
        self._git_files: dict[str, set[str]] = {}

    @classmethod
    def open(cls, location: str | os.PathLike[str] = ".", remote: str | None = None,
             config: Config = None, trusted_keys: attest.KeySpec = None,
             require_signed: bool | None = None) -> Registry:
        """Open a registry (use as a context manager: `with Registry.open(url) as reg:`); `config`: DVC config
        overrides, or a function returning them (called on the first data read); `trusted_keys` pins the
        publishers' public keys, `require_signed` refuses unsigned releases (see `dreg_client.attest`)."""
        return cls(location, remote=remote, config=config, trusted_keys=trusted_keys, require_signed=require_signed)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the DVC repositories and the git readers this handle opened."""
        for fs in self._fs.values():
            with contextlib.suppress(Exception):
                fs.close()
        self._fs.clear()
        for reader in self._blobs.values():
            reader.close()
        self._blobs.clear()

    @cached_property
    def config(self) -> dict[str, Any]:
        """The DVC config overrides (a function given to `open` is called once, here)."""
        return dict((self._config() if callable(self._config) else self._config) or {})

    @property
    def local(self) -> bool:
        """True for a work tree read in place."""
        return self.root is not None

    @property
    def where(self) -> str:
        """` in <url>` for messages about a remote registry; empty for the work tree."""
        return "" if self.local else f" in {grammar.shown(self.location, 200)}"

    # refs -----------------------------------------------------------------------------------------------------
    @cached_property
    def refs(self) -> dict[str, str]:
        """{tag: commit} of every tag (releases and promotions), read once."""
        if self.root is not None:
            return local_refs(self.root)
        proc = git("ls-remote", "--tags", "--", self.url, check=False)
        if proc.returncode != 0:
            raise RemoteUnavailable(f"cannot read tags of {grammar.shown(self.location, 200)}: {git_message(proc)}",
                                    "check the registry URL or path, and your git credentials for it")
        return peeled_refs(proc.stdout)

    def refresh(self) -> None:
        """Forget the refs read so far (the next read asks again)."""
        self.__dict__.pop("refs", None)
        self.__dict__.pop("index", None)

    @cached_property
    def index(self) -> grammar.RefIndex:
        """The refs parsed once: versions per dataset and stage assignments."""
        return grammar.index_refs(self.refs)

    def release_tags(self) -> list[str]:
        """Every release tag, sorted."""
        return grammar.release_tags(self.refs)

    def datasets(self) -> list[str]:
        """Dataset names: those with release tags, plus (in a work tree) its pipelines and curated data."""
        names = set(self.index.versions)
        if self.root is not None:
            names |= {*layout.pipeline_datasets(self.root), *layout.curated_datasets(self.root)}
        return sorted(names)

    def versions(self, dataset: str) -> list[grammar.Version]:
        """Published versions of `dataset`, newest first."""
        return list(self.index.versions.get(grammar.check_dataset(dataset), []))

    def stages(self, dataset: str) -> dict[str, str]:
        """{stage: semver} currently assigned for `dataset`."""
        return dict(self.index.stages.get(dataset, {}))

    def resolve(self, ref: str, version: str | None = None) -> Release:
        """The release `ref` names (`DATASET[@1.2.0|@v1.2.0|@latest|@<stage>]` or the tag); `version`, when given,
        completes a bare dataset name. DatasetNotFound, VersionNotFound or BadReference otherwise."""
        dataset, wanted = grammar.split_ref(grammar.join_ref(ref, version))
        versions = self.versions(dataset)
        if not versions and dataset not in self.datasets():
            raise grammar.unknown_dataset(dataset, self.datasets(), self.where)
        if grammar.is_stage_name(wanted):
            stage = grammar.check_stage(wanted or "")
            current = self.stages(dataset).get(stage)
            if current is None:
                from dreg_client.errors import VersionNotFound

                raise VersionNotFound(f"{dataset} has no version in stage '{stage}'{self.where}",
                                      f"promote one with `dreg promote {dataset}@VERSION --to {stage}`; "
                                      f"see `dreg history {dataset}`")
            wanted = current
        v = grammar.pick_version(versions, dataset, wanted, self.where)
        return Release(dataset, v.semver, v.tag, self.refs[v.tag])

    # git files at a release -------------------------------------------------------------------------------------
    def gitdir(self, release: Release) -> Path:
        """Where the release's commit can be read: the work tree, or the cache repository (fetched once)."""
        if self.root is not None:
            return self.root
        path = self.cache_repo()
        if git("cat-file", "-e", f"{release.commit}^{{commit}}", cwd=path, check=False).returncode != 0:
            with cache_lock(path):
                if git("cat-file", "-e", f"{release.commit}^{{commit}}", cwd=path, check=False).returncode != 0:
                    proc = git("fetch", "-q", "--depth", "1", "--no-tags", "origin",
                               f"+refs/tags/{release.tag}:refs/tags/{release.tag}", cwd=path, check=False)
                    if proc.returncode != 0:
                        raise RemoteUnavailable(f"cannot fetch {release.tag} from {grammar.shown(self.location, 200)}: "
                                                f"{git_message(proc)}", "check the registry URL and your git access")
        return path

    def tag_objects(self, dataset: str) -> Path:
        """A repository holding the tag objects (messages, taggers, dates) of `dataset`'s release and promotion
        tags: the work tree, or the cache repository after one fetch of just those tags."""
        if self.root is not None:
            return self.root
        path, name = self.cache_repo(), grammar.check_dataset(dataset)
        with cache_lock(path):
            proc = git("fetch", "-q", "--depth", "1", "--no-tags", "--prune", "origin",
                       f"+refs/tags/{name}-v*:refs/tags/{name}-v*", f"+refs/tags/{name}#*:refs/tags/{name}#*",
                       cwd=path, check=False)
        if proc.returncode != 0:
            raise RemoteUnavailable(f"cannot fetch the tags of {name} from {grammar.shown(self.location, 200)}: "
                                    f"{git_message(proc)}", "check the registry URL and your git access")
        return path

    def cache_repo(self) -> Path:
        """The bare cache repository of this registry's URL (created on first use, `origin` set to the URL)."""
        path = cache_root() / "repos" / f"{hashlib.sha256(self.url.encode()).hexdigest()[:24]}.git"
        if (path / "HEAD").is_file():
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".new-", dir=path.parent))
        git("init", "-q", "--bare", str(tmp))
        git("remote", "add", "origin", self.url, cwd=tmp)
        if not is_url(self.url) or self.url.startswith("file://"):
            git("config", "remote.origin.uploadpack", LOCAL_UPLOAD_PACK, cwd=tmp)
        try:
            tmp.rename(path)
        except OSError:  # another process created it first
            shutil.rmtree(tmp, ignore_errors=True)
        return path

    def read_file(self, release: Release, path: str) -> bytes | None:
        """Exact bytes of the git-tracked file `path` (from the registry root) at the release; None if absent.
        A subject of a signed release is checked against its signed sha256."""
        signed = self.attestation(release)
        data = self.git_bytes(release, path)
        if signed is not None and data is not None and path in signed.subjects:
            signed.check(path, attest.digests_of([data]))
        return data

    def git_bytes(self, release: Release, path: str) -> bytes | None:
        """`read_file` without verification (what verification itself reads)."""
        gitdir = self.gitdir(release)
        reader = self._blobs.get(gitdir) or self._blobs.setdefault(gitdir, BlobReader(gitdir))
        kind, data = reader.read(release.commit, path)
        if data is None and kind != "missing":
            raise RegistryError(f"{release.tag}: cannot read {grammar.shown(path, 200)} from git",
                                "check the registry's git objects (`git fsck`)")
        return data

    def read_text(self, release: Release, path: str) -> str | None:
        """`read_file` decoded as UTF-8."""
        data = self.read_file(release, path)
        return None if data is None else data.decode("utf-8", errors="replace")

    # attestations ---------------------------------------------------------------------------------------------
    def attestation(self, release: Release) -> attest.Attestation | None:
        """The release's verified attestation (signature, key, this tag's dataset and version, and the sha256 of
        every git file it commits), read once; None for an unsigned release unless the policy requires one."""
        if release.commit in self._signed:
            return self._signed[release.commit]
        raw = self.git_bytes(release, layout.attestation(release.dataset))
        if raw is None:
            if self.policy.require_signed:
                raise attest.unsigned(release.tag)
            self._signed[release.commit] = None
            return None
        keys = list(self.policy.keys) or self.published_keys(release, raw)
        signed = attest.attestation(raw, keys, self.policy.pinned, release.dataset, release.version, release.tag)
        self.check_git_subjects(release, signed)
        if not self.policy.pinned:
            attest.warn_unpinned(release.tag, [signed.keyid])
        self._signed[release.commit] = signed
        return signed

    def published_keys(self, release: Release, raw: bytes) -> list[Any]:
        """The registry's own published public keys (`keys/<keyid>.pub.pem` at the release) of the envelope's
        signers."""
        keys = []
        for keyid in attest.envelope_keyids(raw, release.tag):
            pem = self.git_bytes(release, layout.published_key(keyid)) if attest.is_keyid(keyid) else None
            if pem is not None:
                keys.append(attest.public_key(pem))
        return keys

    def check_git_subjects(self, release: Release, signed: attest.Attestation) -> None:
        """Every git file of the release's data folder and its dvc.lock is a subject with the signed sha256, and so
        is every other file of its pipeline folder that the attestation names."""
        data, lock = layout.data_dir(release.dataset) + "/", layout.dvc_lock(release.dataset)
        tracked = git("ls-tree", "-r", "--name-only", release.commit, "--", data,
                      layout.pipeline_dir(release.dataset) + "/", cwd=self.gitdir(release)).stdout.split("\n")
        names = [n for n in tracked if n and n != layout.attestation(release.dataset)
                 and (n.startswith(data) or n == lock or n in signed.subjects)]
        contents = blobs(release.commit, names, self.gitdir(release))
        for name in names:
            signed.check(name, attest.digests_of([contents.get(name, b"")]))
        self._git_files[release.commit] = set(names)

    def attested(self, release: Release) -> attest.Attestation | None:
        """`attestation`, plus: every DVC-tracked file of the release is a subject with the signed md5, and every
        subject is a file of the release (checked once per release)."""
        signed = self.attestation(release)
        if signed is None or release.commit in self._listed:
            return signed
        listed = {layout.data_file(release.dataset, f.path): f for f in self.listing(release) if f.md5}
        for name, f in listed.items():
            if signed.subjects.get(name, {}).get("md5") != f.md5:
                raise attest.AttestationError(f"{release.tag}: {grammar.shown(name, 200)} is not signed with this "
                                              "content (md5 differs or no subject)",
                                              "do not use this release; report it to the registry owners")
        in_git = self._git_files.get(release.commit, set())
        for name in signed.subjects:
            if name not in listed and name not in in_git:
                raise attest.AttestationError(f"{release.tag}: the signed file {grammar.shown(name, 200)} is missing "
                                              "from the release", "do not use this release; report it to the owners")
        self._listed.add(release.commit)
        return signed

    # data through DVC -------------------------------------------------------------------------------------------
    def fs(self, release: Release) -> Any:
        """The `dvc.api.DVCFileSystem` of the release (built once per release)."""
        if release.commit not in self._fs:
            from dvc.api import DVCFileSystem
            from dvc.repo import Repo

            config = dict(self.config)
            if self.remote:
                config["core"] = {**dict(config.get("core") or {}), "remote": self.remote}
            config = with_relative_remotes(config, self.committed_remotes(release))
            with dvc_errors(release, self.remote):
                repo = Repo(str(self.gitdir(release)), rev=release.commit, config=config or None)
            check_remote(repo, release)
            self._fs[release.commit] = DVCFileSystem(repo=repo)
        return self._fs[release.commit]

    def committed_remotes(self, release: Release) -> dict[str, dict[str, str]]:
        """The release's `.dvc/config` remotes whose url is a relative path, made absolute against this registry's
        `.dvc/` (DVC reading a past commit would resolve them against `/`); none for a registry given by URL."""
        local = self.root or (None if is_url(self.url) and not self.url.startswith("file://")
                              else Path(self.url.removeprefix("file://")))
        if local is None:
            return {}
        text = self.git_bytes(release, ".dvc/config") or b""  # the handle's one blob reader, no extra process
        return relative_remotes(text.decode(errors="replace"), local / ".dvc")

    def files(self, release: Release, path: str = "") -> list[DataFile]:
        """Every file of the release under `data/<dataset>/<path>` (a file or a folder), sorted, with size and md5
        (sizes of DVC-tracked files read from the remote: a directory manifest records none)."""
        self.attested(release)
        return self.listing(release, path)

    def listing(self, release: Release, path: str = "") -> list[DataFile]:
        """`files` without verification (what verification itself lists)."""
        fs, base = self.fs(release), layout.data_dir(release.dataset)
        path = layout.check_data_path(path)
        top = layout.data_file(release.dataset, path) if path else base
        with dvc_errors(release, self.remote):
            if not utf8_name(top):  # DVC cannot look such a name up: pick it from the dataset's listing
                found = {n: i for n, i in fs.find(base, detail=True).items() if n == top or n.startswith(top + "/")}
            elif exists(fs, top):
                found = fs.find(top, detail=True) if fs.isdir(top) else {top: fs.info(top)}
            else:
                found = {}
            if not found:
                raise PathNotFound(f"{release.tag} has no {printable(path or 'data')}",
                                   f"list its files with `dreg ls {release.ref}`")
        sizes = object_sizes(fs)
        return [DataFile(name.removeprefix(base + "/"), info.get("size") if info.get("size") is not None else
                         sizes(info.get("md5")), info.get("md5"))
                for name, info in sorted(found.items())
                if info.get("type") != "directory" and Path(name).name != ".gitignore"]

    def read_data(self, release: Release, path: str) -> bytes:
        """Bytes of `data/<dataset>/<path>`, checked against the md5 the release records (IntegrityError if not)
        and, for a signed release, against its signed md5 and sha256 (a file the attestation does not name is
        refused; the listing of the whole release is checked by `files`/`download`, not on every read)."""
        signed = self.attestation(release)
        fs, rel = self.fs(release), layout.data_file(release.dataset, layout.check_data_path(path))
        with dvc_errors(release, self.remote, rel):
            if not exists(fs, rel) or fs.isdir(rel):
                raise PathNotFound(f"{release.tag} has no file {grammar.shown(path, 200)}",
                                   f"list its files with `dreg ls {release.ref}`")
            data: bytes = fs.read_bytes(rel) if utf8_name(rel) else self.git_named(release, rel)
            md5 = fs.info(rel).get("md5")
        digests = attest.digests_of([data])
        check_md5(digests.md5, md5, f"{release.tag}:{rel}")
        check_signed(signed, release, rel, digests)
        return data

    def storage(self, release: Release, path: str) -> tuple[Any, str]:
        """(the DVC remote's filesystem, the object's path in it) of a file of the release."""
        from dvc_data.index import StorageKeyError

        self.attestation(release)
        fs, rel = self.fs(release), layout.data_file(release.dataset, layout.check_data_path(path))
        with dvc_errors(release, self.remote, rel):
            if not exists(fs, rel):
                raise PathNotFound(f"{release.tag} has no file {grammar.shown(path, 200)}",
                                   f"list its files with `dreg ls {release.ref}`")
            index, entry = fs.repo.get_data_index_entry(rel)
            try:
                located: tuple[Any, str] = index.storage_map.get_remote(entry)
                return located
            except (StorageKeyError, ValueError):
                raise RemoteNotConfigured(f"{release.tag}: no DVC remote holds {grammar.shown(path, 200)}",
                                          "pass remote= (the registry's DVC remote name)") from None

    def download(self, release: Release, path: str, dest: str | os.PathLike[str], force: bool = False,
                 on_file: Callable[[DataFile], None] | None = None, progress: Progress | None = None) -> Path:
        """Copy a file or folder of the release (default: all its data) into the folder `dest`, under its own name;
        every file md5-checked, all or nothing (a failure, or a signal, leaves nothing behind). `progress(done,
        total)` is called as bytes arrive (`total`: the bytes of all the files, None when a size is unknown)."""
        path = layout.check_data_path(path)
        files = self.files(release, path)
        counted = byte_counter(files, progress)
        name = Path(path).name if path else release.dataset
        out = Path(dest)
        target = out / name
        if target.exists() and not force:
            raise RegistryError(f"{target} already exists", "choose another folder, or pass force=True (--force)")
        out.mkdir(parents=True, exist_ok=True)
        remove_stale_staging(out)
        staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{name[:40]}-", dir=out))
        alive = staging_lock(staging)
        try:
            single = len(files) == 1 and files[0].path == path
            prefix = f"{path}/" if path and not single else ""
            for f in files:
                local = staging / name if single else staging / name / f.path.removeprefix(prefix)
                self.copy_file(release, f, local, counted)
                if on_file:
                    on_file(f)
            if target.exists():  # force: the old copy goes aside into the staging folder (removed with it)
                os.replace(target, staging / f".old-{name}")
            os.replace(staging / name, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
            alive.release()
        return target

    def copy_file(self, release: Release, f: DataFile, dest: Path,
                  counted: Callable[[int], None] | None = None) -> None:
        """Stream one file of the release to `dest`, hashing as it goes (`counted(n)` after each n bytes); a mismatch
        with its md5 (or, signed, its signed digests) raises IntegrityError."""
        signed = self.attested(release)
        rel = layout.data_file(release.dataset, f.path)
        dest.parent.mkdir(parents=True, exist_ok=True)
        if not utf8_name(rel):
            data = self.git_named(release, rel)
            dest.write_bytes(data)
            got = attest.digests_of([data])
            if counted:
                counted(len(data))
        else:
            got = self.stream_file(release, rel, dest, counted)
        check_md5(got.md5, f.md5, f"{release.tag}:{f.path}")
        check_signed(signed, release, rel, got)

    def stream_file(self, release: Release, rel: str, dest: Path,
                    counted: Callable[[int], None] | None = None) -> attest.Digests:
        """Stream the release's file `rel` through DVC to `dest` (`counted(n)` after each chunk); its digests."""
        fs = self.fs(release)
        with dvc_errors(release, self.remote, rel), fs.open(rel, "rb") as src, open(dest, "wb") as out:
            def chunks() -> Iterator[bytes]:
                for chunk in iter(lambda: src.read(CHUNK), b""):
                    out.write(chunk)
                    if counted:
                        counted(len(chunk))
                    yield chunk
            return attest.digests_of(chunks())

    def git_named(self, release: Release, rel: str) -> bytes:
        """Bytes of the file `rel` whose name is not UTF-8, read through git (DVC's git reader would hang: its
        reader thread dies encoding the name); RegistryError when git does not hold it (DVC-tracked)."""
        data = self.git_bytes(release, rel)
        if data is None:
            raise RegistryError(f"{release.tag}: the file name {printable(rel)!r} is not UTF-8 and cannot be read",
                                "rename the file in the registry (UTF-8 names only) and release again")
        return data


def byte_counter(files: list[DataFile], progress: Progress | None) -> Callable[[int], None] | None:
    """A callback adding each chunk's bytes to a running total and reporting `progress(done, total)`; None without
    `progress`. `total` is the files' summed size, None when one is unknown."""
    if progress is None:
        return None
    sizes = [f.size for f in files]
    total = None if any(size is None for size in sizes) else sum(size or 0 for size in sizes)
    done = [0]
    progress(0, total)

    def counted(n: int) -> None:
        done[0] += n
        progress(done[0], total)

    return counted


def check_signed(signed: attest.Attestation | None, release: Release, path: str, digests: attest.Digests) -> None:
    """For a signed release, AttestationError unless the file `path` has its signed digests (the envelope itself is
    the one file that is not its own subject)."""
    if signed is not None and path != layout.attestation(release.dataset):
        signed.check(path, digests)


def utf8_name(path: str) -> bool:
    """Whether `path` encodes as UTF-8 (a name read from git with invalid bytes holds surrogate escapes)."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def printable(path: str) -> str:
    """`path` bounded, its invalid bytes shown as `\\xNN` (safe to print on any console)."""
    return grammar.shown(path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace"), 200)


def exists(fs: Any, path: str) -> bool:
    """Whether `path` is in the release; the directory manifests on the way are loaded first, so a remote that
    cannot be read raises (and is classified) instead of reading as "no such file"."""
    index, parts = fs.repo.index.data["repo"], tuple(path.split("/"))
    for n in range(1, len(parts)):
        entry = index.get(parts[:n])
        if entry is not None and entry.meta is not None and entry.meta.isdir and entry.hash_info:
            list(index.ls(parts[:n], detail=False))
            break
    return bool(fs.exists(path))


def staging_lock(staging: Path) -> Any:
    """Hold a lock in a download's staging folder while it lives: a folder whose lock is free was left by a
    process that died (SIGKILL, power loss)."""
    from filelock import FileLock

    lock = FileLock(str(staging / STAGING_LOCK))
    lock.acquire()
    return lock


def remove_stale_staging(out: Path) -> None:
    """Remove staging folders of downloads into `out` that died (lock free) and are older than STALE_STAGING_S."""
    from filelock import FileLock, Timeout

    now = time.time()
    for folder in out.glob(f"{STAGING_PREFIX}*"):
        try:
            if not folder.is_dir() or now - folder.stat().st_mtime < STALE_STAGING_S:
                continue
            lock = FileLock(str(folder / STAGING_LOCK))
            lock.acquire(timeout=0)
        except (OSError, Timeout):
            continue  # a download still running (or a folder we cannot touch): leave it
        try:
            shutil.rmtree(folder, ignore_errors=True)
        finally:
            lock.release()


def check_remote(repo: Any, release: Release) -> None:
    """RemoteNotConfigured when the remote selected (argument or the release's `.dvc/config`) is not defined there:
    DVC would otherwise report every file as absent."""
    name = (repo.config.get("core") or {}).get("remote")
    defined = sorted(repo.config.get("remote") or {})
    if name and name not in defined:
        repo.close()
        raise RemoteNotConfigured(f"{release.tag}: DVC remote '{grammar.shown(name)}' is not configured in this "
                                  f"release (remotes: {', '.join(defined) or 'none'})",
                                  "pass remote= with one of those names, or none for the release's default")


def md5_of(chunks: Iterator[bytes]) -> str:
    """md5 hex digest of a stream of byte chunks."""
    digest = hashlib.md5(usedforsecurity=False)
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


def check_md5(got: str, expected: str | None, what: str) -> None:
    """IntegrityError unless `got` is the md5 the release records (`expected`; None: not DVC-tracked)."""
    if expected and got != expected.removesuffix(".dir"):
        raise IntegrityError(f"{grammar.shown(what, 200)}: content does not match its released md5 {expected[:32]} "
                             "(corrupted object in the DVC remote or cache); nothing was written or returned",
                             "do not use it; report it to the registry owners (`dreg verify --remote-only TAG`)")


def object_sizes(fs: Any) -> Callable[[str | None], int | None]:
    """md5 → size of that object in the DVC remote (None when it cannot be read)."""
    odb: list[Any] = []

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


@contextlib.contextmanager
def cache_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on a cache repository (two processes never fetch into it at once)."""
    from filelock import FileLock

    with FileLock(str(path / "dreg.lock")):
        yield


CREDENTIAL_CODES = ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "403", "Forbidden",
                    "ExpiredToken", "InvalidToken")


@contextlib.contextmanager
def dvc_errors(release: Release, remote: str | None, path: str | None = None) -> Iterator[None]:
    """Turn what DVC, fsspec and botocore raise into the client's exceptions, each naming the real cause."""
    try:
        yield
    except RegistryError:
        raise
    except Exception as exc:
        mapped = classify(exc, release, remote, path)
        if mapped is None:
            raise
        raise mapped from exc


def causes(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and the exceptions it was raised from, outermost first."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def classify(exc: Exception, release: Release, remote: str | None, path: str | None) -> RegistryError | None:
    """The client exception for a DVC/storage failure, or None when it is none of the known causes (the most
    specific cause wins: a manifest that failed to load because of credentials is a credentials failure)."""
    what = f"{release.tag}{':' + path if path else ''}"
    named = f"DVC remote '{remote}'" if remote else "the registry's DVC remote"
    chain = list(causes(exc))
    for err in chain:
        if type(err).__name__ == "ConfigError":
            return RemoteNotConfigured(f"{release.tag}: its DVC config .dvc/config is invalid "
                                       f"({first_line(str(err).removeprefix('config file error: '))})",
                                       "this version's data cannot be located; fix .dvc/config and release again")
    for err in chain:
        kind, text = type(err).__name__, str(err)
        if kind in ("RemoteNotFoundError", "NoRemoteError") or "no remote specified" in text.lower():
            return RemoteNotConfigured(f"{what}: {named} is not configured ({first_line(text)})",
                                       "pass remote= with a remote the registry's .dvc/config defines")
    for err in chain:
        kind, text = type(err).__name__, str(err)
        if kind in ("NoCredentialsError", "PartialCredentialsError", "CredentialRetrievalError") or \
                any(code in text for code in CREDENTIAL_CODES):
            return CredentialsMissing(f"{what}: {named} refused the request: credentials missing or wrong "
                                      f"({first_line(text)})",
                                      "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or a profile) for it")
    for err in chain:
        kind, text = type(err).__name__, str(err)
        if kind in ("EndpointConnectionError", "ClientConnectorError", "ConnectTimeoutError", "ReadTimeoutError",
                    "ConnectionRefusedError", "ServerDisconnectedError", "ConnectionError") or \
                "NoSuchBucket" in text or "Could not connect" in text:
            return RemoteUnavailable(f"{what}: cannot reach {named} ({first_line(text)})",
                                     "check the endpoint URL, the bucket and the network (DVC remote config, "
                                     "AWS_ENDPOINT_URL)")
    for err in chain:
        if isinstance(err, FileNotFoundError) or type(err).__name__ in ("DataIndexDirError", "StorageKeyError"):
            return ObjectMissing(f"{what}: {named} does not hold this object ({first_line(str(err))})",
                                 "report it to the registry owners (`dreg verify --remote-only TAG` lists "
                                 "every missing object)")
    return None


def first_line(text: str) -> str:
    """The first line of an exception's text, bounded."""
    return grammar.shown((text.strip().splitlines() or ["no details"])[0], 200)


def relative_remotes(config_text: str, base: Path) -> dict[str, dict[str, str]]:
    """Remotes of a DVC config text whose url is a relative path, as {name: {"url": absolute path}} against `base`."""
    import re

    from configobj import ConfigObj, ConfigObjError

    try:
        sections = ConfigObj(config_text.splitlines())
    except ConfigObjError:
        return {}
    found = {}
    for section, values in sections.items():
        named = re.fullmatch(r'remote\s+"(.+)"', section.strip("'"))
        url = values.get("url") if named and isinstance(values, Mapping) else None
        if named and isinstance(url, str) and url and "://" not in url and not os.path.isabs(url):
            found[named.group(1)] = {"url": os.path.normpath(base / url)}
    return found


def with_relative_remotes(config: dict[str, Any], remotes: dict[str, dict[str, str]]) -> dict[str, Any]:
    """`config` (DVC overrides) with `remotes` filled in under `remote`; what `config` sets for a remote wins."""
    if not remotes:
        return config
    given = dict(config.get("remote") or {})
    merged = {name: {**url, **dict(given.get(name) or {})} for name, url in remotes.items()}
    return {**config, "remote": {**given, **merged}}
