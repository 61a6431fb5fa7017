"""The cluster's plain data in workflows/profiles.py: stages come from each dvc.yaml, profiles are sane."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from steps import layout
from steps.errors import DregError
from steps.refs.pipelines import facts, stages_of
from tests.cluster.support import ROOT
from workflows.profiles import PIPELINES, PROFILES, SCHEDULED

QUANTITY = re.compile(r"^\d+(\.\d+)?(m|Ki|Mi|Gi|Ti)?$")


def test_stages_are_each_dvc_yaml_in_order() -> None:
    for dataset, pipeline in PIPELINES.items():
        dvc_yaml = ROOT / "pipelines" / dataset / "dvc.yaml"
        assert dvc_yaml.exists(), f"{dataset}: a cluster pipeline without pipelines/{dataset}/dvc.yaml"
        stages = tuple(yaml.safe_load(dvc_yaml.read_text())["stages"])
        assert pipeline.stages == stages, f"{dataset}: templates run {pipeline.stages}, dvc.yaml has {stages}"
        assert stages


def test_dvc_stages_keep_the_file_order(tmp_path: Path) -> None:
    (tmp_path / layout.pipeline_dir("demo")).mkdir(parents=True)
    (tmp_path / layout.dvc_yaml("demo")).write_text(
        "stages:\n  zeta: {cmd: a}\n  alpha: {cmd: b}\n  mid_1: {cmd: c}\n"
    )
    assert stages_of("demo", tmp_path) == ["zeta", "alpha", "mid_1"]


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


def test_profile_ray_stage_and_schedule_are_what_each_dvc_yaml_declares() -> None:
    """One place per fact: the `artifacts:` entry of pipelines/<dataset>/dvc.yaml, read with the project's reader."""
    for dataset, pipeline in PIPELINES.items():
        meta = yaml.safe_load((ROOT / layout.dvc_yaml(dataset)).read_text())["artifacts"][dataset]["meta"]
        assert (pipeline.profile, pipeline.ray_stage, pipeline.schedule) == (
            meta["profile"], meta.get("ray_stage"), meta["schedule"])
    assert SCHEDULED == ("opencloudhub-readmes-download", "opencloudhub-readmes-embeddings")


FACTS = """artifacts:
  demo:
    path: ../../data/demo
    type: dataset
    desc: A demo.
    meta: {license: MIT, homepage: "https://x", schedule: SCHEDULE, profile: cpu-small, ray_stage: RAY}
stages:
  embed: {cmd: a}
"""


@pytest.mark.parametrize(("schedule", "ray", "error"), [
    ("hourly", "embed", "schedule 'hourly' is not one of nightly, weekly, manual"),
    ("nightly", "embedd", "ray_stage 'embedd' is not a stage of the pipeline"),
    ("", "embed", "artifact `demo` lacks schedule"),
])
def test_a_malformed_declaration_is_one_error_naming_the_file(tmp_path: Path, schedule: str, ray: str,
                                                             error: str) -> None:
    (tmp_path / layout.pipeline_dir("demo")).mkdir(parents=True)
    (tmp_path / layout.dvc_yaml("demo")).write_text(FACTS.replace("SCHEDULE", f'"{schedule}"').replace("RAY", ray))
    with pytest.raises(DregError, match=re.escape(error)) as caught:
        facts("demo", tmp_path)
    assert str(caught.value).startswith(layout.dvc_yaml("demo"))
    (tmp_path / layout.dvc_yaml("demo")).write_text(FACTS.replace("SCHEDULE", "weekly").replace("RAY", "embed"))
    assert facts("demo", tmp_path).ray_stage == "embed" and facts("demo", tmp_path).schedule == "weekly"
