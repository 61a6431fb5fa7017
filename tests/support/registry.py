"""Scratch registries for the tests: the real `dreg` CLI in a subprocess, git helpers, a registry on local sources."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from steps.dev.scaffold import Registry, commit_all, create_registry
from tests.support.servers import SourceServer
from tests.support.sources import point_sources

VENV_BIN = str(Path(sys.executable).parent)


def cli_env(**extra: str) -> dict[str, str]:
    """Environment for running `dreg` in a subprocess: this venv first, no inherited registry settings."""
    env = {k: v for k, v in os.environ.items()  # COLUMNS/LINES: pytest-xdist workers set 80x24; dreg is piped here
           if not k.startswith(("DREG_", "DVC_", "ARGO_", "DOCKER_IMAGE", "MLFLOW_", "PGVECTOR_"))
           and k not in ("COLUMNS", "LINES")}
    env.update(PATH=VENV_BIN + os.pathsep + env.get("PATH", ""), DREG_DOWNLOAD_BACKOFF="0",
               DREG_DOWNLOAD_RETRIES="2", DVC_NO_ANALYTICS="1", **extra)
    return env


def run_dreg(cwd: Path, *args: str, env: dict[str, str] | None = None,
             timeout: float | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real `dreg` CLI in `cwd`. `timeout` is a hang guard: past it, dreg and everything it started
    (stages, their Ray) are killed and TimeoutExpired is raised."""
    argv = [str(Path(VENV_BIN) / "dreg"), *args]
    with subprocess.Popen(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env=env or cli_env(), start_new_session=timeout is not None) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


def push_main(root: Path) -> None:
    """Push `main` of the work tree `root` to its origin."""
    subprocess.run(["git", "push", "-q", "origin", "main"], cwd=root, check=True)


def tags(repo: Path) -> list[str]:
    """Tags of a repo (work tree or bare)."""
    out = subprocess.run(["git", "tag", "--list"], cwd=repo, capture_output=True, text=True, check=True).stdout
    return sorted(out.split())


def use_sources(root: Path, server: SourceServer, point: Callable[[Path, SourceServer], None], message: str) -> None:
    """Aim pipelines of the work tree `root` at the local source server with `point`, commit and push `main`."""
    point(root, server)
    commit_all(root, message)
    push_main(root)


def local_registry(base: Path, server: SourceServer) -> Registry:
    """A fresh registry under `base` whose core pipelines download from the local source server."""
    reg = create_registry(base)
    use_sources(reg.root, server, point_sources, "Use local sources")
    return reg


def git(root: Path, *args: str) -> str:
    """stdout of a git command that must succeed in `root`."""
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout


@dataclass(frozen=True)
class Released:
    """A registry with real releases and the environment its `dreg` runs need (e.g. a sample mirror)."""

    reg: Registry
    env: dict[str, str]

    def dreg(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        """Run the real CLI in the registry (or `cwd`); fail the test with its output if it fails."""
        proc = run_dreg(cwd or self.reg.root, *args, env=self.env)
        assert proc.returncode == 0, f"dreg {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}{proc.stderr}"
        return proc

    def tags(self) -> list[str]:
        return tags(self.reg.root)
