"""Configuration profiles, credentials handling, and the read-only CLI commands."""

from __future__ import annotations

import json
import subprocess

import pytest

from dreg_client import get_url
from steps import config
from steps.config import dvc_config
from tests.support.registry import tags


@pytest.fixture
def fresh_settings(monkeypatch, tmp_path):
    """Settings read anew from `tmp_path` (profile files there) and a clean environment."""
    for key in ("DREG_PROFILE", "DVC_REMOTE", "DVC_S3_URL", "DVC_S3_ENDPOINT_URL", "PGVECTOR_PASSWORD",
                "PGVECTOR_HOST", "DVC_LOCAL_REMOTE_URL"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.chdir(tmp_path)
    config.get_settings.cache_clear()
    config.get_credentials.cache_clear()
    yield tmp_path
    config.get_settings.cache_clear()
    config.get_credentials.cache_clear()


def test_profile_file_supplies_defaults_and_environment_overrides(fresh_settings, monkeypatch):
    (fresh_settings / ".env.docker").write_text("DVC_REMOTE=minio\nDVC_S3_ENDPOINT_URL=http://localhost:9000\n")
    monkeypatch.setenv("DREG_PROFILE", "docker")
    assert config.get_settings().s3_endpoint_url == "http://localhost:9000"
    assert dvc_config()["core"]["remote"] == "minio"
    config.get_settings.cache_clear()
    monkeypatch.setenv("DVC_S3_ENDPOINT_URL", "http://minio.example:9000")
    assert dvc_config()["remote"]["minio"]["endpointurl"] == "http://minio.example:9000"


def test_credentials_are_never_read_from_profile_files(fresh_settings, monkeypatch):
    (fresh_settings / ".env.local").write_text("PGVECTOR_PASSWORD=from-a-file\n")
    assert config.get_credentials().pgvector_password is None
    monkeypatch.setenv("PGVECTOR_PASSWORD", "from-env")
    config.get_credentials.cache_clear()
    assert config.get_credentials().pgvector_password.get_secret_value() == "from-env"


def test_committed_profiles_hold_no_credentials():
    from steps.dev.scaffold import PROJECT_ROOT

    for profile in ("local", "docker", "cluster"):
        keys = [line.split("=", 1)[0] for line in (PROJECT_ROOT / f".env.{profile}").read_text().splitlines()
                if "=" in line and not line.lstrip().startswith("#")]
        assert keys, profile
        assert not [k for k in keys if any(w in k for w in ("PASSWORD", "SECRET", "TOKEN", "ACCESS_KEY"))], profile


def test_list_show_and_get_url(registry, dreg):
    assert dreg("run", "wine-quality", "--push").returncode == 0
    listed = dreg("list")
    assert "wine-quality-v1.0.0" in listed.stdout and "fashion-mnist" in listed.stdout
    shown = dreg("show", "wine-quality@1.0.0")
    assert shown.returncode == 0
    assert "wine-quality-v1.0.0" in shown.stdout and "split train" in shown.stdout
    assert "param process.seed" in shown.stdout
    missing = dreg("show", "wine-quality@9.9.9")
    assert missing.returncode == 1 and "no version 9.9.9" in missing.stderr
    url = get_url("wine-quality", "processed/wine-quality.csv", repo=str(registry.origin))
    assert url.startswith(str(registry.remote))
    with open(url) as f:
        assert f.readline().startswith("fixed acidity,")


def test_outputs_are_byte_identical_across_rebuilds(registry, dreg):
    assert dreg("run", "fashion-mnist").returncode == 0
    lock = (registry.root / "pipelines/fashion-mnist/dvc.lock").read_text()
    assert dreg("run", "fashion-mnist", "--force").returncode == 0
    assert (registry.root / "pipelines/fashion-mnist/dvc.lock").read_text().count(".dir") == lock.count(".dir")
    outs = lambda text: [line for line in text.splitlines() if ".dir" in line]
    assert outs((registry.root / "pipelines/fashion-mnist/dvc.lock").read_text()) == outs(lock)
    assert tags(registry.root) == ["fashion-mnist-v1.0.0"]  # a forced rebuild of the same data is no release


def test_publish_refuses_outputs_that_drifted_from_the_lock(registry, dreg):
    assert dreg("run", "wine-quality", "--no-publish").returncode == 0
    csv = registry.root / "data/wine-quality/processed/wine-quality.csv"
    csv.chmod(0o644)
    csv.write_text("edited by hand\n")
    result = dreg("publish", "wine-quality")
    assert result.returncode == 1 and "differs from dvc.lock" in result.stderr
    assert tags(registry.root) == []


def test_metadata_lineage_records_image_and_workflow_when_set(registry, dreg):
    assert dreg("run", "wine-quality", DOCKER_IMAGE_TAG="registry:abc123", ARGO_WORKFLOW_UID="uid-42").returncode == 0
    meta = json.loads(subprocess.run(["git", "show", "wine-quality-v1.0.0:data/wine-quality/metadata.json"],
                                     cwd=registry.root, capture_output=True, text=True, check=True).stdout)
    assert meta["lineage"]["docker_image_tag"] == "registry:abc123"
    assert meta["lineage"]["argo_workflow_uid"] == "uid-42"


def test_git_errors_show_the_meaningful_lines():
    """A failed git command reports the server's and git's own lines, not just the last one."""
    import subprocess

    from steps.git import git_message

    proc = subprocess.CompletedProcess([], 1, "", "remote: frozen until Monday\nTo /x\n ! [remote rejected] main -> "
                                       "main (pre-receive hook declined)\nerror: failed to push some refs to '/x'\n")
    text = git_message(proc)
    assert "remote: frozen until Monday" in text and "pre-receive hook declined" in text and "To /x" not in text
    assert len(git_message(subprocess.CompletedProcess([], 1, "", "fatal: " + "x" * 5000))) < 450
