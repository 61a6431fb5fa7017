"""Remote reads: `dreg ls` / `dreg get` of a version from a registry named by path or URL (no clone), over a local
DVC remote and a real S3 endpoint; every file md5-checked, nothing partial left behind; release files read at a tag
through a shallow, blob-less cache."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from dreg_client import Registry
from dreg_client.registry import cache_root
from tests.registry.test_versions_grammar import V1, V2, release_two
from tests.support.registry import Released, cli_env, git, local_registry, run_dreg
from tests.support.servers import S3Endpoint, SourceServer


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory, source_server: SourceServer) -> Released:
    released = release_two(tmp_path_factory.mktemp("remote-reads"), source_server)
    released.dreg("promote", "wine-quality@1.0.0", "--to", "prod")
    return released


def ls_json(released: Released, cwd: Path, *args: str) -> dict:
    return json.loads(released.dreg("ls", *args, "--json", cwd=cwd).stdout)


def test_ls_lists_a_versions_files_with_sizes_and_md5_from_a_bare_origin(two, tmp_path):
    doc = ls_json(two, tmp_path, "wine-quality@1.1.0", "--repo", str(two.reg.origin))
    assert (doc["dataset"], doc["version"], doc["tag"]) == ("wine-quality", "1.1.0", V2)
    files = {f["path"]: f for f in doc["files"]}
    work = two.reg.root / "data/wine-quality"  # the workspace holds v1.1.0, the latest release
    expected = {str(p.relative_to(work)) for p in work.rglob("*") if p.is_file() and p.name != ".gitignore"}
    assert set(files) == expected
    for rel, entry in files.items():
        assert entry["size"] == (work / rel).stat().st_size
        if entry["md5"] is not None:
            assert entry["md5"] == md5(work / rel)
    assert files["processed/train/train.parquet"]["md5"]  # DVC-tracked files carry their released md5
    local = ls_json(two, two.reg.root, "wine-quality@1.1.0")
    assert local["files"] == doc["files"]  # the local registry (default) lists the same version the same way


def test_ls_of_a_folder_and_of_a_stage(two, tmp_path):
    doc = ls_json(two, tmp_path, "wine-quality@prod", "processed", "--repo", two.reg.origin.as_uri())
    assert doc["tag"] == V1
    assert sorted(f["path"] for f in doc["files"]) == ["processed/train/train.parquet", "processed/val/val.parquet",
                                                       "processed/wine-quality.csv"]


def test_get_writes_the_whole_version_md5_checked(two, tmp_path):
    out = tmp_path / "out"
    two.dreg("get", "wine-quality@1.0.0", "--repo", two.reg.origin.as_uri(), "-o", str(out), cwd=tmp_path)
    listing = ls_json(two, tmp_path, "wine-quality@1.0.0", "--repo", str(two.reg.origin))["files"]
    got = out / "wine-quality"
    assert sorted(str(p.relative_to(got)) for p in got.rglob("*") if p.is_file()) == sorted(f["path"] for f in listing)
    for f in listing:
        assert (got / f["path"]).stat().st_size == f["size"]
        if f["md5"]:
            assert md5(got / f["path"]) == f["md5"]
    assert [p.name for p in out.iterdir()] == ["wine-quality"]  # no staging folder left


def test_get_one_file_refuses_to_overwrite_unless_forced(two, tmp_path):
    args = ("get", "wine-quality@prod", "processed/train/train.parquet", "--repo", str(two.reg.origin), "-o", "dl")
    two.dreg(*args, cwd=tmp_path)
    target = tmp_path / "dl/train.parquet"
    listed = ls_json(two, tmp_path, "wine-quality@prod", "processed/train/train.parquet", "--repo", str(two.reg.origin))
    assert md5(target) == listed["files"][0]["md5"]
    target.write_bytes(b"local edits")
    again = run_dreg(tmp_path, *args, env=two.env)
    assert again.returncode == 1 and again.stderr.count("\n") == 1 and "already exists" in again.stderr
    assert target.read_bytes() == b"local edits"
    two.dreg(*args, "--force", cwd=tmp_path)
    assert md5(target) == listed["files"][0]["md5"]


def test_get_of_a_missing_path_is_one_line(two, tmp_path):
    bad = run_dreg(tmp_path, "get", "wine-quality@1.0.0", "processed/nope.csv", "--repo", str(two.reg.origin),
                   env=two.env)
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1 and "has no processed/nope.csv" in bad.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_corrupted_object_fails_get_and_leaves_nothing(tmp_path, source_server):
    released = Released(local_registry(tmp_path, source_server), cli_env(DREG_CACHE_DIR=str(tmp_path / "cache")))
    released.dreg("run", "wine-quality", "--push")
    train = released.reg.root / "data/wine-quality/processed/train/train.parquet"
    oid = md5(train)
    obj = released.reg.remote / "files/md5" / oid[:2] / oid[2:]
    obj.chmod(0o644)
    obj.write_bytes(obj.read_bytes()[:-10] + b"0123456789")  # same size, other bytes
    out = tmp_path / "out"
    bad = run_dreg(tmp_path, "get", "wine-quality@1.0.0", "--repo", str(released.reg.origin), "-o", str(out),
                   env=released.env)
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1
    assert "does not match its released md5" in bad.stderr and "nothing was written" in bad.stderr
    assert list(out.iterdir()) == []  # neither the folder nor a partial file nor the staging folder


def test_get_and_ls_over_an_s3_dvc_remote(tmp_path, source_server, s3_endpoint: S3Endpoint):
    s3 = {"DVC_REMOTE": "minio", "DVC_S3_URL": f"s3://{s3_endpoint.bucket}/remote-reads",
          "DVC_S3_ENDPOINT_URL": s3_endpoint.url, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    released = Released(local_registry(tmp_path, source_server), cli_env(DREG_CACHE_DIR=str(tmp_path / "cache"), **s3))
    released.dreg("run", "wine-quality", "--push")
    expected = md5(released.reg.root / "data/wine-quality/processed/val/val.parquet")
    shutil.rmtree(released.reg.remote)  # the data must come from S3
    consumer = tmp_path / "consumer"
    consumer.mkdir()
    listing = ls_json(released, consumer, "wine-quality", "processed/val", "--repo", str(released.reg.origin))
    size = (released.reg.root / "data/wine-quality/processed/val/val.parquet").stat().st_size
    assert listing["files"] == [{"path": "processed/val/val.parquet", "md5": expected, "size": size}]
    released.dreg("get", "wine-quality@1.0.0", "processed/val", "--repo", str(released.reg.origin), "-o", "dl",
                  cwd=consumer)
    assert md5(consumer / "dl/val/val.parquet") == expected


def show_at(tag: str, path: str, root: Path | None = None, repo: str | None = None) -> str | None:
    """A release file read through the one handle (a checkout at `root`, or `repo` without cloning)."""
    with Registry.open(repo if repo is not None else root) as reg:
        return reg.read_text(reg.resolve(tag), path)


def test_show_at_reads_a_release_file_through_a_one_commit_cache(two, tmp_path, monkeypatch):
    monkeypatch.setenv("DREG_CACHE_DIR", str(tmp_path / "cache"))
    path = "data/wine-quality/metadata.json"
    for repo in (str(two.reg.origin), two.reg.origin.as_uri()):
        assert show_at(V1, path, repo=repo) == git(two.reg.root, "show", f"{V1}:{path}")
    assert show_at(V1, "data/wine-quality/nope.json", repo=str(two.reg.origin)) is None
    assert show_at(V1, path, two.reg.root) == git(two.reg.root, "show", f"{V1}:{path}")
    caches = sorted((cache_root() / "repos").glob("*.git"))
    assert len(caches) == 2  # one per registry address
    for cache in caches:
        assert git(cache, "rev-parse", "--is-shallow-repository").strip() == "true"
        assert git(cache, "rev-list", "--all").split() == [git(two.reg.root, "rev-parse", f"{V1}^{{commit}}").strip()]


def test_history_over_repo_matches_the_local_history(two, tmp_path):
    local = json.loads(two.dreg("history", "wine-quality", "--json").stdout)
    remote = json.loads(two.dreg("history", "wine-quality", "--repo", str(two.reg.origin), "--json",
                                 cwd=tmp_path).stdout)
    assert remote["repo"] == str(two.reg.origin) and local["repo"] is None
    assert remote["events"] == local["events"] and remote["stages"] == local["stages"] == {"prod": "1.0.0"}
    assert [e["kind"] for e in local["events"]] == ["release", "release", "promotion"]


def test_show_at_never_serves_a_stale_cached_tag_after_the_origin_is_recreated(tmp_path, monkeypatch):
    """`make demo` re-creates its origin at the same path: a cached tag of the old origin must not be served."""
    monkeypatch.setenv("DREG_CACHE_DIR", str(tmp_path / "cache"))
    origin = tmp_path / "origin.git"

    def publish(text: str) -> None:
        work = tmp_path / "work"
        subprocess.run(["rm", "-rf", str(work), str(origin)], check=True)
        subprocess.run(["git", "init", "-q", "--bare", str(origin)], check=True)
        subprocess.run(["git", "init", "-q", str(work)], check=True)
        (work / "metadata.json").write_text(text)
        for args in (["add", "-A"], ["-c", "user.name=t", "-c", "user.email=t@x", "commit", "-qm", "r"],
                     ["-c", "user.name=t", "-c", "user.email=t@x", "tag", "-a", "-m", "r", "d-v1.0.0"],
                     ["push", "-q", str(origin), "HEAD:refs/heads/main", "refs/tags/d-v1.0.0"]):
            subprocess.run(["git", *args], cwd=work, check=True)

    publish('{"run": 1}')
    assert show_at("d-v1.0.0", "metadata.json", repo=str(origin)) == '{"run": 1}'
    publish('{"run": 2}')
    assert show_at("d-v1.0.0", "metadata.json", repo=str(origin)) == '{"run": 2}'
