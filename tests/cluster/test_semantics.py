"""What an Argo controller would check, and the shape of each pipeline, on the rendered YAML."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
import yaml

from tests.cluster.semantics import check_all, strings
from tests.cluster.support import load_rendered, templates_by_name
from workflows.pipeline import task_name
from workflows.profiles import PIPELINES, PROFILES, SCHEDULED

DOCS = load_rendered()
SECRET_ENV = {
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "PGVECTOR_PASSWORD",
    "MLFLOW_TRACKING_TOKEN",
    "GITHUB_TOKEN",
}


def test_rendered_templates_pass_every_controller_check() -> None:
    assert check_all(DOCS) == []


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda d: d["spec"]["templates"][0]["container"]["args"].append("{{inputs.parameters.gti_rev}}"),
            "gti_rev",
        ),
        (lambda d: main(d)["dag"]["tasks"][1].update(template="stagee"), "'stagee' does not exist"),
        (lambda d: main(d)["dag"]["tasks"][0].update(depends="publish"), "DAG has a cycle"),
        (lambda d: d["spec"]["arguments"]["parameters"][2].update(value="huge"), "'huge' not in"),
        (lambda d: main(d)["dag"]["tasks"][1].update(depends="nope"), "unknown task(s) ['nope']"),
        (
            lambda d: main(d)["dag"]["tasks"][1]["arguments"]["parameters"].pop(0),
            "input stage of stage is not supplied",
        ),
        (lambda d: d["spec"].update(entrypoint="mian"), "entrypoint 'mian' is not a template"),
        (
            lambda d: main(d)["dag"]["tasks"][0]["arguments"]["parameters"].append(
                {"name": "x", "value": "{{tasks.publish.outputs.parameters.commit}}"}
            ),
            "unresolved reference {{tasks.publish",
        ),
        (
            lambda d: templates_by_name(d)["stage"]["inputs"]["parameters"][2].update(
                default="{{={'cpu-small': '1'}[workflow.parameters.compute_profil]}}"
            ),
            "unresolved reference {{workflow.parameters.compute_profil}}",
        ),
    ],
)
def test_checker_catches_broken_templates(mutate: Any, expected: str) -> None:
    docs = copy.deepcopy(DOCS)
    mutate(docs["wine-quality"])
    assert any(expected in problem for problem in check_all(docs)), check_all(docs)


def main(doc: dict[str, Any]) -> dict[str, Any]:
    return templates_by_name(doc)["main"]


@pytest.mark.parametrize("dataset", sorted(PIPELINES))
def test_pipeline_dag_is_checkout_then_each_stage_then_publish(dataset: str) -> None:
    pipeline = PIPELINES[dataset]
    doc = DOCS[dataset]
    templates = templates_by_name(doc)
    tasks = main(doc)["dag"]["tasks"]
    expected = ["checkout"]
    for stage in pipeline.stages:
        name = task_name(stage)
        ray = [f"check-{name}", name, f"wait-{name}", f"import-{name}"]
        expected += ray if stage == pipeline.ray_stage else [name]
    assert [t["name"] for t in tasks] == [*expected, "publish"]
    assert [t.get("depends") for t in tasks] == [None, *expected]
    for task in tasks:
        args = {p["name"]: p["value"] for p in task.get("arguments", {}).get("parameters", [])}
        if task["name"] in map(task_name, pipeline.stages) and "when" not in task:
            assert task_name(args["stage"]) == task["name"] and args["stage"] in pipeline.stages
        template = templates[task["template"]]
        retried = "retryStrategy" in template
        transient = task["name"] in ("checkout", "publish") or task["name"].startswith(("import-", "check-"))
        assert retried == transient, f"{task['name']}: retries only for clone, push and transfers"
    params = {p["name"]: p for p in doc["spec"]["arguments"]["parameters"]}
    assert {"git_rev", "force", "bump_type", "is_automated", "compute_profile", "image"} <= params.keys()
    assert params["compute_profile"]["enum"] == list(PROFILES)
    assert params["compute_profile"]["value"] == pipeline.profile
    assert params["bump_type"]["enum"] == ["patch", "minor", "major"]
    claim = doc["spec"]["volumeClaimTemplates"][0]
    assert claim["metadata"]["name"] == "workspace"


def test_ray_stage_is_a_rayjob_with_an_exit_handler_that_deletes_it() -> None:
    doc = DOCS["opencloudhub-readmes-embeddings"]
    templates = templates_by_name(doc)
    ray = templates["ray-stage"]["resource"]
    assert ray["action"] == "create" and ray["setOwnerReference"] is True
    failure = "status.jobStatus in (FAILED,STOPPED),status.jobDeploymentStatus in (Failed,ValidationFailed)"
    assert ray["successCondition"] == "status.jobDeploymentStatus in (Running,Complete)"
    wait = templates["ray-wait"]["resource"]
    assert wait["action"] == "get" and wait["successCondition"] == "status.jobStatus == SUCCEEDED"
    assert ray["failureCondition"] == wait["failureCondition"] == failure
    assert doc["spec"]["onExit"] == "exit-handler"
    (cleanup,) = templates["exit-handler"]["dag"]["tasks"]
    assert "when" not in cleanup, "the RayJob (and its GPU cluster) is deleted whatever the outcome"
    delete = templates[cleanup["template"]]["resource"]
    assert delete["action"] == "delete"
    created = yaml.safe_load(ray["manifest"].replace("{{", "").replace("}}", ""))
    deleted = yaml.safe_load(delete["manifest"].replace("{{", "").replace("}}", ""))
    assert (deleted["kind"], deleted["metadata"]["name"]) == (created["kind"], created["metadata"]["name"])
    # No other pipeline creates anything on Ray or has an exit handler.
    for name, pipeline in PIPELINES.items():
        if not pipeline.needs_ray:
            assert "onExit" not in DOCS[name]["spec"]
            assert all("resource" not in t for t in DOCS[name]["spec"]["templates"])


def test_fanout_runs_each_listed_dataset_through_its_own_template() -> None:
    doc = DOCS["data-pipelines"]
    templates = templates_by_name(doc)
    (task,) = main(doc)["dag"]["tasks"]
    assert task["withParam"] == "{{inputs.parameters.datasets}}"
    assert main(doc)["dag"]["failFast"] is False
    child = templates[task["template"]]["resource"]
    manifest = yaml.safe_load(child["manifest"].replace("{{", "").replace("}}", ""))
    assert manifest["kind"] == "Workflow"
    passed = {p["name"] for p in manifest["spec"]["arguments"]["parameters"]}
    for dataset in PIPELINES:
        entry = {p["name"] for p in main(DOCS[dataset])["inputs"]["parameters"]}
        assert passed <= entry, f"{dataset} does not take {passed - entry}"
    default = next(p["value"] for p in doc["spec"]["arguments"]["parameters"] if p["name"] == "datasets")
    assert json.loads(default) == list(SCHEDULED)


def test_cron_runs_the_scheduled_set_nightly_as_automated() -> None:
    cron = DOCS["data-pipelines-nightly"]
    spec = cron["spec"]
    assert spec["schedules"] == ["0 2 * * *"] and spec["concurrencyPolicy"] == "Forbid"
    assert spec["workflowSpec"]["workflowTemplateRef"] == {"name": "data-pipelines"}
    args = {p["name"]: p["value"] for p in spec["workflowSpec"]["arguments"]["parameters"]}
    assert args["is_automated"] == "true"
    assert set(json.loads(args["datasets"])) <= set(PIPELINES)


def env_lists(obj: Any) -> list[list[dict[str, Any]]]:
    """Every `env` list, including those inside resource manifests."""
    found: list[list[dict[str, Any]]] = []
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key == "env" and isinstance(value, list):
                found.append(value)
            elif key == "manifest" and isinstance(value, str):
                found += env_lists(yaml.safe_load(value.replace("{{", "").replace("}}", "")))
            else:
                found += env_lists(value)
    elif isinstance(obj, list):
        for value in obj:
            found += env_lists(value)
    return found


@pytest.mark.parametrize("name", sorted(DOCS))
def test_secrets_are_only_referenced(name: str) -> None:
    for env in env_lists(DOCS[name]):
        for var in env:
            if var["name"] in SECRET_ENV:
                assert "value" not in var and set(var["valueFrom"]) == {"secretKeyRef"}, var


def test_pods_get_config_from_the_configmap_and_lineage_env() -> None:
    doc = DOCS["wine-quality"]
    stage = templates_by_name(doc)["stage"]["container"]
    assert stage["envFrom"] == [{"configMapRef": {"name": "data-registry-env"}}]
    env = {e["name"]: e for e in stage["env"]}
    assert env["ARGO_WORKFLOW_UID"]["value"] == "{{workflow.uid}}"
    assert env["ARGO_WORKFLOW_NAME"]["value"] == "{{workflow.name}}"  # the parent run of OpenLineage events
    assert env["DOCKER_IMAGE_TAG"]["value"] == "{{inputs.parameters.image}}"
    assert not any("{{" in s and "}}" not in s for s in strings(DOCS))
