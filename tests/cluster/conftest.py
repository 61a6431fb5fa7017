"""Fixtures for the cluster tests: a real helm binary."""

from __future__ import annotations

import pytest

from tests.cluster.support import helm_binary


@pytest.fixture(scope="session")
def helm() -> str:
    """A real helm: on PATH, in .venv/bin, or installed there by scripts/install-helm.sh."""
    return helm_binary()
