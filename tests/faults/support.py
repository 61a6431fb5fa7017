"""The fault suite's toolkit: run the real `dreg` (optionally killed at a named point), clone, and check the
release invariants against origin and the DVC remote after a fault."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from steps.dev.scaffold import Registry
from steps.inspect.verify import audit_remote
from steps.refs.handle import open_registry
from steps.release.sequence import tag_fingerprint
from tests.support.registry import cli_env, run_dreg

DATASET = "wine-quality"
RECORD_ENV = "DREG_FAULT_RECORDS"  # folder the controller reads to print the `make faults` table


def git(root: Path, *args: str) -> str:
    """stdout of a git command that must succeed in `root`."""
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout.strip()


def ref_map(repo: Path) -> dict[str, str]:
    """{tag: tag object id} of a repository (work tree or bare)."""
    out = git(repo, "for-each-ref", "--format=%(refname:strip=2) %(objectname)", "refs/tags")
    return dict(line.split() for line in out.splitlines())


def dreg(root: Path, *args: str, fault: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    """The real CLI in `root`; with `fault`, the process SIGKILLs itself at that point of the release sequence."""
    return run_dreg(root, *args, env=cli_env(**({"DREG_FAULT_POINT": fault} if fault else {}), **env))


def clone(reg: Registry, dest: Path, name: str = "other") -> Path:
    """A second clone of origin with its own identity (another publisher or a CI checkout)."""
    subprocess.run(["git", "clone", "-q", str(reg.origin), str(dest)], check=True)
    git(dest, "config", "user.name", name)
    git(dest, "config", "user.email", f"{name}@localhost")
    return dest


def converge(root: Path, tries: int = 3, **env: str) -> int:
    """Rerun `dreg run --push` until it succeeds; the number of reruns it took (fails the test after `tries`)."""
    for attempt in range(1, tries + 1):
        if dreg(root, "run", DATASET, "--push", **env).returncode == 0:
            return attempt
    proc = dreg(root, "run", DATASET, "--push", **env)
    raise AssertionError(f"no convergence after {tries} reruns:\n{proc.stdout}{proc.stderr}")


@dataclass
class Invariants:
    """What must hold after every fault; `before` is origin's tags before the fault."""

    reg: Registry
    before: dict[str, str] = field(default_factory=dict)

    @classmethod
    def snapshot(cls, reg: Registry) -> Invariants:
        return cls(reg, ref_map(reg.origin))

    def check(self, scratch: Path, published: Path | None = None) -> None:
        """Origin's tags never moved; every origin tag has its data intact in the remote and a clean lock; no two
        tags hold the same data; `published` (a work tree after convergence) has exactly one release of its data,
        on origin, and no tag that origin lacks."""
        after = ref_map(self.reg.origin)
        moved = {t for t, oid in self.before.items() if after.get(t) != oid}
        assert not moved, f"origin's tags moved or vanished: {moved}"
        audit = clone(self.reg, scratch / "audit", "auditor")
        bad = [(r.tag, r.problems) for r in audit_remote(release_tags(audit), audit) if r.problems]
        assert not bad, f"tags with missing, corrupted or stale data: {bad}"
        prints = [tag_fingerprint(t, DATASET, audit) for t in release_tags(audit) if t.startswith(DATASET)]
        assert len(prints) == len(set(prints)), "two tags release the same data"
        if published is not None:
            local = {t: o for t, o in ref_map(published).items() if t.startswith(DATASET)}
            assert all(after.get(t) == o for t, o in local.items()), f"local tags origin lacks: {local.keys() - after}"
            here = dirty_free_fingerprint(published)
            assert sum(tag_fingerprint(t, DATASET, audit) == here for t in after if t.startswith(DATASET)) == 1


def dirty_free_fingerprint(root: Path) -> tuple:
    """The release fingerprint of a work tree's reproduced dataset (its dvc.lock and metadata.json)."""
    from steps import layout
    from steps.release.sequence import release_fingerprint

    lock, meta = root / layout.dvc_lock(DATASET), root / layout.metadata_json(DATASET)
    return release_fingerprint(lock.read_text(), meta.read_text() if meta.exists() else None, DATASET)


def record(fault: str, tries: int, held: bool) -> None:
    """One row of the `make faults` table (kept by the controller process, printed at the end)."""
    folder = os.environ.get(RECORD_ENV)
    if folder:
        with open(Path(folder) / f"{os.getpid()}.jsonl", "a") as f:
            f.write(json.dumps({"fault": fault, "tries": tries, "held": held}) + "\n")


def release_tags(root: Path) -> list[str]:
    """Every release tag of the registry at `root`."""
    with open_registry(None, root) as reg:
        return reg.release_tags()
