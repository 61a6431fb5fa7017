"""Which image each DVC stage runs in: the first image whose installed extras provide every package the
stage's code imports (its source files are the modules of its code identity, `steps.refs.code_identity`)."""

from __future__ import annotations

import ast
import sys
import tomllib
from collections.abc import Mapping
from functools import cache
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from steps import layout
from steps.refs.code_identity import PACKAGES, stage_files

# Image input → the extras its Dockerfile installs (images/pipeline.Dockerfile, images/ray.Dockerfile).
IMAGE_EXTRAS: dict[str, tuple[str, ...]] = {"image": ("prompts",), "ray_image": ("embeddings",)}
PYPROJECT = layout.CODE_ROOT / "pyproject.toml"


def imported_packages(files: list[Path]) -> set[str]:
    """Top-level third-party packages imported anywhere in `files` (stdlib and first-party left out)."""
    found: set[str] = set()
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    return {name for name in found if name not in sys.stdlib_module_names and name not in dict(PACKAGES)}


def stage_packages(dataset: str, stage: str, root: Path = layout.CODE_ROOT) -> set[str]:
    """Third-party packages the stage's code imports."""
    return imported_packages(stage_files(dataset, stage, root))


def _requires(requirement: Requirement) -> set[tuple[str, str]]:
    """(distribution, extra) pairs a requirement brings in; '' is the distribution without extras."""
    return {(canonicalize_name(requirement.name), "")} | {
        (canonicalize_name(requirement.name), extra) for extra in requirement.extras
    }


def _applies(requirement: Requirement, extra: str) -> bool:
    """Whether a requirement applies on Linux/CPython 3.11 with `extra` requested."""
    if requirement.marker is None:
        return not extra
    return requirement.marker.evaluate({"extra": extra, "sys_platform": "linux", "platform_system": "Linux"})


@cache
def installed(extras: tuple[str, ...], pyproject: Path = PYPROJECT) -> frozenset[str]:
    """Distributions `pip install ".[extras]"` installs: the project's dependencies and extras, transitively."""
    project = tomllib.loads(pyproject.read_text())["project"]
    todo: set[tuple[str, str]] = set()
    for text in [*project["dependencies"], *(r for e in extras for r in project["optional-dependencies"][e])]:
        todo |= _requires(Requirement(text))
    seen: set[tuple[str, str]] = set()
    while todo:
        dist, extra = todo.pop()
        if (dist, extra) in seen:
            continue
        seen.add((dist, extra))
        try:
            requirements = metadata.requires(dist) or []
        except metadata.PackageNotFoundError:
            continue
        for requirement in map(Requirement, requirements):
            if _applies(requirement, extra):
                todo |= _requires(requirement)
    return frozenset(dist for dist, _ in seen)


@cache
def _import_names() -> Mapping[str, list[str]]:
    """Import name → the distributions providing it (this environment; one scan of every installed package)."""
    return metadata.packages_distributions()


def providers(package: str) -> set[str]:
    """Distributions that install the import name `package` (in this environment)."""
    return {canonicalize_name(d) for d in _import_names().get(package, [])}


def missing_packages(packages: set[str], extras: tuple[str, ...]) -> set[str]:
    """Import names none of whose distributions an install with `extras` brings in."""
    dists = installed(extras)
    return {package for package in packages if not providers(package) & dists}


def stage_image(dataset: str, stage: str) -> str:
    """The image input (`image` or `ray_image`) whose extras provide everything the stage imports."""
    packages = stage_packages(dataset, stage)
    for image, extras in IMAGE_EXTRAS.items():
        if not missing_packages(packages, extras):
            return image
    missing = {image: sorted(missing_packages(packages, extras)) for image, extras in IMAGE_EXTRAS.items()}
    raise ValueError(f"{dataset}:{stage}: no image installs everything it imports (missing: {missing})")
