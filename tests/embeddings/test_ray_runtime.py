"""How the embed run treats Ray: actor restarts per place it runs, and the code its cluster workers import."""

from __future__ import annotations

from pathlib import Path

import pytest

import steps
from steps import config
from steps.embeddings.ray_runtime import CLUSTER_ACTOR_RESTARTS, actor_restarts, code_runtime_env


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch):
    """Set environment variables and re-read the settings (cleared again afterwards)."""
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.delenv("DREG_RAY_ACTOR_RESTARTS", raising=False)

    def set_env(**env: str) -> None:
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        config.get_settings.cache_clear()

    yield set_env
    config.get_settings.cache_clear()


def test_an_in_process_embedder_never_restarts_so_a_crash_stops_the_run(settings_env):
    settings_env()
    assert actor_restarts() == 0


def test_a_cluster_embedder_restarts_after_a_lost_node_a_bounded_number_of_times(settings_env):
    settings_env(RAY_ADDRESS="ray://head:10001")
    assert actor_restarts() == CLUSTER_ACTOR_RESTARTS > 0


def test_actor_restarts_can_be_set_either_way(settings_env):
    settings_env(RAY_ADDRESS="ray://head:10001", DREG_RAY_ACTOR_RESTARTS="0")
    assert actor_restarts() == 0
    settings_env(DREG_RAY_ACTOR_RESTARTS="5")
    assert actor_restarts() == 5


def test_cluster_workers_import_the_drivers_steps_package():
    (module,) = code_runtime_env()["py_modules"]
    assert Path(module) == Path(steps.__file__).resolve().parent
    assert (Path(module) / "embeddings" / "pipeline.py").is_file()
