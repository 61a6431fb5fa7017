"""Ray for one run: connect to `RAY_ADDRESS` when set (cluster, RayJob), else a small in-process instance."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from steps.config import get_settings
from steps.errors import DregError
from steps.kit.stage import err_console

CLUSTER_ACTOR_RESTARTS = 3
# Ray's notices about choices made here on purpose: a new in-process Ray keeps Ray's default token authentication;
# Ray Data's progress bars are off (the run shows its own line)
QUIET_LOGGERS = ("ray._private.authentication.authentication_token_setup", "ray.data._internal.progress")


def actor_restarts() -> int:
    """Restarts of a dead embedder actor: a few on a cluster (a lost or preempted node), none in-process, where a
    crash repeats and the run should stop with one line; `DREG_RAY_ACTOR_RESTARTS` overrides."""
    settings = get_settings()
    if settings.ray_actor_restarts is not None:
        return settings.ray_actor_restarts
    return CLUSTER_ACTOR_RESTARTS if settings.ray_address else 0


@contextmanager
def restart_options_allowed() -> Iterator[None]:
    """Ray 2.60 (pinned) takes actor restarts only as a deprecated extra option of `map_batches`; no warning for it."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="`ray_remote_args` is deprecated", category=DeprecationWarning)
        yield


def code_runtime_env() -> dict[str, list[str]]:
    """A Ray runtime_env shipping the driver's `steps` package to every worker (the same code revision)."""
    import steps

    return {"py_modules": [str(Path(steps.__file__).resolve().parent)]}


@contextmanager
def ray_session() -> Iterator[None]:
    """Use the running Ray, or start one (and shut it down afterwards if we started it)."""
    import ray
    from ray.data import DataContext

    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    started = not ray.is_initialized()
    if started:
        address = get_settings().ray_address
        try:
            if address:  # workers import this driver's code (its checkout at the run's commit), not the image's
                ray.init(address=address, logging_level=logging.WARNING, runtime_env=code_runtime_env())
            else:
                es = get_settings()
                ray.init(num_cpus=es.ray_num_cpus, object_store_memory=es.ray_object_store_mb * 2**20,
                         include_dashboard=False, logging_level=logging.WARNING)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise DregError(f"cannot start or reach Ray{' at ' + address if address else ''}: {exc}",
                            "check RAY_ADDRESS (unset it to run Ray in-process)") from None
        where = f"connected to the Ray cluster at {address}" if address else "started in-process"
        err_console.print(f"Ray: {where} ({ray.cluster_resources().get('CPU', 0):g} CPUs, "
                          f"{ray.cluster_resources().get('GPU', 0):g} GPUs)")
    ctx = DataContext.get_current()
    ctx.enable_progress_bars = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    try:
        yield
    finally:
        if started:
            ray.shutdown()
