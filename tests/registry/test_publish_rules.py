"""The release rules: versions, bumps, automated tags, concurrent publishers, remotes (local and S3)."""

from __future__ import annotations

import shutil
import subprocess
import threading
from pathlib import Path

import dvc.api
import pytest

from steps.dev.scaffold import update_params
from steps.release.dvc import missing_in_remote, open_repo, target
from tests.support.registry import cli_env, commit_all, run_dreg, tags


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


def test_bump_rules_and_release_commit(registry, dreg):
    assert dreg("run", "wine-quality").returncode == 0
    update_params(registry.root, "wine-quality", {"process": {"val_fraction": 0.25}})
    assert dreg("run", "wine-quality", "--bump", "minor").returncode == 0
    update_params(registry.root, "wine-quality", {"process": {"seed": 7}})
    assert dreg("run", "wine-quality").returncode == 0  # default bump: patch
    update_params(registry.root, "wine-quality", {"process": {"seed": 8}})
    assert dreg("run", "wine-quality", "--bump", "major").returncode == 0
    assert tags(registry.root) == [f"wine-quality-v{v}" for v in ("1.0.0", "1.1.0", "1.1.1", "2.0.0")]
    assert git(registry.root, "log", "-1", "--format=%s") == "chore(wine-quality): release v2.0.0"
    assert git(registry.root, "cat-file", "-t", "wine-quality-v2.0.0") == "tag"  # annotated
    changed = git(registry.root, "show", "--name-only", "--format=", "wine-quality-v1.1.0").split()
    assert "pipelines/wine-quality/dvc.lock" in changed and "data/wine-quality/metadata.json" in changed
    assert "0.25" in git(registry.root, "show", "wine-quality-v1.1.0:pipelines/wine-quality/params.yaml")


def test_automated_suffix_and_versions_continue_across_it(registry, dreg):
    assert dreg("run", "wine-quality", "--automated").returncode == 0
    update_params(registry.root, "wine-quality", {"process": {"seed": 1}})
    assert dreg("run", "wine-quality").returncode == 0
    assert tags(registry.root) == ["wine-quality-v1.0.0-automated", "wine-quality-v1.0.1"]
    listed = dreg("list")
    assert listed.returncode == 0 and "wine-quality-v1.0.1" in listed.stdout


def test_existing_tag_is_never_moved(registry, dreg):
    assert dreg("run", "wine-quality").returncode == 0
    tagged = git(registry.root, "rev-parse", "wine-quality-v1.0.0^{commit}")
    update_params(registry.root, "wine-quality", {"process": {"seed": 3}})
    assert dreg("run", "wine-quality").returncode == 0
    assert git(registry.root, "rev-parse", "wine-quality-v1.0.0^{commit}") == tagged


def test_concurrent_publishers_both_land_with_distinct_versions(registry, tmp_path):
    """Two clones of one origin release the same dataset at once: both land, nothing is lost."""
    clones = []
    for name, seed in (("a", 11), ("b", 22)):
        clone = tmp_path / name
        subprocess.run(["git", "clone", "-q", str(registry.origin), str(clone)], check=True)
        git(clone, "config", "user.name", name)
        git(clone, "config", "user.email", f"{name}@localhost")
        update_params(clone, "wine-quality", {"process": {"seed": seed}})
        commit_all(clone, f"seed {seed}")
        assert run_dreg(clone, "run", "wine-quality", "--no-publish").returncode == 0
        clones.append(clone)
    results = {}

    def publish(clone: Path) -> None:
        results[clone.name] = run_dreg(clone, "publish", "wine-quality", "--push", env=cli_env())

    threads = [threading.Thread(target=publish, args=(c,)) for c in clones]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r.returncode == 0 for r in results.values()), {k: r.stderr for k, r in results.items()}
    assert tags(registry.origin) == ["wine-quality-v1.0.0", "wine-quality-v1.0.1"]
    history = git(registry.origin, "log", "--format=%s", "main")
    assert history.count("chore(wine-quality): release") == 2
    assert "seed 11" in history and "seed 22" in history
    seeds = {git(registry.origin, "show", f"{t}:pipelines/wine-quality/params.yaml").split("seed: ")[1].split()[0]
             for t in tags(registry.origin)}
    assert seeds == {"11", "22"}


def test_checksum_mismatch_publishes_nothing(registry, dreg):
    update_params(registry.root, "wine-quality", {"download": {"sources": {"red": {"sha256": "0" * 64}}}})
    result = dreg("run", "wine-quality")
    assert result.returncode == 1
    assert "checksum mismatch" in result.stderr and "Traceback" not in result.stderr
    assert tags(registry.root) == []
    assert not (registry.root / "data/wine-quality/raw/red.csv").exists()


def test_unreachable_source_fails_clearly(registry, dreg):
    update_params(registry.root, "fashion-mnist", {"download": {"base_url": "http://127.0.0.1:9/"}})
    result = dreg("run", "fashion-mnist")
    assert result.returncode == 1
    assert "cannot download http://127.0.0.1:9/" in result.stderr and "DREG_MIRROR" in result.stderr
    assert tags(registry.root) == []


def test_bad_params_rejected_before_anything_runs(registry, dreg):
    update_params(registry.root, "fashion-mnist", {"process": {"sample_fraction": 1.5}})
    result = dreg("run", "fashion-mnist")
    assert result.returncode == 1
    assert "process.sample_fraction" in result.stderr and "1.5" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (registry.root / "data/fashion-mnist/raw").exists()
    assert tags(registry.root) == []


def test_unknown_dataset_and_stage(dreg):
    result = dreg("run", "imagenet")
    assert result.returncode == 1 and "unknown dataset 'imagenet'" in result.stderr and "wine-quality" in result.stderr
    result = dreg("stage", "wine-quality", "train")
    assert result.returncode == 1 and "no stage 'train'" in result.stderr


def test_stage_command_runs_one_stage(registry, dreg):
    assert dreg("stage", "wine-quality", "download").returncode == 0
    assert (registry.root / "data/wine-quality/raw/red.csv").exists()
    assert not (registry.root / "data/wine-quality/processed").exists()
    result = dreg("stage", "wine-quality", "process")
    assert result.returncode == 0 and (registry.root / "data/wine-quality/processed/wine-quality.csv").exists()


def test_failed_remote_push_leaves_no_commit_and_no_tag(registry, dreg):
    head = git(registry.root, "rev-parse", "HEAD")
    result = dreg("run", "wine-quality", DVC_REMOTE="minio", DVC_S3_URL="s3://missing-bucket/dvc",
                  DVC_S3_ENDPOINT_URL="http://127.0.0.1:9", AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="y")
    assert result.returncode == 1
    assert "push to DVC remote 'minio' failed" in result.stderr
    assert tags(registry.root) == [] and git(registry.root, "rev-parse", "HEAD") == head


def test_release_check_detects_objects_missing_from_remote(registry, dreg, monkeypatch):
    """An interrupted push leaves the remote incomplete: the pre-tag check must see it."""
    assert dreg("run", "wine-quality").returncode == 0
    monkeypatch.chdir(registry.root)
    repo = open_repo(registry.root)
    assert missing_in_remote(repo, [target(repo, "wine-quality")]) == []
    victim = next(p for p in (registry.remote / "files").rglob("*") if p.is_file() and not p.name.endswith(".dir"))
    victim.unlink()
    assert missing_in_remote(repo, [target(repo, "wine-quality")]) == [victim.parent.name + victim.name]


def test_s3_remote_end_to_end(registry, dreg, s3_endpoint):
    env = {"DVC_REMOTE": "minio", "DVC_S3_URL": f"s3://{s3_endpoint.bucket}/dvc",
           "DVC_S3_ENDPOINT_URL": s3_endpoint.url, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    result = dreg("run", "wine-quality", "--push", **env)
    assert result.returncode == 0, result.stderr
    shutil.rmtree(registry.remote)  # the data must come from S3, not the local folder
    config = {"core": {"remote": "minio"},
              "remote": {"minio": {"url": f"s3://{s3_endpoint.bucket}/dvc", "endpointurl": s3_endpoint.url}}}
    text = dvc.api.read("data/wine-quality/processed/wine-quality.csv", repo=str(registry.origin),
                        rev="wine-quality-v1.0.0", config=config)
    assert text.splitlines()[0].endswith(",quality,wine_type")


def test_sample_data_is_refused_outside_the_demo(registry, dreg, tmp_path):
    from steps.dev.samples import write_sample_mirror

    write_sample_mirror(tmp_path / "mirror", ["wine-quality"])
    result = dreg("run", "wine-quality", DREG_MIRROR=str(tmp_path / "mirror"))
    assert result.returncode == 1 and "sample data" in result.stderr
    assert tags(registry.root) == []


def test_mirror_serves_sources_and_checksums_still_apply(registry, dreg, source_server):
    result = dreg("run", "wine-quality", DREG_MIRROR=str(source_server.root))
    assert result.returncode == 0, result.stderr
    meta = git(registry.root, "show", "wine-quality-v1.0.0:data/wine-quality/metadata.json")
    assert '"kind": "mirror"' in meta


@pytest.mark.parametrize("dataset", ["wine-quality", "fashion-mnist"])
def test_verify_passes_on_clean_tag_and_reports_tampered_output(registry, dreg, dataset):
    assert dreg("run", dataset).returncode == 0
    ok = dreg("verify", f"{dataset}-v1.0.0")
    assert ok.returncode == 0, ok.stderr
    assert "is reproducible" in ok.stdout
    processed = next((registry.root / f"data/{dataset}/processed").rglob("*.parquet"))
    processed.chmod(0o644)
    processed.write_bytes(processed.read_bytes() + b"tampered")
    assert subprocess.run(["dvc", "commit", "-f", "-q", f"pipelines/{dataset}/dvc.yaml"], cwd=registry.root,
                          env=cli_env(), check=False).returncode == 0
    assert dreg("publish", dataset).returncode == 0
    bad = dreg("verify", f"{dataset}-v1.0.1")
    assert bad.returncode == 1
    assert f"differs data/{dataset}/processed" in bad.stdout
    assert "not reproducible" in bad.stderr


def test_publish_from_a_detached_checkout_lands_on_the_release_branch(registry, dreg, tmp_path):
    """A CI/Argo checkout of a commit sha (detached HEAD) still publishes onto main."""
    clone = tmp_path / "ci-checkout"
    subprocess.run(["git", "clone", "-q", str(registry.origin), str(clone)], check=True)
    git(clone, "checkout", "-q", "--detach", git(clone, "rev-parse", "HEAD"))
    result = run_dreg(clone, "run", "wine-quality", "--push")
    assert result.returncode == 0, result.stderr
    assert tags(registry.origin) == ["wine-quality-v1.0.0"]
    assert git(registry.origin, "log", "-1", "--format=%s", "main") == "chore(wine-quality): release v1.0.0"


def test_verify_reads_params_dvc_locks_by_dotted_leaf(tmp_path):
    """dvc.lock records `download.text_column` for a leaf param: verify compares that leaf, not a missing key."""
    from steps.inspect.verify import lock_problems

    git(tmp_path, "init", "-q")
    pipe = tmp_path / "pipelines" / "d"
    pipe.mkdir(parents=True)
    (pipe / "params.yaml").write_text("download:\n  text_column: Sentence\n  url: http://x\nprocess:\n  n: 3\n")
    lock = ("schema: '2.0'\nstages:\n  process:\n    cmd: true\n    params:\n      pipelines/d/params.yaml:\n"
            "        download.text_column: Sentence\n        process:\n          n: 3\n")
    (pipe / "dvc.lock").write_text(lock)
    git(tmp_path, "add", "-A")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@x", "commit", "-qm", "r")
    git(tmp_path, "tag", "d-v1.0.0")
    assert lock_problems("d-v1.0.0", "d", tmp_path) == []
    (pipe / "params.yaml").write_text("download:\n  text_column: Text\n  url: http://x\nprocess:\n  n: 3\n")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@x", "commit", "-qam", "edit")
    git(tmp_path, "tag", "d-v1.0.1")
    assert lock_problems("d-v1.0.1", "d", tmp_path) == [
        "params pipelines/d/params.yaml:download.text_column differ from dvc.lock"]
