"""`dreg doctor` against real services: a registry whose git origin, S3 DVC remote (SeaweedFS) and signing key all
work, and the same registry with each of them broken — one FAIL row per broken service, its fix, exit 1."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from steps.dev.scaffold import Registry, create_registry
from tests.support.registry import cli_env, git, run_dreg
from tests.support.servers import S3Endpoint


@pytest.fixture
def setup(tmp_path: Path, s3_endpoint: S3Endpoint) -> tuple[Registry, dict[str, str]]:
    """A registry with its bare origin, the SeaweedFS bucket as its DVC remote and a signing key made by dreg."""
    reg = create_registry(tmp_path)
    env = cli_env(DVC_REMOTE="minio", DVC_S3_URL=f"s3://{s3_endpoint.bucket}/dvc",
                  DVC_S3_ENDPOINT_URL=s3_endpoint.url, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    assert run_dreg(reg.root, "attest", "keygen", "-o", str(tmp_path / "keys"), env=env).returncode == 0
    env["DREG_SIGNING_KEY"] = str(tmp_path / "keys" / "signing.key")
    return reg, env


def rows(proc: subprocess.CompletedProcess[str]) -> dict[str, tuple[str, str]]:
    """The report's rows: check → (status, detail)."""
    found = {}
    for line in proc.stdout.splitlines():
        cells = [cell.strip() for cell in line.split("│")[1:-1]]
        if len(cells) == 3 and cells[0] and cells[0] != "check":
            found[cells[0]] = (cells[1], cells[2])
    return found


def test_a_working_setup_passes(setup):
    reg, env = setup
    proc = run_dreg(reg.root, "doctor", env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = rows(proc)
    assert report["registry"] == ("ok", str(reg.root))
    assert report["git origin"] == ("ok", f"{reg.origin} answers")
    assert report["DVC remote minio"][0] == "ok" and "s3://registry/dvc reachable" in report["DVC remote minio"][1]
    assert report["signing key"][0] == "ok" and report["signing key"][1].startswith("ed25519 key ")
    assert report["MLflow"][0] == report["pgvector"][0] == report["trusted keys"][0] == "skipped"
    assert "fix " not in proc.stdout


def test_a_broken_setup_fails_with_a_fix_for_each_failure(setup, tmp_path):
    reg, env = setup
    git(reg.root, "remote", "set-url", "origin", "http://127.0.0.1:1/registry.git")
    (tmp_path / "not-a-key.pem").write_text("not a key\n")
    broken = {**env, "DVC_S3_ENDPOINT_URL": "http://127.0.0.1:1", "MLFLOW_TRACKING_URI": "http://127.0.0.1:1",
              "DREG_SIGNING_KEY": str(tmp_path / "not-a-key.pem"), "DREG_TRUSTED_KEYS": str(tmp_path / "none.pem")}
    proc = run_dreg(reg.root, "doctor", env=broken)
    assert proc.returncode == 1 and proc.stderr == ""
    report = rows(proc)
    assert report["registry"][0] == "ok" and report["pgvector"][0] == "skipped"
    assert {name for name, (status, _) in report.items() if status == "FAIL"} == {
        "git origin", "DVC remote minio", "MLflow", "signing key", "trusted keys"}
    assert report["DVC remote minio"][1].startswith("RemoteUnavailable: cannot reach DVC remote 'minio'")
    fixes = [line for line in proc.stdout.splitlines() if line.startswith("fix ")]
    assert [f.split(":")[0] for f in fixes] == ["fix git origin", "fix DVC remote minio", "fix MLflow",
                                                "fix signing key", "fix trusted keys"]
    assert "check the endpoint URL" in fixes[1] and "dreg attest keygen" in fixes[3]


def test_wrong_credentials_for_the_dvc_remote_are_named(setup):
    reg, env = setup
    proc = run_dreg(reg.root, "doctor", env={**env, "AWS_SECRET_ACCESS_KEY": "wrong"})
    assert proc.returncode == 1
    status, detail = rows(proc)["DVC remote minio"]
    assert status == "FAIL" and detail.startswith("CredentialsMissing: DVC remote 'minio' refused the request")
    assert "fix DVC remote minio: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" in proc.stdout


def test_outside_a_registry_only_the_registry_check_fails(tmp_path):
    proc = run_dreg(tmp_path, "doctor", env=cli_env())
    assert proc.returncode == 1
    report = rows(proc)
    assert report["registry"][0] == "FAIL" and "not a data registry" in report["registry"][1]
    assert "git origin" not in report and report["signing key"][0] == "skipped"
