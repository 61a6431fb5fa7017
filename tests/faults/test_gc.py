"""`dreg gc` on random histories: releases, promotions, branches made and deleted, data pushed and abandoned. After a
collection every tag still reads back whole from the remote and exactly the unreferenced bytes are reclaimed; a tag
that cannot be read stops the sweep before anything is deleted."""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field
from pathlib import Path

from steps.dev.scaffold import Registry
from tests.faults.support import git
from tests.support.registry import cli_env, run_dreg

OPERATIONS = 220
DATASETS = ("cur-a", "cur-b", "cur-c")


def dreg(root: Path, *args: str):
    return run_dreg(root, *args, env=cli_env(), timeout=600)


def store(remote: Path, data: bytes, suffix: str = "") -> tuple[str, int]:
    """Put `data` into the DVC remote as an object (DVC 3 layout; `.dir` for a manifest); its (oid, size)."""
    md5 = hashlib.md5(data, usedforsecurity=False).hexdigest() + suffix
    path = remote / "files" / "md5" / md5[:2] / md5[2:]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return md5, len(data)


@dataclass
class History:
    """A registry built by random operations, and which objects each live ref records (the test's own model)."""

    reg: Registry
    rng: random.Random
    refs: dict[str, set[str]] = field(default_factory=dict)  # ref -> objects it records
    sizes: dict[str, int] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)
    branches: int = 0

    def put(self, data: bytes, suffix: str = "") -> str:
        oid, size = store(self.reg.remote, data, suffix)
        self.sizes[oid] = size
        return oid

    def data_file(self, dataset: str) -> set[str]:
        """Write `data/<dataset>/<name>.dvc` for a new file or folder pushed to the remote; the objects it needs."""
        name = self.rng.choice(["table.csv", "notes.txt", "images"])
        folder = self.reg.root / "data" / dataset
        folder.mkdir(parents=True, exist_ok=True)
        if name == "images":
            files = [(f"{i}.bin", self.rng.randbytes(self.rng.randint(10, 400))) for i in range(self.rng.randint(1, 3))]
            entries = sorted(({"md5": self.put(d), "relpath": n} for n, d in files), key=lambda e: e["relpath"])
            oid = self.put(json.dumps(entries).encode(), ".dir")
            objects = {oid, *(e["md5"] for e in entries)}
        else:
            oid = self.put(self.rng.randbytes(self.rng.randint(10, 400)))
            objects = {oid}
        (folder / f"{name}.dvc").write_text(f"outs:\n- md5: {oid}\n  hash: md5\n  path: {name}\n")
        return objects

    def recorded(self) -> set[str]:
        """Objects the work tree's committed `.dvc` files record (the model of one commit)."""
        objects: set[str] = set()
        for dvcfile in (self.reg.root / "data").glob("*/*.dvc"):
            oid = dvcfile.read_text().split("md5: ", 1)[1].split()[0]
            objects |= self.tree_objects(oid)
        return objects

    def tree_objects(self, oid: str) -> set[str]:
        if not oid.endswith(".dir"):
            return {oid}
        path = self.reg.remote / "files" / "md5" / oid[:2] / oid[2:]
        return {oid} | {e["md5"] for e in json.loads(path.read_bytes())}

    def commit(self, message: str) -> None:
        git(self.reg.root, "add", "-A", "data")
        git(self.reg.root, "commit", "-q", "-m", message)

    def release(self) -> None:
        dataset = self.rng.choice(DATASETS)
        self.data_file(dataset)
        self.commit(f"release {dataset}")
        n = self.versions[dataset] = self.versions.get(dataset, -1) + 1
        tag = f"{dataset}-v1.0.{n}"
        git(self.reg.root, "tag", "-a", tag, "-m", tag)
        self.refs[f"refs/tags/{tag}"] = self.refs["refs/heads/main"] = self.recorded()

    def promote(self) -> None:
        released = [r for r in self.refs if r.startswith("refs/tags/") and "#" not in r]
        if released:
            tag = self.rng.choice(released).removeprefix("refs/tags/")
            dataset = tag.rsplit("-v", 1)[0]
            stage_tag = f"{dataset}#prod#{sum(dataset + '#' in r for r in self.refs) + 1}"
            git(self.reg.root, "tag", "-a", stage_tag, "-m", f"promote {tag}", f"{tag}^{{commit}}")
            self.refs[f"refs/tags/{stage_tag}"] = self.refs[f"refs/tags/{tag}"]

    def branch(self) -> None:
        self.branches += 1
        name = f"work-{self.branches}"
        git(self.reg.root, "checkout", "-q", "-b", name)
        self.data_file(self.rng.choice(DATASETS))
        self.commit(f"experiment {name}")
        self.refs[f"refs/heads/{name}"] = self.recorded()
        git(self.reg.root, "checkout", "-q", "main")

    def delete_branch(self) -> None:
        branches = [r for r in self.refs if r.startswith("refs/heads/work-")]
        if branches:
            ref = self.rng.choice(branches)
            git(self.reg.root, "branch", "-q", "-D", ref.removeprefix("refs/heads/"))
            del self.refs[ref]

    def abandon(self) -> None:
        """Data pushed for a release that never happened."""
        self.put(self.rng.randbytes(self.rng.randint(10, 400)))

    def run(self, operations: int) -> None:
        self.refs["refs/heads/main"] = set()
        ops = [self.release] * 4 + [self.promote] * 2 + [self.branch] * 2 + [self.delete_branch, self.abandon]
        for _ in range(operations):
            self.rng.choice(ops)()

    def remote_objects(self) -> dict[str, int]:
        files = (self.reg.remote / "files" / "md5").glob("*/*")
        return {p.parent.name + p.name: p.stat().st_size for p in files if p.is_file()}


def live(history: History) -> set[str]:
    return set().union(*history.refs.values())


def test_gc_on_random_histories_keeps_every_tag_and_reclaims_exactly_the_garbage(registry, fault):
    """`dreg gc` after a random history of 220 operations."""
    history = History(registry, random.Random(22))
    history.run(OPERATIONS)
    before = history.remote_objects()
    garbage = {oid: size for oid, size in before.items() if oid not in live(history)}
    assert garbage and len(history.refs) > 10  # the history made garbage and kept many refs

    kept = dreg(registry.root, "gc", "--dry-run")  # default: younger than 7 days stays
    assert kept.returncode == 0 and "would reclaim 0 bytes" in kept.stdout, kept.stdout + kept.stderr
    dry = dreg(registry.root, "gc", "--dry-run", "--keep-untagged-days", "0")
    assert dry.returncode == 0, dry.stderr
    listed = {line.split()[3]: int(line.split()[4]) for line in dry.stdout.splitlines()
              if line.startswith("would delete remote")}
    assert listed == garbage and all("records it" in line for line in dry.stdout.splitlines()[:-1])
    assert history.remote_objects() == before  # a dry run deletes nothing

    swept = dreg(registry.root, "gc", "--keep-untagged-days", "0")
    assert swept.returncode == 0, swept.stderr
    deleted = sum(int(line.split()[3]) for line in swept.stdout.splitlines() if line.startswith("deleted remote"))
    assert deleted == sum(garbage.values())
    assert history.remote_objects() == {oid: size for oid, size in before.items() if oid not in garbage}
    audit = dreg(registry.root, "verify", "--remote-only", "--all")
    assert audit.returncode == 0, audit.stdout + audit.stderr


def test_unreadable_tag_aborts_the_sweep(registry, fault):
    """`dreg gc` with a tag whose data files cannot be read."""
    history = History(registry, random.Random(7))
    history.run(20)
    history.abandon()
    (registry.root / "data" / "cur-a").mkdir(parents=True, exist_ok=True)
    (registry.root / "data" / "cur-a" / "broken.dvc").write_text("outs: [unclosed\n")
    history.commit("a broken release")
    git(registry.root, "tag", "-a", "cur-a-v9.0.0", "-m", "broken")
    git(registry.root, "rm", "-q", "data/cur-a/broken.dvc")
    git(registry.root, "commit", "-q", "-m", "drop it")
    before = history.remote_objects()
    proc = dreg(registry.root, "gc", "--keep-untagged-days", "0")
    assert proc.returncode == 1 and "cur-a-v9.0.0" in proc.stderr and "nothing was deleted" in proc.stderr
    assert history.remote_objects() == before
