"""Consumer contracts: one registry with a release of every seed dataset, read back from outside it the way each
training repo does, with the registry addressed by a plain path to its bare origin and by a `file://` URL.

Tests marked `real_data` need the genuine upstream files (`make real-mirror`): they are deselected (not skipped)
unless DREG_REAL_MIRROR names that mirror.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from steps.dev.scaffold import create_registry
from tests.support.registry import Released, cli_env, use_sources
from tests.support.servers import serve_sources
from tests.support.sources import (
    point_dataset_sources,
    point_sources,
    write_core_sources,
    write_dataset_sources,
)

REAL_MIRROR_ENV = "DREG_REAL_MIRROR"
RELEASED = ("wine-quality", "fashion-mnist", "emotion", "roco-radiology")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect `real_data` tests unless the real mirror is named: an explicit opt-in, never a silent skip."""
    if os.environ.get(REAL_MIRROR_ENV):
        return
    deselected = [item for item in items if item.get_closest_marker("real_data")]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if not item.get_closest_marker("real_data")]


@pytest.fixture(scope="session")
def released_all(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Released]:
    """A registry (bare origin + local DVC remote) with v1.0.0 of every seed dataset, built from the sample
    sources on local HTTP servers (roco's prompt in the embedded MLflow store)."""
    base = tmp_path_factory.mktemp("contracts")
    with serve_sources(base / "core-sources", write_core_sources) as core, \
            serve_sources(base / "hub-sources", write_dataset_sources) as hub:
        reg = create_registry(base)
        use_sources(reg.root, core, point_sources, "Use local sources")
        use_sources(reg.root, hub, point_dataset_sources, "Use local dataset sources")
        out = Released(reg, cli_env())
        out.dreg("prompts", "register", "--alias", "production")
        for dataset in RELEASED:
            out.dreg("run", dataset, "--push")
        yield out


@pytest.fixture(params=["plain-path", "file-url"])
def registry_address(request: pytest.FixtureRequest, released_all: Released) -> str:
    """The registry as a consumer names it: a plain path to the bare origin, or its file:// URL."""
    origin = released_all.reg.origin
    return str(origin) if request.param == "plain-path" else origin.as_uri()


@pytest.fixture
def outside(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Work from a folder outside any registry, with no registry settings in the environment."""
    for key in [k for k in os.environ if k.startswith(("DREG_", "DVC_"))]:
        monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    from steps.config import get_settings

    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()
