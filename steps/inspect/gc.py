"""`dreg gc`: remove objects of the DVC remote (and the local cache) that no release tag, promotion tag or branch
head references. Mark, then sweep: when any ref or any file it needs cannot be read, nothing is deleted."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dreg_client.grammar import parse_stage_tag
from steps import layout
from steps.config import get_settings
from steps.errors import DregError
from steps.git import git, show_bytes
from steps.inspect.verify import cached_outputs
from steps.kit.files import load_yaml
from steps.refs.handle import open_registry
from steps.release.dvc import open_repo

DAY_S = 86_400


@dataclass(frozen=True)
class Garbage:
    """One unreferenced object: where it lives, its id, size (bytes) and why nothing references it."""

    store: str
    oid: str
    size: int
    why: str


@dataclass
class GcReport:
    """What a collection found: refs marked, objects kept and the garbage (deleted unless a dry run)."""

    refs: int = 0
    kept: int = 0
    garbage: list[Garbage] = field(default_factory=list)

    @property
    def reclaimed(self) -> int:
        return sum(g.size for g in self.garbage)


def live_refs(root: Path) -> list[str]:
    """Every ref whose data must stay: release tags, promotion tags and branch heads (local and remote-tracking)."""
    with open_registry(None, root) as reg:
        released = set(reg.release_tags())
        releases = [t for t in reg.refs if t in released or parse_stage_tag(t)]
    heads = git("for-each-ref", "--format=%(refname)", "refs/heads", "refs/remotes", cwd=root).stdout.split()
    return [f"refs/tags/{t}" for t in releases] + [h for h in heads if not h.endswith("/HEAD")]


def read_at(rev: str, path: str, root: Path) -> Any:
    """The YAML document `path` at `rev`; DregError when git cannot read it or it does not parse."""
    data = show_bytes(rev, path, root)
    if data is None:
        raise DregError(f"cannot read {path} at {rev}: nothing was deleted", "check the ref (`git fsck`), then retry")
    try:
        return load_yaml(data.decode("utf-8")) or {}
    except Exception as exc:  # noqa: BLE001 - any decode or parse failure means the ref cannot be marked
        raise DregError(f"{path} at {rev} is unreadable ({type(exc).__name__}): nothing was deleted",
                        "repair or delete that ref, then retry") from None


def ref_outputs(rev: str, root: Path) -> set[str]:
    """md5 of every DVC output recorded at `rev`: each pipeline's dvc.lock (cached outputs) and each `.dvc` file."""
    proc = git("ls-tree", "-r", "--name-only", rev, "--", layout.PIPELINES, layout.DATA, cwd=root, check=False)
    if proc.returncode != 0:
        raise DregError(f"cannot read the tree of {rev}: nothing was deleted", "check the ref (`git fsck`), then retry")
    oids: set[str] = set()
    for name in proc.stdout.splitlines():
        if name.startswith(f"{layout.PIPELINES}/") and name.endswith("/dvc.lock"):
            lock = show_bytes(rev, name, root)
            dvc_yaml = show_bytes(rev, name.removesuffix("dvc.lock") + "dvc.yaml", root)
            read_at(rev, name, root)  # refuses an unreadable lock
            oids |= set(cached_outputs(lock.decode() if lock else None, dvc_yaml.decode() if dvc_yaml else None)
                        .values())
        elif name.startswith(f"{layout.DATA}/") and name.endswith(".dvc"):
            outs = read_at(rev, name, root).get("outs") or []
            oids |= {o["md5"] for o in outs if isinstance(o, dict) and o.get("md5")}
    return oids


def expand(oids: set[str], odbs: list[Any]) -> set[str]:
    """`oids` plus every file a directory manifest among them lists (read from the first store holding it)."""
    marked, pending = set(oids), [o for o in oids if o.endswith(".dir")]
    while pending:
        oid = pending.pop()
        manifest = None
        for odb in odbs:
            path = odb.oid_to_path(oid)
            if odb.fs.exists(path):
                manifest = json.loads(odb.fs.cat_file(path))
                break
        if manifest is None:
            raise DregError(f"directory manifest {oid} is in no store: its files cannot be marked; nothing was deleted",
                            "push it again (`dvc push`), or check `dreg verify --remote-only --all`")
        for entry in manifest:
            if entry["md5"] not in marked:
                marked.add(entry["md5"])
    return marked


def sweep_candidates(odb: Any, store: str, marked: set[str], keep_s: float, refs: int) -> list[Garbage]:
    """Objects of `odb` not in `marked` and older than `keep_s` seconds, each with its size and why it goes."""
    now, found = time.time(), []
    for oid in odb.all():
        if oid in marked:
            continue
        info = odb.fs.info(odb.oid_to_path(oid))
        mtime = info.get("mtime") or info.get("LastModified") or info.get("created")
        mtime = mtime.timestamp() if hasattr(mtime, "timestamp") else mtime
        age = now - float(mtime) if mtime is not None else None
        if age is None or age < keep_s:
            continue  # an object being pushed for a release not yet tagged (or of unknown age) stays
        found.append(Garbage(store, oid, int(info.get("size") or 0),
                             f"none of {refs} release/promotion tags or branch heads records it; "
                             f"{age / DAY_S:.1f} days old"))
    return found


def collect(root: Path | str = ".", dry_run: bool = False, keep_untagged_days: float = 7) -> GcReport:
    """Mark every object the live refs (and this work tree) record, then delete the rest from the DVC remote and
    the local cache (older than `keep_untagged_days`); a failure to read anything while marking deletes nothing."""
    root = Path(root).resolve()
    remote_name = get_settings().dvc_remote
    repo = open_repo(root)
    try:
        remote = repo.cloud.get_remote_odb(name=remote_name, command="gc")
    except Exception as exc:  # noqa: BLE001 - any failure to reach the remote is one clear error
        raise DregError(f"cannot open DVC remote '{remote_name}': {str(exc)[:200]}",
                        "check the remote's URL and credentials") from None
    cache = repo.cache.local
    refs = live_refs(root)
    oids: set[str] = set()
    for ref in refs:
        oids |= ref_outputs(ref, root)
    marked = expand(oids | workspace_outputs(root), [remote, cache])
    report = GcReport(refs=len(refs))
    keep_s = keep_untagged_days * DAY_S
    garbage = sweep_candidates(remote, "remote", marked, keep_s, len(refs)) + \
        sweep_candidates(cache, "cache", marked, keep_s, len(refs))
    report.garbage = garbage
    report.kept = len(marked)
    if not dry_run:
        for g in garbage:
            (remote if g.store == "remote" else cache).delete(g.oid)
    return report


def workspace_outputs(root: Path) -> set[str]:
    """Outputs the work tree's own (possibly uncommitted) dvc.lock and `.dvc` files record: the cache keeps them."""
    oids: set[str] = set()
    for lock in root.glob(f"{layout.PIPELINES}/*/dvc.lock"):
        dvc_yaml = lock.with_name("dvc.yaml")
        oids |= set(cached_outputs(lock.read_text(), dvc_yaml.read_text() if dvc_yaml.exists() else None).values())
    for dvcfile in root.glob(f"{layout.DATA}/*/*.dvc"):
        doc = load_yaml(dvcfile.read_text()) or {}
        oids |= {o["md5"] for o in doc.get("outs") or [] if isinstance(o, dict) and o.get("md5")}
    return oids
