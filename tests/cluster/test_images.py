"""Dockerfiles: pinned to pyproject (Ray version, extras), non-root, no secrets baked in."""

from __future__ import annotations

import re
import tomllib

from tests.cluster.support import ROOT
from workflows.render import CHART_GENERATED, ray_version

IMAGES = ROOT / "images"


def instructions(name: str) -> list[str]:
    """Dockerfile instructions with continuation lines joined and comments dropped."""
    text = (IMAGES / name).read_text()
    text = re.sub(r"\\\n\s*", " ", text)
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_ray_base_image_matches_the_pinned_ray_version() -> None:
    """The base is a build argument (`make e2e` passes a local stand-in) whose default is the upstream image."""
    lines = instructions("ray.Dockerfile")
    assert lines[:2] == [f"ARG BASE=rayproject/ray:{ray_version()}-py311-gpu", "FROM ${BASE}"]
    assert [line for line in lines if line.startswith("FROM ")] == ["FROM ${BASE}"]
    assert instructions("pipeline.Dockerfile")[:2] == ["ARG BASE=python:3.11-slim-bookworm", "FROM ${BASE}"]
    rendered = (CHART_GENERATED / "opencloudhub-readmes-embeddings.yaml").read_text()
    assert f"rayVersion: {ray_version()}" in rendered


def test_install_lines_use_the_project_extras() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    pipeline = " ".join(instructions("pipeline.Dockerfile"))
    ray = " ".join(instructions("ray.Dockerfile"))
    assert 'pip install ./clients/python ".[prompts]"' in pipeline and "prompts" in extras
    assert "embeddings" not in pipeline, "the pipeline image stays free of torch/CUDA"
    assert '".[embeddings]"' in ray and "embeddings" in extras
    for name, text in (("pipeline.Dockerfile", pipeline), ("ray.Dockerfile", ray)):
        plain = text.replace("--chown=ray:users ", "")
        assert "COPY pyproject.toml ./" in plain and "COPY README.md ./" in plain
        assert "git" in text and "credential.helper" in text
        # dependencies install before the code is copied, so a code change reuses that layer
        lines = [line.replace("--chown=ray:users ", "") for line in instructions(name)]
        copy_steps = lines.index("COPY steps ./steps")
        assert any("pip install" in line for line in lines[:copy_steps])
        assert "pip install" in lines[copy_steps + 1]


def test_build_secrets_are_mounts_only() -> None:
    """pip's mirror settings reach the builds as optional BuildKit secrets, never as a file, ARG or ENV."""
    for name in ("pipeline.Dockerfile", "ray.Dockerfile"):
        lines = instructions(name)
        installs = [line for line in lines if "pip install" in line]
        assert installs and all("--mount=type=secret,id=pip.conf,target=/etc/pip.conf" in line for line in installs)
        assert not any(re.search(r"(?i)pip\.conf|PIP_INDEX|PIP_EXTRA|find-links", line) for line in lines
                       if line.startswith(("ENV", "ARG", "COPY", "ADD")))


def test_images_run_as_non_root_uid_1000() -> None:
    """The workflow pods run as uid 1000 (runAsNonRoot); both images must have that user last."""
    pipeline_users = [line for line in instructions("pipeline.Dockerfile") if line.startswith("USER ")]
    assert pipeline_users[-1] == "USER 1000:1000"
    assert any("useradd" in line and "--uid 1000" in line for line in instructions("pipeline.Dockerfile"))
    ray_users = [line for line in instructions("ray.Dockerfile") if line.startswith("USER ")]
    assert ray_users[-1] == "USER ray"  # uid 1000 in rayproject/ray images
    # the folder pip builds in belongs to `ray` (WORKDIR alone would create it as root)
    assert "RUN install -d -o ray -g users /opt/data-registry" in instructions("ray.Dockerfile")
    for name in ("pipeline.Dockerfile", "ray.Dockerfile"):
        text = (IMAGES / name).read_text()
        assert not re.search(r"(?i)(ENV|ARG)\s+\S*(TOKEN|PASSWORD|SECRET|ACCESS_KEY)", text)
