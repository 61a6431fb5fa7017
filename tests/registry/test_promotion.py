"""Promotion stages: each assignment is a new annotated tag `<dataset>#<stage>#<n>` pushed to origin, never a
moved one; racing promoters both land; only versions whose data the DVC remote holds are promoted; consumers
resolve `@prod` in the CLI and the client."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from dreg_client import load, read_metadata, resolve_tag
from steps.refs.stages import current_stages
from steps.refs.versions import list_versions
from tests.registry.test_versions_grammar import V1, V2, release_two
from tests.support.registry import Released, git, run_dreg, tags
from tests.support.servers import SourceServer


@pytest.fixture
def two(tmp_path: Path, source_server: SourceServer, monkeypatch: pytest.MonkeyPatch) -> Released:
    monkeypatch.setenv("DREG_CACHE_DIR", str(tmp_path / "dreg-cache"))
    return release_two(tmp_path, source_server)


def stage_tags(repo: Path) -> list[str]:
    return [t for t in tags(repo) if "#" in t]


def remote_ids(origin: Path) -> dict[str, str]:
    out = git(origin, "for-each-ref", "--format=%(refname:strip=2) %(objectname)", "refs/tags")
    return dict(line.split(" ") for line in out.splitlines())


def fields(repo: Path, tag: str) -> dict[str, str]:
    body = git(repo, "for-each-ref", "--format=%(contents)", f"refs/tags/{tag}")
    return {k.strip(): v.strip() for k, _, v in (ln.partition(":") for ln in body.splitlines()) if _}


def test_each_assignment_is_a_new_annotated_tag_on_origin_and_none_moves(two):
    out = two.dreg("promote", "wine-quality@1.0.0", "--to", "prod").stdout
    assert "wine-quality#prod#1" in out
    assert stage_tags(two.reg.origin) == ["wine-quality#prod#1"]  # pushed by default: the registry has origin
    first = remote_ids(two.reg.origin)["wine-quality#prod#1"]
    assert git(two.reg.origin, "cat-file", "-t", "wine-quality#prod#1").strip() == "tag"
    assert git(two.reg.origin, "rev-parse", "wine-quality#prod#1^{commit}") == git(two.reg.origin, "rev-parse",
                                                                                   f"{V1}^{{commit}}")
    recorded = fields(two.reg.origin, "wine-quality#prod#1")
    assert recorded["version"] == "1.0.0" and recorded["tag"] == V1 and recorded["stage"] == "prod"
    assert recorded["by"] == "data-registry <registry@localhost>" and recorded["at"].startswith("20")

    doc = json.loads(two.dreg("promote", "wine-quality@1.1.0", "--to", "prod", "--json").stdout)
    assert doc == {"dataset": "wine-quality", "stage": "prod", "version": "1.1.0", "tag": "wine-quality#prod#2",
                   "release": V2}
    assert stage_tags(two.reg.origin) == ["wine-quality#prod#1", "wine-quality#prod#2"]
    assert remote_ids(two.reg.origin)["wine-quality#prod#1"] == first
    assert current_stages("wine-quality", repo=str(two.reg.origin)) == {"prod": "1.1.0"}

    history = json.loads(two.dreg("history", "wine-quality", "--json").stdout)
    promoted = [(e["stage"], e["version"], e["tag"]) for e in history["events"] if e["kind"] == "promotion"]
    assert promoted == [("prod", "1.0.0", "wine-quality#prod#1"), ("prod", "1.1.0", "wine-quality#prod#2")]


def test_consumers_resolve_the_stage_in_the_cli_and_the_client(two, tmp_path):
    two.dreg("promote", "wine-quality@1.0.0", "--to", "prod")
    two.dreg("promote", "wine-quality@1.1.0", "--to", "staging")
    origin = str(two.reg.origin)
    listed = json.loads(two.dreg("ls", "wine-quality@prod", "--repo", origin, "--json", cwd=tmp_path).stdout)
    assert listed["tag"] == V1
    assert resolve_tag("wine-quality", "prod", origin) == V1 and resolve_tag("wine-quality", "staging", origin) == V2
    released = json.loads(git(two.reg.root, "show", f"{V1}:data/wine-quality/metadata.json"))
    assert read_metadata("wine-quality", "prod", origin) == released
    val = load("wine-quality@prod", split="val", repo=origin)
    assert isinstance(val, pd.DataFrame) and len(val) == released["splits"]["val"]["num_samples"]


def test_two_promoters_racing_both_land(two, tmp_path):
    clones = []
    for name in ("a", "b"):
        clone = tmp_path / name
        subprocess.run(["git", "clone", "-q", str(two.reg.origin), str(clone)], check=True)
        git(clone, "config", "user.email", f"{name}@localhost")
        git(clone, "config", "user.name", name)
        clones.append(clone)
    procs = [subprocess.Popen([str(Path(two.env["PATH"].split(":")[0]) / "dreg"), "promote", ref, "--to", "prod"],
                              cwd=clone, env=two.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for clone, ref in zip(clones, ("wine-quality@1.0.0", "wine-quality@1.1.0"), strict=True)]
    results = [p.communicate(timeout=300) + (p.returncode,) for p in procs]
    assert [rc for _, _, rc in results] == [0, 0], results
    assert stage_tags(two.reg.origin) == ["wine-quality#prod#1", "wine-quality#prod#2"]
    assigned = {fields(two.reg.origin, t)["version"]: fields(two.reg.origin, t)["by"]
                for t in stage_tags(two.reg.origin)}
    assert assigned == {"1.0.0": "a <a@localhost>", "1.1.0": "b <b@localhost>"}  # no assignment lost


def test_a_lost_push_race_takes_the_next_number(two):
    """Origin receives another promoter's `#prod#1` while this push is in flight: this one becomes `#prod#2`."""
    hook = two.reg.origin / "hooks/pre-receive"
    commit = git(two.reg.origin, "rev-parse", f"{V2}^{{commit}}").strip()
    hook.write_text("#!/bin/sh\n"
                    "git rev-parse -q --verify 'refs/tags/wine-quality#prod#1' >/dev/null && exit 0\n"
                    "env -u GIT_QUARANTINE_PATH -u GIT_OBJECT_DIRECTORY -u GIT_ALTERNATE_OBJECT_DIRECTORIES "
                    "git -c user.name=other -c user.email=other@localhost tag -a 'wine-quality#prod#1' "
                    f"-m 'promote {V2} to prod\n\nversion: 1.1.0\nby: other <other@localhost>' {commit}\n")
    hook.chmod(0o755)
    doc = json.loads(two.dreg("promote", "wine-quality@1.0.0", "--to", "prod", "--json").stdout)
    assert doc["tag"] == "wine-quality#prod#2" and doc["version"] == "1.0.0"
    assert stage_tags(two.reg.origin) == ["wine-quality#prod#1", "wine-quality#prod#2"]
    assert fields(two.reg.origin, "wine-quality#prod#1")["version"] == "1.1.0"
    assert stage_tags(two.reg.root) == ["wine-quality#prod#1", "wine-quality#prod#2"]  # the winner's tag fetched
    assert current_stages("wine-quality", two.reg.root) == {"prod": "1.0.0"}


def test_origin_refusing_the_tag_is_one_line_and_leaves_no_local_tag(two):
    hook = two.reg.origin / "hooks/pre-receive"
    hook.write_text("#!/bin/sh\necho 'promotions are frozen' >&2\nexit 1\n")
    hook.chmod(0o755)
    bad = run_dreg(two.reg.root, "promote", "wine-quality@1.0.0", "--to", "prod", env=two.env)
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1
    assert "refused wine-quality#prod#1" in bad.stderr and "promotions are frozen" in bad.stderr
    assert stage_tags(two.reg.root) == stage_tags(two.reg.origin) == []


def test_a_version_whose_data_is_missing_from_the_remote_is_not_promoted(two):
    train = two.reg.root / "data/wine-quality/processed/train/train.parquet"  # v1.1.0's, still in the local cache
    oid = hashlib.md5(train.read_bytes(), usedforsecurity=False).hexdigest()
    (two.reg.remote / "files/md5" / oid[:2] / oid[2:]).unlink()
    bad = run_dreg(two.reg.root, "promote", "wine-quality@1.1.0", "--to", "prod", env=two.env)
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1
    assert f"{V2}: its data is not intact in the DVC remote" in bad.stderr and "nothing was promoted" in bad.stderr
    assert stage_tags(two.reg.root) == stage_tags(two.reg.origin) == []
    two.dreg("promote", "wine-quality@1.0.0", "--to", "prod")  # v1.0.0's data is intact: promoted
    assert stage_tags(two.reg.origin) == ["wine-quality#prod#1"]


def test_unpublished_versions_bad_stages_and_no_push(two):
    params = two.reg.root / "pipelines/wine-quality/params.yaml"
    params.write_text(params.read_text().replace("seed: 43", "seed: 44"))
    two.dreg("run", "wine-quality")  # v1.1.1, tagged here only
    unpublished = run_dreg(two.reg.root, "promote", "wine-quality@1.1.1", "--to", "prod", env=two.env)
    assert unpublished.returncode == 1 and "wine-quality-v1.1.1 is not on origin" in unpublished.stderr
    for stage in ("latest", "Prod", "1.0.0", "v2"):
        bad = run_dreg(two.reg.root, "promote", "wine-quality@1.0.0", "--to", stage, env=two.env)
        assert bad.returncode == 1 and bad.stderr.count("\n") == 1 and "invalid stage name" in bad.stderr
    assert stage_tags(two.reg.root) == []
    two.dreg("promote", "wine-quality@1.1.1", "--to", "dev", "--no-push")
    assert stage_tags(two.reg.root) == ["wine-quality#dev#1"] and stage_tags(two.reg.origin) == []
    assert current_stages("wine-quality", two.reg.root) == {"dev": "1.1.1"}


def test_stage_tags_do_not_disturb_releases(two):
    two.dreg("promote", "wine-quality@1.1.0", "--to", "prod")
    noop = two.dreg("run", "wine-quality", "--push")
    assert "nothing changed" in noop.stdout
    params = two.reg.root / "pipelines/wine-quality/params.yaml"
    params.write_text(params.read_text().replace("seed: 43", "seed: 45"))
    two.dreg("run", "wine-quality", "--push")
    assert [t for t in tags(two.reg.origin) if "#" not in t] == [V1, V2, "wine-quality-v1.1.1"]
    assert [v.semver for v in list_versions("wine-quality", two.reg.root)] == ["1.1.1", "1.1.0", "1.0.0"]
    assert current_stages("wine-quality", repo=str(two.reg.origin)) == {"prod": "1.1.0"}
    assert run_dreg(two.reg.root, "verify", "--remote-only", "--all", env=two.env).returncode == 0
