"""`kill -9` of a real `dreg run --push` at each named point of the release sequence, then a rerun."""

from __future__ import annotations

import signal

import pytest

from steps.dev.scaffold import commit_all, update_params
from tests.faults.support import DATASET, Invariants, clone, converge, dreg, git, ref_map

POINTS = ["data-pushed", "committed", "tagged", "git-pushed"]


@pytest.mark.parametrize("point", POINTS)
def test_kill_at_each_point_then_rerun_converges(registry, tmp_path, fault, point):
    """kill -9 at each point of `dreg run --push`."""
    fault.name = f"kill -9 at {point}"
    inv = Invariants.snapshot(registry)
    killed = dreg(registry.root, "run", DATASET, "--push", fault=point)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    inv.check(tmp_path / "after-kill")
    fault.tries = converge(registry.root)
    inv.check(tmp_path / "after-rerun", published=registry.root)
    assert [t for t in ref_map(registry.origin)] == [f"{DATASET}-v1.0.0"]


def test_kill_after_rebase_then_rerun_converges(registry, tmp_path, fault):
    """kill -9 after the rebase of a lost race."""
    other = clone(registry, tmp_path / "other")
    (other / "NOTES.md").write_text("unrelated change\n")
    commit_all(other, "notes")
    git(other, "push", "-q", "origin", "main")
    inv = Invariants.snapshot(registry)
    assert dreg(registry.root, "run", DATASET, "--push", fault="rebased").returncode == -signal.SIGKILL
    fault.tries = converge(registry.root)
    inv.check(tmp_path / "after", published=registry.root)
    assert git(registry.origin, "log", "-1", "--format=%s", "main") == f"chore({DATASET}): release v1.0.0"


def test_stranded_tag_whose_number_was_taken_is_re_versioned(registry, tmp_path, fault, source_server):
    """kill -9 after the tag, then another clone takes the number."""
    assert dreg(registry.root, "run", DATASET, "--push", fault="tagged").returncode == -signal.SIGKILL
    stranded = git(registry.root, "rev-parse", f"{DATASET}-v1.0.0")
    other = clone(registry, tmp_path / "other")  # same inputs, other data: its sources come from the mirror
    assert dreg(other, "run", DATASET, "--push", DREG_MIRROR=str(source_server.root)).returncode == 0
    inv = Invariants.snapshot(registry)
    fault.tries = converge(registry.root)
    inv.check(tmp_path / "after", published=registry.root)
    origin = ref_map(registry.origin)
    assert sorted(origin) == [f"{DATASET}-v1.0.0", f"{DATASET}-v1.0.1"]
    assert git(registry.root, "rev-parse", f"{DATASET}-v1.0.0") == origin[f"{DATASET}-v1.0.0"] != stranded
    assert git(registry.origin, "log", "-1", "--format=%s", "main") == f"chore({DATASET}): release v1.0.1"
    assert '"kind": "url"' in git(registry.origin, "show", f"{DATASET}-v1.0.1:data/{DATASET}/metadata.json")


def test_stranded_tag_superseded_by_upstream_inputs_is_not_published(registry, tmp_path, fault):
    """kill -9 after the tag, then upstream changes the params."""
    assert dreg(registry.root, "run", DATASET, "--push", fault="tagged").returncode == -signal.SIGKILL
    other = clone(registry, tmp_path / "other")
    update_params(other, DATASET, {"process": {"seed": 7}})
    commit_all(other, "seed 7")
    git(other, "push", "-q", "origin", "main")
    inv = Invariants.snapshot(registry)
    fault.tries = converge(registry.root)
    inv.check(tmp_path / "after", published=registry.root)
    assert sorted(ref_map(registry.origin)) == [f"{DATASET}-v1.0.0"]
    assert "seed: 7" in git(registry.origin, "show", f"{DATASET}-v1.0.0:pipelines/{DATASET}/params.yaml")
