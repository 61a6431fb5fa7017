"""The Helm chart with a real helm: lint, template, strict validation, values applied, no secret values."""

from __future__ import annotations

import re
import secrets
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.cluster.support import (
    CHART,
    DIGEST_VALUES,
    IMAGE_ARGS,
    IMAGE_VALUES,
    ROOT,
    argo_validator,
    defaults,
    errors,
    helm_template,
    rayjob_validator,
    step_inputs,
    substitute,
    templates_by_name,
)
from workflows import render
from workflows.deployment import Deployment

GPU_VALUES = CHART / "values-gpu.yaml"
KIND_VALUES = CHART / "values-kind.yaml"


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def parsed_manifests(obj: Any) -> Any:
    """The document with resource manifests parsed, so YAML layout differences do not matter."""
    if isinstance(obj, dict):
        return {
            k: yaml.safe_load(v.replace("{{", "<<").replace("}}", ">>"))
            if k == "manifest"
            else parsed_manifests(v)
            for k, v in obj.items()
        }
    if isinstance(obj, list):
        return [parsed_manifests(v) for v in obj]
    return obj


@pytest.fixture(scope="module")
def default_docs(helm: str) -> list[dict[str, Any]]:
    return helm_template(helm)


@pytest.mark.parametrize(
    "values", [[], ["-f", str(GPU_VALUES)], ["-f", str(KIND_VALUES)]], ids=["default", "gpu", "kind"]
)
def test_helm_lint(helm: str, values: list[str]) -> None:
    result = subprocess.run(
        [helm, "lint", str(CHART), "--strict", *IMAGE_ARGS, *values],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_templated_argo_documents_validate_strictly(default_docs: list[dict[str, Any]], helm: str) -> None:
    for docs in (default_docs, helm_template(helm, "-f", str(GPU_VALUES))):
        argo = [d for d in docs if d["apiVersion"] == "argoproj.io/v1alpha1"]
        assert len(argo) == len(list(render.CHART_GENERATED.glob("*.yaml")))
        for doc in argo:
            assert errors(argo_validator(doc["kind"]), doc) == [], doc["metadata"]["name"]


def test_argo_expressions_survive_helm_templating(default_docs: list[dict[str, Any]]) -> None:
    """With default values the chart ships exactly what the Hera definitions give, `{{...}}` intact."""
    tags, digests = yaml.safe_load(IMAGE_VALUES.read_text()), yaml.safe_load(DIGEST_VALUES.read_text())
    images = {
        "image": f"ghcr.io/opencloudhub/data-registry-pipeline:{tags['image']['tag']}@{digests['image']['digest']}",
        "ray_image": "ghcr.io/opencloudhub/data-registry-ray:"
                     f"{tags['rayImage']['tag']}@{digests['rayImage']['digest']}",
    }
    rendered = render.documents(replace(Deployment(), **images), render.ray_version())
    templated = {d["metadata"]["name"]: d for d in default_docs if d["apiVersion"] == "argoproj.io/v1alpha1"}
    assert set(templated) == set(rendered)
    for name, doc in rendered.items():
        assert parsed_manifests(templated[name]) == parsed_manifests(doc), name
    embeddings = yaml.safe_dump(templated["opencloudhub-readmes-embeddings"])
    assert "{{inputs.parameters.force_flag}}" in embeddings and "{{workflow.uid}}" in embeddings


@pytest.mark.parametrize(
    "values", [[], ["-f", str(GPU_VALUES)], ["-f", str(KIND_VALUES)]], ids=["default", "gpu", "kind"]
)
def test_chart_fills_in_every_placeholder(helm: str, values: list[str]) -> None:
    """Each `HELM__<name>__` in generated/ has a value in templates/workflows.yaml; none reaches the output."""
    table = (CHART / "templates" / "workflows.yaml").read_text()
    generated = "".join(p.read_text() for p in render.CHART_GENERATED.glob("*.yaml"))
    names = set(re.findall(r"HELM__(\w+?)__", generated))
    assert names and all(f'"{name}" (' in table for name in names)
    docs = helm_template(helm, *values)
    assert "HELM__" not in yaml.safe_dump_all(docs)


def gpu_rayjob(docs: list[dict[str, Any]]) -> dict[str, Any]:
    doc = by_kind(docs, "WorkflowTemplate")["opencloudhub-readmes-embeddings"]
    templates = templates_by_name(doc)
    task = next(t for t in templates["main"]["dag"]["tasks"] if t["template"] == "ray-stage")
    inputs = step_inputs(
        templates, task, defaults(doc), {"tasks.checkout.outputs.parameters.commit": "a" * 40}
    )
    return yaml.safe_load(substitute(templates["ray-stage"]["resource"]["manifest"], inputs))


def test_gpu_values_reach_the_ray_workers(helm: str) -> None:
    values = yaml.safe_load(GPU_VALUES.read_text())["gpu"]
    job = gpu_rayjob(helm_template(helm, "-f", str(GPU_VALUES)))
    assert errors(rayjob_validator(), job) == []
    pod = job["spec"]["rayClusterSpec"]["workerGroupSpecs"][0]["template"]["spec"]
    assert pod["nodeSelector"] == {k: v for k, v in values["nodeSelector"].items() if v is not None}
    assert pod["tolerations"] == values["tolerations"]
    head = job["spec"]["rayClusterSpec"]["headGroupSpec"]["template"]["spec"]
    assert "nodeSelector" not in head


def test_values_are_applied(helm: str, tmp_path: Path) -> None:
    values = tmp_path / "values.yaml"
    values.write_text(
        yaml.safe_dump(
            {
                "namespace": "ml-data",
                "image": {"repository": "registry.example/pipeline", "tag": "sha-abc123"},
                "rayImage": {"repository": "registry.example/ray", "tag": "sha-abc123"},
                "serviceAccount": {"create": False, "name": "existing-sa", "fanoutName": "existing-fanout-sa"},
                "cron": {
                    "enabled": True,
                    "schedule": "*/30 3 * * 1-5",
                    "timezone": "Europe/Berlin",
                    "datasets": ["wine-quality"],
                },
            }
        )
    )
    docs = helm_template(helm, "-f", str(values))
    assert {d["metadata"].get("namespace") for d in docs} == {"ml-data"}
    assert "ServiceAccount" not in {d["kind"] for d in docs}
    wt = by_kind(docs, "WorkflowTemplate")["wine-quality"]
    assert defaults(wt)["image"].startswith("registry.example/pipeline:sha-abc123@sha256:")
    assert defaults(wt)["ray_image"].startswith("registry.example/ray:sha-abc123@sha256:")
    assert wt["spec"]["serviceAccountName"] == "existing-sa"
    assert by_kind(docs, "WorkflowTemplate")["data-pipelines"]["spec"]["serviceAccountName"] == "existing-fanout-sa"
    cron = by_kind(docs, "CronWorkflow")["data-pipelines-nightly"]["spec"]
    assert cron["schedules"] == ["*/30 3 * * 1-5"] and cron["timezone"] == "Europe/Berlin"
    args = {p["name"]: p["value"] for p in cron["workflowSpec"]["arguments"]["parameters"]}
    assert args["datasets"] == '["wine-quality"]'
    binding = by_kind(docs, "RoleBinding")["existing-sa"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "existing-sa", "namespace": "ml-data"}]
    disabled = helm_template(helm, "--set", "cron.enabled=false")
    assert "CronWorkflow" not in {d["kind"] for d in disabled}


def test_configmap_holds_only_non_secret_settings(default_docs: list[dict[str, Any]]) -> None:
    data = by_kind(default_docs, "ConfigMap")["data-registry-env"]["data"]
    assert data["DREG_PROFILE"] == "cluster" and data["DVC_REMOTE"] == "minio"
    assert data["DVC_S3_URL"] == "s3://data-registry/dvc"
    required = {
        "DVC_S3_ENDPOINT_URL",
        "MLFLOW_TRACKING_URI",
        "PGVECTOR_HOST",
        "PGVECTOR_PORT",
        "PGVECTOR_USER",
    }
    assert required | {"PGVECTOR_DATABASE", "GIT_REPO_URL"} <= data.keys()
    assert not any(word in key for key in data for word in ("PASSWORD", "SECRET", "TOKEN", "ACCESS_KEY"))


def test_rbac_allows_exactly_what_the_workflows_need(default_docs: list[dict[str, Any]]) -> None:
    """Argo >= 3.4's executor reports through workflowtaskresults (no pod patch, no volumes); datasets handle
    their RayJob, only the fan-out creates Workflows; each template runs as its own identity."""
    roles = by_kind(default_docs, "Role")
    granted = {
        name: {(g, r): set(rule["verbs"])
               for rule in role["rules"] for g in rule["apiGroups"] for r in rule["resources"]}
        for name, role in roles.items()
    }
    task_results = {("argoproj.io", "workflowtaskresults"): {"create", "patch"}}
    assert granted == {
        "data-registry-workflow": {**task_results, ("ray.io", "rayjobs"): {"create", "get", "delete"}},
        "data-registry-fanout": {**task_results, ("argoproj.io", "workflows"): {"create", "get"}},
    }
    bindings = by_kind(default_docs, "RoleBinding")
    assert {name: b["subjects"][0]["name"] for name, b in bindings.items()} == {name: name for name in roles}
    templates = by_kind(default_docs, "WorkflowTemplate")
    identity = {name: wt["spec"]["serviceAccountName"] for name, wt in templates.items()}
    assert identity.pop("data-pipelines") == "data-registry-fanout"
    assert set(identity.values()) == {"data-registry-workflow"}


def test_no_secret_value_reaches_rendered_output(helm: str, tmp_path: Path) -> None:
    """Secret names from a values file are referenced; secret values cannot be given to the chart at all."""
    fake = {
        key: f"{key.lower()}-{secrets.token_hex(12)}"
        for key in ("aws_secret", "aws_key", "pg", "mlflow", "github")
    }
    values = tmp_path / "values-test.yaml"
    values.write_text(
        yaml.safe_dump(
            {
                "git": {"credentialsSecret": {"name": "team-git", "tokenKey": "gh-token"}},
                "dvc": {
                    "credentialsSecret": {
                        "name": "team-s3",
                        "accessKeyIdKey": "id",
                        "secretAccessKeyKey": "secret",
                    }
                },
                "postgres": {"passwordSecret": {"name": "team-pg", "key": "pw"}},
                "mlflow": {"tokenSecret": {"name": "team-mlflow", "key": "tok"}},
            }
        )
    )
    result = subprocess.run(
        [helm, "template", "x", str(CHART), *IMAGE_ARGS, "-f", str(values)],
        capture_output=True,
        text=True,
        check=True,
    )
    text = result.stdout
    for name in ("team-git", "team-s3", "team-pg", "team-mlflow"):
        assert f"name: {name}" in text or f'name: "{name}"' in text
    for attempt in (
        f"dvc.credentialsSecret.secretAccessKey={fake['aws_secret']}",
        f"git.token={fake['github']}",
        f"postgres.password={fake['pg']}",
        f"mlflow.tokenSecret.value={fake['mlflow']}",
    ):
        refused = subprocess.run(
            [helm, "template", "x", str(CHART), *IMAGE_ARGS, "-f", str(values), "--set", attempt],
            capture_output=True,
            text=True,
            check=False,
        )
        assert refused.returncode != 0 and "additional properties" in refused.stderr.lower()
        assert not any(v in refused.stdout for v in fake.values())
    committed = "\n".join(p.read_text() for p in render.CHART_GENERATED.glob("*.yaml"))
    for value in fake.values():
        assert value not in text and value not in committed


def test_kind_values_render_without_gpu_scheduling(helm: str) -> None:
    job = gpu_rayjob(helm_template(helm, "-f", str(KIND_VALUES)))
    pod = job["spec"]["rayClusterSpec"]["workerGroupSpecs"][0]["template"]["spec"]
    assert pod["nodeSelector"] == {} and pod["tolerations"] == []
    assert errors(rayjob_validator(), job) == []


def test_argocd_application_points_at_the_chart() -> None:
    app = yaml.safe_load((ROOT / "charts" / "argocd-application.yaml").read_text())
    assert (app["apiVersion"], app["kind"]) == ("argoproj.io/v1alpha1", "Application")
    source = app["spec"]["source"]
    assert (ROOT / source["path"] / "Chart.yaml").exists()
    for values_file in source["helm"]["valueFiles"]:
        assert (ROOT / source["path"] / values_file).exists()
    assert (
        app["spec"]["destination"]["namespace"]
        == yaml.safe_load((CHART / "values.yaml").read_text())["namespace"]
    )
    assert app["spec"]["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}


def test_images_need_their_digest_outside_kind(helm: str) -> None:
    """A tag can be pushed again; outside a kind cluster's locally loaded images the chart wants the digest."""
    template = [helm, "template", "x", str(CHART), "-f", str(IMAGE_VALUES)]
    refused = subprocess.run(template, capture_output=True, text=True, check=False)
    assert refused.returncode != 0 and "digest" in refused.stderr
    kind = subprocess.run([*template, "-f", str(KIND_VALUES)], capture_output=True, text=True, check=False)
    assert kind.returncode == 0, kind.stderr
    pinned = subprocess.run([*template, "-f", str(DIGEST_VALUES)], capture_output=True, text=True, check=True)
    digest = yaml.safe_load(DIGEST_VALUES.read_text())["image"]["digest"]
    tag = yaml.safe_load(IMAGE_VALUES.read_text())["image"]["tag"]
    assert f"data-registry-pipeline:{tag}@{digest}" in pinned.stdout
