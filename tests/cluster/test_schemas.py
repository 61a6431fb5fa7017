"""Rendered manifests against the upstream schemas, strictly (unknown fields rejected)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from tests.cluster.support import (
    SAMPLE_UID,
    argo_validator,
    defaults,
    errors,
    load_rendered,
    rayjob_validator,
    step_inputs,
    substitute,
    templates_by_name,
)
from workflows.profiles import PIPELINES, PROFILES

DOCS = load_rendered()


@pytest.mark.parametrize("name", sorted(DOCS))
def test_rendered_document_validates_strictly(name: str) -> None:
    doc = DOCS[name]
    assert doc["apiVersion"] == "argoproj.io/v1alpha1"
    assert errors(argo_validator(doc["kind"]), doc) == []


def test_every_pipeline_and_the_fanout_and_cron_are_rendered() -> None:
    kinds = {name: doc["kind"] for name, doc in DOCS.items()}
    assert {n for n, k in kinds.items() if k == "WorkflowTemplate"} == {*PIPELINES, "data-pipelines"}
    assert [k for k in kinds.values() if k == "CronWorkflow"] == ["CronWorkflow"]


def test_strict_check_rejects_a_misspelt_field() -> None:
    doc = copy.deepcopy(DOCS["wine-quality"])
    doc["spec"]["templates"][0]["container"]["imagePullPolicyy"] = "Always"
    doc["spec"]["entrypointt"] = "main"
    found = errors(argo_validator("WorkflowTemplate"), doc)
    assert any("imagePullPolicyy" in e for e in found) and any("entrypointt" in e for e in found)


def rayjobs(profile: str, force: str) -> list[dict[str, Any]]:
    """Each RayJob the embeddings template would create, for one profile and force value."""
    out = []
    for name, pipeline in PIPELINES.items():
        if not pipeline.needs_ray:
            continue
        doc = DOCS[name]
        templates = templates_by_name(doc)
        scope = {**defaults(doc), "compute_profile": profile, "force": force}
        commit = {"tasks.checkout.outputs.parameters.commit": "0123456789abcdef0123456789abcdef01234567"}
        for task in templates["main"]["dag"]["tasks"]:
            template = templates[task["template"]]
            if template.get("resource", {}).get("action") == "create" and "RayJob" in template["resource"]["manifest"]:
                inputs = step_inputs(templates, task, scope, commit)
                out.append(yaml.safe_load(substitute(template["resource"]["manifest"], inputs)))
    return out


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_rayjob_manifest_validates_strictly_for_every_profile(profile: str) -> None:
    (job,) = rayjobs(profile, "false")
    assert errors(rayjob_validator(), job) == []
    worker = job["spec"]["rayClusterSpec"]["workerGroupSpecs"][0]
    spec = PROFILES[profile]
    assert worker["replicas"] == worker["minReplicas"] == worker["maxReplicas"] == spec.ray_workers
    limits = worker["template"]["spec"]["containers"][0]["resources"]["limits"]
    assert limits == {"cpu": spec.cpu_limit, "memory": spec.memory_limit, "nvidia.com/gpu": str(spec.gpus)}


def test_rayjob_carries_lineage_labels_and_cleanup_settings() -> None:
    (job,) = rayjobs("gpu-small", "true")
    assert job["apiVersion"] == "ray.io/v1" and job["kind"] == "RayJob"
    assert job["metadata"]["name"] == f"embed-{SAMPLE_UID}"
    assert job["metadata"]["labels"]["data-registry/workflow-uid"] == SAMPLE_UID
    spec = job["spec"]
    assert spec["shutdownAfterJobFinishes"] is True and spec["ttlSecondsAfterFinished"] > 0
    assert spec["entrypoint"].endswith("--force")
    assert "--rev 0123456789abcdef0123456789abcdef01234567 " in spec["entrypoint"]
    for group in (spec["rayClusterSpec"]["headGroupSpec"], *spec["rayClusterSpec"]["workerGroupSpecs"]):
        env = {e["name"]: e for e in group["template"]["spec"]["containers"][0]["env"]}
        assert env["ARGO_WORKFLOW_UID"]["value"] == SAMPLE_UID
        assert env["DOCKER_IMAGE_TAG"]["value"].startswith("ghcr.io/")
        assert "DREG_SOURCE_REV" not in env  # the revision reaches the job through `--rev` only
        assert "valueFrom" in env["AWS_SECRET_ACCESS_KEY"] and "value" not in env["AWS_SECRET_ACCESS_KEY"]
    worker_pod = spec["rayClusterSpec"]["workerGroupSpecs"][0]["template"]["spec"]
    assert worker_pod["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert worker_pod["tolerations"][0]["key"] == "nvidia.com/gpu"


def test_strict_rayjob_check_rejects_a_misspelt_field() -> None:
    (job,) = rayjobs("gpu-small", "false")
    job["spec"]["shutdownAfterJobFinish"] = True
    job["spec"]["rayClusterSpec"]["headGroupSpec"]["template"]["spec"]["containers"][0][
        "imagePullPolicyy"
    ] = "x"
    found = errors(rayjob_validator(), job)
    assert any("shutdownAfterJobFinish'" in e for e in found) and any("imagePullPolicyy" in e for e in found)


def test_child_workflows_of_the_fanout_validate_strictly() -> None:
    doc = DOCS["data-pipelines"]
    templates = templates_by_name(doc)
    (task,) = templates["main"]["dag"]["tasks"]
    inputs = step_inputs(templates, task, defaults(doc), {"item": "wine-quality"})
    child = yaml.safe_load(substitute(templates[task["template"]]["resource"]["manifest"], inputs))
    assert errors(argo_validator("Workflow"), child) == []
    assert child["spec"]["workflowTemplateRef"] == {"name": "wine-quality"}
