"""Reading releases with the real `dreg`: one version grammar, `--json` shapes, `--repo` on the bare origin, piped
tables that are complete and never show Python's `None`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from steps.dev.scaffold import commit_all, update_params
from tests.support.registry import Released, cli_env, git, local_registry, push_main, run_dreg


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory, source_server) -> Iterator[Released]:
    """wine-quality 1.0.0 (promoted to prod) and 1.1.0 (validation share changed), pushed to the bare origin."""
    base = tmp_path_factory.mktemp("read")
    reg = local_registry(base, source_server)
    env = cli_env(DREG_CACHE_DIR=str(base / "dreg-cache"))  # --repo reads: this registry's own cache
    out = Released(reg, env)
    out.dreg("run", "wine-quality", "--push")
    update_params(reg.root, "wine-quality", {"process": {"val_fraction": 0.25}})
    commit_all(reg.root, "wine-quality: hold out 25%")
    push_main(reg.root)
    out.dreg("run", "wine-quality", "--bump", "minor", "--push")
    out.dreg("promote", "wine-quality@1.0.0", "--to", "prod", "--push")
    yield out


def piped_env(released: Released) -> dict[str, str]:
    """The registry's CLI environment without COLUMNS: output goes to a pipe, as in `dreg list | less`."""
    return {k: v for k, v in released.env.items() if k not in ("COLUMNS", "LINES")}


def show_json(released: Released, *args: str, cwd: Path | None = None) -> dict:
    return json.loads(released.dreg("show", *args, "--json", cwd=cwd).stdout)


@pytest.mark.parametrize("ref", ["wine-quality", "wine-quality@latest", "wine-quality@1.1.0", "wine-quality@v1.1.0",
                                 "wine-quality-v1.1.0"])
def test_show_diff_and_verify_take_the_same_version_grammar(released, ref):
    assert show_json(released, ref)["tag"] == "wine-quality-v1.1.0"
    diff = json.loads(released.dreg("diff", "wine-quality@1.0.0", ref, "--json").stdout)
    assert (diff["from"], diff["to"]) == ("wine-quality-v1.0.0", "wine-quality-v1.1.0")
    audit = released.dreg("verify", "--remote-only", ref)
    assert "ok  wine-quality-v1.1.0" in audit.stdout


def test_a_stage_is_a_version_in_every_command(released):
    assert show_json(released, "wine-quality@prod")["tag"] == "wine-quality-v1.0.0"
    assert show_json(released, "wine-quality@prod", "--repo", str(released.reg.origin), cwd=released.reg.origin)[
        "version"] == "1.0.0"
    diff = json.loads(released.dreg("diff", "wine-quality@prod", "wine-quality@latest", "--json").stdout)
    assert (diff["from"], diff["to"]) == ("wine-quality-v1.0.0", "wine-quality-v1.1.0")


def test_a_mistyped_dataset_is_unknown_with_the_closest_names(released):
    for args in (("show", "wine-qualty"), ("diff", "wine-qualty@1.0.0", "wine-quality@1.1.0"),
                 ("verify", "--remote-only", "wine-qualty"), ("run", "wine-qualty"), ("stage", "wine-qualty", "x")):
        result = run_dreg(released.reg.root, *args, env=released.env)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 1 and len(lines) == 1, (args, result.stderr)
        assert "unknown dataset 'wine-qualty'" in lines[0] and "wine-quality" in lines[0].split("hint:")[1], args
        assert "publish one" not in lines[0], args


def test_list_show_and_diff_json_shapes(released):
    root = released.reg.root
    listed = json.loads(released.dreg("list", "--json").stdout)
    rows = {row["dataset"]: row for row in listed["datasets"]}
    assert listed["repo"] is None
    assert rows["wine-quality"] == {"dataset": "wine-quality", "latest": "1.1.0", "tag": "wine-quality-v1.1.0",
                                    "versions": ["1.1.0", "1.0.0"],
                                    "tags": ["wine-quality-v1.1.0", "wine-quality-v1.0.0"],
                                    "stages": {"prod": "1.0.0"}}
    assert rows["fashion-mnist"]["latest"] is None and rows["fashion-mnist"]["versions"] == []
    assert rows["fashion-mnist"]["stages"] == {}
    table = [line for line in released.dreg("list").stdout.splitlines() if " wine-quality " in line]
    assert len(table) == 1 and "prod=1.0.0" in table[0] and "1.1.0 1.0.0" in table[0]

    shown = show_json(released, "wine-quality@1.0.0")
    released_meta = json.loads(git(root, "show", "wine-quality-v1.0.0:data/wine-quality/metadata.json"))
    assert shown == {"dataset": "wine-quality", "version": "1.0.0", "tag": "wine-quality-v1.0.0",
                     "commit": git(root, "rev-list", "-n1", "wine-quality-v1.0.0").strip(), "metadata": released_meta}

    diff = json.loads(released.dreg("diff", "wine-quality@1.0.0", "wine-quality@1.1.0", "--json").stdout)
    assert set(diff) == {"from", "to", "threshold", "min_share", "min_effect", "flagged", "changes"}
    change = next(c for c in diff["changes"] if c["key"] == "process.val_fraction")
    assert (change["section"], change["old"], change["new"]) == ("params", 0.2, 0.25)
    assert diff["flagged"] == sum(c["flagged"] for c in diff["changes"])


@pytest.mark.parametrize("form", ["path", "file-url"])
def test_repo_reads_the_bare_origin_from_anywhere_without_cloning(released, tmp_path, form):
    origin = released.reg.origin
    repo = str(origin) if form == "path" else origin.as_uri()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    refs_before = git(origin, "for-each-ref")

    listed = json.loads(released.dreg("list", "--repo", repo, "--json", cwd=elsewhere).stdout)
    local = json.loads(released.dreg("list", "--json").stdout)
    pick = lambda doc: {r["dataset"]: r for r in doc["datasets"]}["wine-quality"]
    assert listed["repo"] == repo and pick(listed) == pick(local)
    assert show_json(released, "wine-quality@1.0.0", "--repo", repo, cwd=elsewhere) == \
        show_json(released, "wine-quality@1.0.0")
    remote_diff = released.dreg("diff", "wine-quality@1.0.0", "wine-quality@latest", "--repo", repo, "--json",
                                cwd=elsewhere).stdout
    assert json.loads(remote_diff) == json.loads(released.dreg("diff", "wine-quality@1.0.0", "wine-quality@latest",
                                                               "--json").stdout)
    table = released.dreg("show", "wine-quality", "--repo", repo, cwd=elsewhere).stdout
    assert "wine-quality-v1.1.0" in table and "split train" in table
    assert list(elsewhere.iterdir()) == [] and git(origin, "for-each-ref") == refs_before


def test_piped_tables_are_complete_and_unset_fields_show_a_dash(released):
    root = released.reg.root
    listed = run_dreg(root, "list", env=piped_env(released))
    assert listed.returncode == 0, listed.stderr
    assert "opencloudhub-readmes-embeddings" in listed.stdout and "…" not in listed.stdout
    shown = run_dreg(root, "show", "wine-quality", env=piped_env(released))
    assert shown.returncode == 0, shown.stderr
    meta = json.loads((root / "data/wine-quality/metadata.json").read_text())
    for f in meta["lineage"]["source"]["files"]:
        assert f["url"] in shown.stdout  # source URLs complete, not cut with "…"
    assert "None" not in shown.stdout
    for field in ("docker_image_tag", "argo_workflow_uid"):
        assert meta["lineage"][field] is None
        assert [line.split() for line in shown.stdout.splitlines() if line.split()[:1] == [field]] == [[field, "-"]]


def test_json_is_one_key_sorted_document_when_piped(released):
    """`--json` output parses as a whole (no Rich markup, no wrapping at any width) and is key-sorted for diffs."""
    proc = run_dreg(released.reg.root, "show", "wine-quality", "--json", env=piped_env(released))
    doc = json.loads(proc.stdout)
    assert list(doc) == sorted(doc) and list(doc["metadata"]) == sorted(doc["metadata"])


def test_diff_flags_drift_only_when_it_reaches_an_absolute_floor(released):
    """1.1.0 holds out 25% instead of 20%: the split sizes move, the rare quality classes' shares move by a few
    hundredths of a percent (relative changes above 5%), which is no drift."""
    args = ("diff", "wine-quality@1.0.0", "wine-quality@1.1.0", "--json")
    default = json.loads(released.dreg(*args).stdout)
    assert (default["min_share"], default["min_effect"]) == (0.01, 0.1)
    flagged = {(c["section"], c["key"]) for c in default["changes"] if c["flagged"]}
    assert ("samples", "train") in flagged and ("samples", "val") in flagged
    for c in default["changes"]:
        if c["section"] == "classes" and c["flagged"] and None not in (c["old"], c["new"]):
            assert abs(c["new"] - c["old"]) >= 0.01, c
    loose = json.loads(released.dreg(*args, "--min-share", "0", "--min-effect", "0").stdout)
    unfloored = [c for c in loose["changes"] if c["flagged"] and (c["section"], c["key"]) not in flagged]
    assert unfloored and all(c["section"] in ("classes", "metrics") for c in unfloored)
    assert loose["flagged"] > default["flagged"]
    table = released.dreg("diff", "wine-quality@1.0.0", "wine-quality@1.1.0").stdout
    assert "at least 0.01 of a class share or 0.1 std" in table and f"{default['flagged']} change(s) flagged" in table
