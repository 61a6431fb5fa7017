"""Fixtures for the cluster tests: a real helm binary."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.cluster.support import ROOT


@pytest.fixture(scope="session")
def helm() -> str:
    """A real helm: on PATH, in .venv/bin, or installed there by scripts/install-helm.sh."""
    venv_helm = ROOT / ".venv" / "bin" / "helm"
    found = shutil.which("helm") or (str(venv_helm) if venv_helm.exists() else None)
    if not found:
        subprocess.run(["bash", str(ROOT / "scripts" / "install-helm.sh")], check=True, cwd=ROOT)
        found = str(venv_helm)
    return found
