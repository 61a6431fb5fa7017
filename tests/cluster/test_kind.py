"""`scripts/kind.sh --dry-run` prints every command it would run, runs none, and never prints a secret."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.cluster.support import ROOT

SCRIPT = ROOT / "scripts" / "kind.sh"


def dry_run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run with fake kind/kubectl/docker/helm first on PATH that record any call."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for tool in ("kind", "kubectl", "docker", "helm"):
        fake = bin_dir / tool
        fake.write_text(f'#!/bin/sh\necho "{tool} $*" >> "{tmp_path}/called"\n')
        fake.chmod(0o755)
    environment = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", **env}
    return subprocess.run(
        ["bash", str(SCRIPT), *args],
        capture_output=True,
        text=True,
        env=environment,
        cwd=tmp_path,
        check=False,
    )


def commands(output: str) -> list[str]:
    return [line[2:] for line in output.splitlines() if line.startswith("+ ")]


def test_up_dry_run_prints_every_step_and_runs_nothing(tmp_path: Path) -> None:
    result = dry_run(
        tmp_path, "up", "--dry-run", MINIO_ROOT_PASSWORD="minio-pw-1f2e3d", GITHUB_TOKEN="ghp_4a5b6c7d"
    )
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "called").exists(), (tmp_path / "called").read_text()
    printed = commands(result.stdout)
    expected_starts = [
        "kind create cluster --name data-registry --image kindest/node:v",
        "helm upgrade --install argo-workflows argo-workflows --repo https://argoproj.github.io/argo-helm --version 1.",
        "helm upgrade --install kuberay-operator kuberay-operator --repo https://ray-project.github.io/kuberay-helm/",
        "kubectl create namespace minio",
        "kubectl -n minio create secret generic minio-root",
        "helm upgrade --install minio minio --repo https://charts.min.io/ --version ",
        "kubectl create namespace data-registry",
        "kubectl -n data-registry create secret generic data-registry-s3",
        "kubectl -n data-registry create secret generic data-registry-git",
        "docker build -f ",
        "kind load docker-image data-registry-pipeline:dev",
        (f"helm upgrade --install data-registry {ROOT}/charts/data-registry --namespace data-registry "
         f"-f {ROOT}/charts/data-registry/values-kind.yaml"),
        "kubectl -n data-registry get workflowtemplates",
    ]
    assert len(printed) == len(expected_starts)
    for line, start in zip(printed, expected_starts, strict=True):
        line = line.replace(str(tmp_path / "bin") + "/", "")
        assert line.startswith(start), (line, start)
    assert all("--version" in line for line in printed if "--repo" in line), "chart versions must be pinned"
    assert "argo submit -n data-registry --from workflowtemplate/" in result.stdout
    for value in ("minio-pw-1f2e3d", "ghp_4a5b6c7d"):
        assert value not in result.stdout + result.stderr


def test_images_and_values_the_script_uses_exist(tmp_path: Path) -> None:
    result = dry_run(
        tmp_path, "up", "--dry-run", BUILD_RAY_IMAGE="1", GIT_REPO_URL="https://git.example/r.git"
    )
    printed = commands(result.stdout)
    for line in printed:
        for word in line.split():
            if word.startswith(str(ROOT)):
                assert Path(word).exists(), word
    assert any(line.startswith("kind load docker-image data-registry-ray:dev") for line in printed)
    assert "--set git.repoUrl=https://git.example/r.git" in result.stdout
    values = (ROOT / "charts" / "data-registry" / "values-kind.yaml").read_text()
    assert "repository: data-registry-pipeline" in values and "tag: dev" in values


def test_down_dry_run(tmp_path: Path) -> None:
    result = dry_run(tmp_path, "down", "--dry-run", KIND_CLUSTER="mine")
    assert result.returncode == 0 and commands(result.stdout) == ["kind delete cluster --name mine"]
    assert not (tmp_path / "called").exists()


@pytest.mark.parametrize("args", [[], ["sideways"], ["up", "--dry-runn"]])
def test_bad_usage_exits_2(tmp_path: Path, args: list[str]) -> None:
    result = dry_run(tmp_path, *args)
    assert result.returncode == 2 and "usage: scripts/kind.sh up|down [--dry-run]" in result.stderr
    assert not (tmp_path / "called").exists()


def test_make_targets_call_the_script() -> None:
    text = (ROOT / "cluster.mk").read_text()
    assert "kind-up:\n\tscripts/kind.sh up\n" in text and "kind-down:\n\tscripts/kind.sh down\n" in text
