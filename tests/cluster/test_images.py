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
    froms = [line for line in instructions("ray.Dockerfile") if line.startswith("FROM ")]
    assert froms == [f"FROM rayproject/ray:{ray_version()}-py311-gpu"]
    rendered = (CHART_GENERATED / "opencloudhub-readmes-embeddings.yaml").read_text()
    assert f"rayVersion: {ray_version()}" in rendered


def test_install_lines_use_the_project_extras() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    pipeline = " ".join(instructions("pipeline.Dockerfile"))
    ray = " ".join(instructions("ray.Dockerfile"))
    assert 'pip install ".[prompts]"' in pipeline and "prompts" in extras
    assert "embeddings" not in pipeline, "the pipeline image stays free of torch/CUDA"
    assert '".[embeddings]"' in ray and "embeddings" in extras
    for text in (pipeline, ray):
        assert "COPY pyproject.toml README.md ./" in text.replace("--chown=ray:users ", "")
        assert "git" in text and "credential.helper" in text


def test_images_run_as_non_root_uid_1000() -> None:
    """The workflow pods run as uid 1000 (runAsNonRoot); both images must have that user last."""
    pipeline_users = [line for line in instructions("pipeline.Dockerfile") if line.startswith("USER ")]
    assert pipeline_users[-1] == "USER 1000:1000"
    assert any("useradd" in line and "--uid 1000" in line for line in instructions("pipeline.Dockerfile"))
    ray_users = [line for line in instructions("ray.Dockerfile") if line.startswith("USER ")]
    assert ray_users[-1] == "USER ray"  # uid 1000 in rayproject/ray images
    for name in ("pipeline.Dockerfile", "ray.Dockerfile"):
        text = (IMAGES / name).read_text()
        assert not re.search(r"(?i)(ENV|ARG)\s+\S*(TOKEN|PASSWORD|SECRET|ACCESS_KEY)", text)
