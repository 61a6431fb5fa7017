"""Create a scratch registry (git repo + bare origin + local DVC remote) from this checkout.

Used by `make demo` and by the tests, so both exercise the real layout a clone of this repo has.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import yaml

from steps import layout
from steps.git import git
from steps.kit.files import load_yaml

PROJECT_ROOT = layout.CODE_ROOT
COPIED = ["steps", "clients/python", "pipelines", "prompts", ".dvc/config", ".dvc/.gitignore", ".dvcignore",
          ".gitignore", "pyproject.toml", ".env.local", ".env.docker", ".env.cluster"]
SKIPPED = shutil.ignore_patterns("__pycache__", "*.pyc", "dvc.lock", layout.HUB_PIN, "*.egg-info")


@dataclass(frozen=True)
class Registry:
    """Paths of a scratch registry: the work tree, its bare origin and its local DVC remote."""

    root: Path
    origin: Path
    remote: Path


def copy_project(dest: Path, source: Path = PROJECT_ROOT) -> None:
    """Copy the registry's code and pipeline definitions (no data, no locks) into `dest`."""
    for rel in COPIED:
        src = source / rel
        if src.is_dir():
            shutil.copytree(src, dest / rel, ignore=SKIPPED, dirs_exist_ok=True)
        elif src.exists():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)


def commit_all(root: Path, message: str) -> None:
    """Stage everything in the work tree `root` and commit it."""
    git("add", "-A", cwd=root)
    git("commit", "-q", "-m", message, cwd=root)


def remember_settings(root: Path, values: dict[str, str], note: str, profile: str = "local") -> Path:
    """Write non-secret settings into the registry's `.env.<profile>` (what `steps.config` reads), replacing
    earlier values of the same keys."""
    path = root / f".env.{profile}"
    kept = [line for line in (path.read_text().splitlines() if path.exists() else [])
            if line.split("=", 1)[0].strip() not in values]
    path.write_text("\n".join([*kept, f"# {note}", *(f"{k}={v}" for k, v in values.items())]) + "\n")
    return path


def set_local_remote(root: Path, url: Path, relative: bool = False) -> None:
    """Point the `local` DVC remote of `root` at a folder (committed, so clones find the data): absolute, or
    `relative` to `.dvc/` (the registry and its remote can then move together)."""
    from dvc.config import Config

    with Config(str(root / ".dvc")).edit("repo") as conf:  # DVC reads a relative path against the cwd
        conf["remote"]["local"]["url"] = os.path.relpath(url) if relative else str(url)


def update_params(root: Path, dataset: str, updates: dict) -> None:
    """Deep-merge `updates` into `pipelines/<dataset>/params.yaml`."""
    path = root / layout.params_yaml(dataset)
    doc = load_yaml(path.read_text()) or {}

    def merge(into: dict, new: dict) -> None:
        for key, value in new.items():
            if isinstance(value, dict) and isinstance(into.get(key), dict):
                merge(into[key], value)
            else:
                into[key] = value

    merge(doc, updates)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def create_registry(base: Path, source: Path = PROJECT_ROOT, allow_sample_data: bool = False,
                    movable: bool = False) -> Registry:
    """`base/registry` (work tree on `main`), `base/origin.git` (bare) and `base/dvc-remote` (DVC remote);
    `movable`: the committed config names the remote relative to the registry (`make demo`'s)."""
    base = base.resolve()
    reg = Registry(base / "registry", base / "origin.git", base / "dvc-remote")
    reg.root.mkdir(parents=True)
    reg.remote.mkdir(parents=True, exist_ok=True)
    copy_project(reg.root, source)
    git("init", "-q", "-b", "main", cwd=reg.root)
    for key, value in (("user.name", "data-registry"), ("user.email", "registry@localhost")):
        git("config", key, value, cwd=reg.root)
    if allow_sample_data:
        git("config", "dreg.allowSampleData", "true", cwd=reg.root)
    set_local_remote(reg.root, reg.remote, relative=movable)
    git("add", "-A", cwd=reg.root)
    git("commit", "-q", "-m", "Initial registry", cwd=reg.root)
    git("init", "-q", "--bare", "-b", "main", str(reg.origin), cwd=base)
    git("remote", "add", "origin", str(reg.origin), cwd=reg.root)
    git("push", "-q", "-u", "origin", "main", cwd=reg.root)
    return reg
