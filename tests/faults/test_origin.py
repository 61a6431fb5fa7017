"""Origin faults: a refusing pre-receive hook, an unreachable origin, inputs changed upstream mid-run, and
concurrent publishers."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

from steps.dev.scaffold import commit_all, update_params
from tests.faults.support import DATASET, Invariants, clone, converge, dreg, git, ref_map


def test_hook_refusal_is_shown_once_and_nothing_lands(registry, tmp_path, fault):
    """Origin's pre-receive hook refuses the push."""
    hook = registry.origin / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'releases are frozen until Monday' >&2\nexit 1\n")
    hook.chmod(0o755)
    inv = Invariants.snapshot(registry)
    refused = dreg(registry.root, "run", DATASET, "--push")
    assert refused.returncode == 1
    assert "releases are frozen until Monday" in refused.stderr and "another release landed" not in refused.stdout
    assert ref_map(registry.root) == {} and ref_map(registry.origin) == {}
    hook.unlink()
    fault.tries = converge(registry.root)
    inv.check(tmp_path / "after", published=registry.root)


def test_unreachable_origin_tags_nothing_then_converges(registry, tmp_path, fault):
    """Origin unreachable during `dreg run --push`."""
    moved = registry.origin.with_name("away.git")
    registry.origin.rename(moved)
    try:
        failed = dreg(registry.root, "run", DATASET, "--push")
    finally:
        moved.rename(registry.origin)
    assert failed.returncode == 1 and "git fetch failed" in failed.stderr
    assert ref_map(registry.root) == {}
    inv = Invariants.snapshot(registry)
    fault.tries = converge(registry.root)
    inv.check(tmp_path / "after", published=registry.root)


def test_params_changed_upstream_mid_run_are_refused(registry, tmp_path, fault):
    """Params changed upstream while a publish ran (rebase)."""
    assert dreg(registry.root, "run", DATASET, "--no-publish").returncode == 0
    other = clone(registry, tmp_path / "other")
    update_params(other, DATASET, {"process": {"seed": 7}})
    commit_all(other, "seed 7")
    git(other, "push", "-q", "origin", "main")
    inv = Invariants.snapshot(registry)
    refused = dreg(registry.root, "publish", DATASET, "--push")
    assert refused.returncode == 1 and "changed the params, code or dependencies" in refused.stderr
    assert ref_map(registry.root) == {} and ref_map(registry.origin) == {}
    fault.tries = converge(registry.root)
    inv.check(tmp_path / "after", published=registry.root)
    assert "seed: 7" in git(registry.origin, "show", f"{DATASET}-v1.0.0:pipelines/{DATASET}/params.yaml")


def test_concurrent_publishers_all_land(registry, tmp_path, fault):
    """Three publishers push at once."""
    clones: list[Path] = []
    for seed in (11, 22, 33):
        c = clone(registry, tmp_path / f"p{seed}", f"p{seed}")
        update_params(c, DATASET, {"process": {"seed": seed}})
        commit_all(c, f"seed {seed}")
        assert dreg(c, "run", DATASET, "--no-publish").returncode == 0
        clones.append(c)
    inv = Invariants.snapshot(registry)
    results = {}
    threads = [threading.Thread(target=lambda c=c: results.setdefault(c, dreg(c, "publish", DATASET, "--push")))
               for c in clones]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    fault.tries = 1 + sum(converge(c) - 1 for c, r in results.items() if r.returncode != 0)
    for c in clones:
        inv.check(tmp_path / f"after-{c.name}", published=c)
        shutil.rmtree(tmp_path / f"after-{c.name}")
    assert sorted(ref_map(registry.origin)) == [f"{DATASET}-v1.0.{n}" for n in range(3)]
    seeds = {git(registry.origin, "show", f"{t}:pipelines/{DATASET}/params.yaml").split("seed: ")[1].split()[0]
             for t in ref_map(registry.origin)}
    assert seeds == {"11", "22", "33"}
    for tag in ref_map(registry.origin):  # every release commit names the version tagged on it
        subject = git(registry.origin, "log", "-1", "--format=%s", tag)
        assert subject == f"chore({DATASET}): release v{tag.split('-v')[1]}"
