"""Hub sources follow a branch or tag the way DVC imports follow `rev` with a `rev_lock`: the first download resolves
it through the Hub API and records the commit (`hub-pin.json`, the lineage, the release); reruns and `dreg verify`
read that commit without asking the API; `dreg update` moves it, and the next run releases the new commit."""

from __future__ import annotations

import json
import uuid

from steps import layout
from steps.dev import demo
from steps.dev.samples import emotion_parquet
from steps.dev.scaffold import create_registry, update_params
from tests.support.registry import cli_env, commit_all, git, run_dreg, tags
from tests.support.sources import EMOTION_FILE, HUB_FILES, hub_ref_path, move_hub_ref

DATASET = "emotion"
REPO = HUB_FILES[DATASET][0]


def follow_new_branch(registry, server) -> tuple[str, str]:
    """Point emotion at a branch only this test moves (the stand-in Hub serves the whole session), at the good copy
    of the source; (branch, its commit)."""
    branch = f"test/{uuid.uuid4().hex[:8]}"
    commit = move_hub_ref(server.root, DATASET, DATASET, branch)
    update_params(registry.root, DATASET, {"download": {"revision": branch, "sha256": None}})
    commit_all(registry.root, f"emotion follows {branch}")
    return branch, commit


def push_to_branch(server, branch: str, seed: int) -> str:
    """A new upstream commit on `branch`: another valid emotion file; its commit."""
    folder = f"emotion-{uuid.uuid4().hex[:8]}"
    (server.root / folder).mkdir()
    (server.root / folder / EMOTION_FILE).write_bytes(emotion_parquet(400, seed))
    return move_hub_ref(server.root, folder, DATASET, branch)


def pin_of(root) -> dict:
    return json.loads((root / layout.hub_pin(DATASET)).read_text())


def hub_lineage(root) -> dict:
    return json.loads((root / layout.metadata_json(DATASET)).read_text())["lineage"]["hub"]


def test_a_branch_is_resolved_once_pinned_and_moved_only_by_update(registry, dreg, dataset_sources):
    branch, first = follow_new_branch(registry, dataset_sources)
    run = dreg("run", DATASET, "--push")
    assert run.returncode == 0, run.stderr
    pin = {"endpoint": dataset_sources.url, "repo": REPO, "revision": branch, "commit": first}
    assert pin_of(registry.root) == pin
    assert hub_lineage(registry.root) == {"repo": REPO, "revision": first, "path": EMOTION_FILE, "ref": branch}
    released = git(registry.origin, "show", f"{DATASET}-v1.0.0:{layout.hub_pin(DATASET)}")
    assert json.loads(released) == pin  # the pin travels with the release
    asked = dataset_sources.bytes_sent[hub_ref_path(DATASET, branch)]
    assert asked > 0

    second = push_to_branch(dataset_sources, branch, seed=7)
    assert second != first
    rerun = dreg("run", DATASET, "--force")
    assert rerun.returncode == 0 and "nothing changed" in rerun.stdout, rerun.stdout + rerun.stderr
    verify = dreg("verify", f"{DATASET}-v1.0.0")
    reproducible = f"{DATASET}-v1.0.0 is reproducible" in verify.stdout
    assert verify.returncode == 0 and reproducible, verify.stdout + verify.stderr
    assert dataset_sources.bytes_sent[hub_ref_path(DATASET, branch)] == asked  # both read the recorded commit
    assert pin_of(registry.root)["commit"] == first and tags(registry.root) == [f"{DATASET}-v1.0.0"]

    update = dreg("update", DATASET)
    assert update.returncode == 0, update.stderr
    assert f"pinned to {second} (was {first})" in update.stdout
    assert pin_of(registry.root) == {**pin, "commit": second}
    moved = dreg("run", DATASET, "--push")
    assert moved.returncode == 0, moved.stderr
    assert tags(registry.origin) == [f"{DATASET}-v1.0.0", f"{DATASET}-v1.0.1"]
    assert hub_lineage(registry.root)["revision"] == second
    diff = dreg("diff", f"{DATASET}@1.0.0", f"{DATASET}@1.0.1", "--json")
    changes = {(c["section"], c["key"]): (c["old"], c["new"]) for c in json.loads(diff.stdout)["changes"]}
    assert changes[("sources", "hub.revision")] == (first, second)

    again = dreg("update", DATASET)
    assert again.returncode == 0 and "nothing to update" in again.stdout
    assert git(registry.root, "status", "--porcelain") == ""


def test_an_unknown_revision_or_a_dataset_without_a_hub_source_fails_clearly(registry, dreg, dataset_sources):
    update_params(registry.root, DATASET, {"download": {"revision": "no-such-branch"}})
    commit_all(registry.root, "emotion follows a branch that does not exist")
    message = f"cannot resolve revision 'no-such-branch' of Hub dataset {REPO} at {dataset_sources.url}: HTTP 404"
    update = dreg("update", DATASET)
    assert update.returncode == 1 and update.stdout == ""
    hint = ("check download.repo and download.revision (a branch, tag or commit) in params.yaml; a private or gated "
            "repo needs HF_TOKEN")
    assert update.stderr.strip().splitlines() == [f"error: {message} (hint: {hint})"]
    run = dreg("run", DATASET, "--push")
    assert run.returncode == 1 and message in run.stderr and "Traceback" not in run.stderr
    assert not (registry.root / layout.hub_pin(DATASET)).exists()
    assert tags(registry.root) == [] and tags(registry.origin) == []

    other = dreg("update", "wine-quality")
    assert other.returncode == 1
    assert "wine-quality reads no Hugging Face Hub repo" in other.stderr
    assert "emotion, roco-radiology" in other.stderr


def test_a_revision_that_is_not_a_ref_name_is_refused(registry, dreg):
    update_params(registry.root, DATASET, {"download": {"revision": "../main"}})
    commit_all(registry.root, "emotion: a bad revision")
    result = dreg("run", DATASET)
    assert result.returncode == 1
    assert "download.revision" in result.stderr and "'../main'" in result.stderr


def test_with_a_mirror_a_branch_is_read_offline_and_recorded_unresolved(tmp_path):
    reg = create_registry(tmp_path / "demo", allow_sample_data=True)
    demo.use_sample_mirror(reg, tmp_path / "demo" / "mirror")  # params still name huggingface.co and `main`
    env = cli_env()
    run = run_dreg(reg.root, "run", DATASET, env=env)
    assert run.returncode == 0, run.stderr
    assert pin_of(reg.root) == {"endpoint": "https://huggingface.co", "repo": REPO, "revision": "main", "commit": None}
    assert hub_lineage(reg.root) == {"repo": REPO, "revision": "main", "path": EMOTION_FILE, "ref": "main"}
    verify = run_dreg(reg.root, "verify", f"{DATASET}-v1.0.0", env=env)
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_no_shipped_params_pin_a_placeholder_commit():
    for dataset in layout.pipeline_datasets(layout.CODE_ROOT):
        text = (layout.CODE_ROOT / layout.params_yaml(dataset)).read_text()
        assert "0" * 40 not in text, dataset
    for dataset in ("emotion", "roco-radiology"):
        assert "\n  revision: main\n" in (layout.CODE_ROOT / layout.params_yaml(dataset)).read_text()
