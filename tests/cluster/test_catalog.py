"""The one dataset table in workflows/ agrees with the DVC pipelines and the profiles are sane."""

from __future__ import annotations

import re

import yaml

from tests.cluster.support import ROOT
from workflows.catalog import PIPELINES, PROFILES, SCHEDULED

QUANTITY = re.compile(r"^\d+(\.\d+)?(m|Ki|Mi|Gi|Ti)?$")


def test_stages_match_each_existing_dvc_yaml() -> None:
    checked = []
    for dataset, pipeline in PIPELINES.items():
        dvc_yaml = ROOT / "pipelines" / dataset / "dvc.yaml"
        if dvc_yaml.exists():
            stages = tuple(yaml.safe_load(dvc_yaml.read_text())["stages"])
            assert pipeline.stages == stages, (
                f"{dataset}: workflows/catalog.py says {pipeline.stages}, dvc.yaml {stages}"
            )
            checked.append(dataset)
    assert checked, "no pipelines/<dataset>/dvc.yaml found to check the table against"


def test_every_pipeline_folder_is_in_the_table() -> None:
    folders = {p.parent.name for p in (ROOT / "pipelines").glob("*/dvc.yaml")}
    assert folders <= set(PIPELINES), f"pipelines without a workflow: {folders - set(PIPELINES)}"


def test_profiles_and_pipelines_are_consistent() -> None:
    assert set(PROFILES) == {
        f"{kind}-{size}" for kind in ("cpu", "gpu") for size in ("small", "medium", "large")
    }
    for name, profile in PROFILES.items():
        for value in (profile.cpu_request, profile.cpu_limit, profile.memory_request, profile.memory_limit):
            assert QUANTITY.match(value), (name, value)
        assert (profile.gpus > 0) == name.startswith("gpu-") and profile.ray_workers >= 1
    for pipeline in PIPELINES.values():
        assert pipeline.profile in PROFILES
        assert pipeline.ray_stage is None or pipeline.ray_stage in pipeline.stages
        assert pipeline.needs_ray == (PROFILES[pipeline.profile].gpus > 0)
    assert PIPELINES["opencloudhub-readmes-embeddings"].ray_stage == "embed"
    assert "opencloudhub-readmes-rag-evaluation" not in PIPELINES
    assert set(SCHEDULED) <= set(PIPELINES)
