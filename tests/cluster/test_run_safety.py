"""Issue 10's findings on the templates that deploy (`helm template` of the committed generated/): each step's image
has what its stage imports, a failed RayJob fails the step, runs have deadlines and a per-dataset mutex, the RayJob
is always deleted, and a run with nothing to do spends no GPU time."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from steps.cluster.handoff import run_reasons
from steps.dev.scaffold import update_params
from tests.cluster.support import ROOT, load_rendered, templates_by_name
from tests.e2e.expressions import resource_condition
from workflows.images import missing_packages, stage_packages

DOCS = {name: doc for name, doc in load_rendered().items() if doc["kind"] == "WorkflowTemplate"}
RAY_TEMPLATES = [name for name, doc in DOCS.items() if "ray-stage" in templates_by_name(doc)]


def dockerfile_extras(name: str) -> tuple[str, ...]:
    """The extras an image's Dockerfile installs (`pip install ".[a,b]"`)."""
    (extras,) = set(re.findall(r'pip install[^\n]*"\.\[([\w,-]+)\]"', (ROOT / "images" / name).read_text()))
    return tuple(extras.split(","))


IMAGE_EXTRAS = {"image": dockerfile_extras("pipeline.Dockerfile"), "ray_image": dockerfile_extras("ray.Dockerfile")}


def stage_tasks() -> list[tuple[str, str, str]]:
    """(dataset, stage, image input) of every `stage` task of every pipeline template."""
    found = []
    for name, doc in DOCS.items():
        main = templates_by_name(doc).get("main", {})
        for task in (main.get("dag") or {}).get("tasks", []):
            if task.get("template") != "stage":
                continue
            args = {p["name"]: p["value"] for p in task["arguments"]["parameters"]}
            image = re.fullmatch(r"\{\{inputs\.parameters\.(\w+)\}\}", args["image"])
            assert image, f"{name}/{task['name']}: image {args['image']!r} is not an image input"
            found.append((name, args["stage"], image[1]))
    return found


@pytest.mark.parametrize("dataset,stage,image", stage_tasks(), ids=lambda v: str(v))
def test_every_stage_step_runs_in_an_image_that_has_what_it_imports(dataset: str, stage: str, image: str) -> None:
    """Finding 1: e.g. the embeddings `analyze` imports psycopg, which only the Ray image installs."""
    missing = missing_packages(stage_packages(dataset, stage), IMAGE_EXTRAS[image])
    assert not missing, f"{dataset}:{stage} runs on {image} ({IMAGE_EXTRAS[image]}) without {sorted(missing)}"


def test_the_embeddings_analyze_step_needs_the_ray_image() -> None:
    assert "psycopg" in stage_packages("opencloudhub-readmes-embeddings", "analyze")
    assert ("opencloudhub-readmes-embeddings", "analyze", "ray_image") in stage_tasks()


def ray_step(doc: dict[str, Any], name: str = "ray-wait") -> dict[str, Any]:
    """The step waiting for the RayJob to finish (`ray-wait`), or the one creating it (`ray-stage`)."""
    return templates_by_name(doc)[name]


def outcome(resource: dict[str, Any], status: dict[str, str]) -> str:
    """What Argo's executor makes of a RayJob status: failure is checked first, any requirement fails."""
    obj = {"status": status}
    if resource_condition(resource["failureCondition"], obj, any_of=True):
        return "failed"
    return "succeeded" if resource_condition(resource["successCondition"], obj) else "waiting"


@pytest.mark.parametrize("name", RAY_TEMPLATES)
@pytest.mark.parametrize(
    "status,expected",
    [
        ({"jobStatus": "SUCCEEDED", "jobDeploymentStatus": "Complete"}, "succeeded"),
        ({"jobStatus": "RUNNING", "jobDeploymentStatus": "Running"}, "waiting"),
        ({"jobStatus": "FAILED", "jobDeploymentStatus": "Failed", "reason": "AppFailed"}, "failed"),
        ({"jobStatus": "FAILED", "jobDeploymentStatus": "Complete"}, "failed"),  # KubeRay before 1.2
        ({"jobStatus": "STOPPED", "jobDeploymentStatus": "Complete"}, "failed"),
        ({"jobDeploymentStatus": "Failed", "reason": "DeadlineExceeded"}, "failed"),
        ({"jobDeploymentStatus": "Failed", "reason": "SubmissionFailed"}, "failed"),
        ({"jobDeploymentStatus": "ValidationFailed"}, "failed"),
    ],
)
def test_the_ray_step_fails_on_a_failed_deployment_without_a_job_status(
    name: str, status: dict[str, str], expected: str
) -> None:
    """Finding 3: KubeRay reports a deadline or submitter failure only as `jobDeploymentStatus: Failed`."""
    assert outcome(ray_step(DOCS[name])["resource"], status) == expected


@pytest.mark.parametrize("name", RAY_TEMPLATES)
@pytest.mark.parametrize(
    "status,expected",
    [
        ({"jobDeploymentStatus": "Initializing"}, "waiting"),  # pods unscheduled or image not pulled yet
        ({"jobStatus": "RUNNING", "jobDeploymentStatus": "Running"}, "succeeded"),
        ({"jobStatus": "SUCCEEDED", "jobDeploymentStatus": "Complete"}, "succeeded"),  # a job faster than a poll
        ({"jobDeploymentStatus": "ValidationFailed", "reason": "ValidationFailed"}, "failed"),
        ({"jobDeploymentStatus": "Failed", "reason": "DeadlineExceeded"}, "failed"),
    ],
)
def test_a_rayjob_that_never_starts_fails_at_the_start_deadline(
    name: str, status: dict[str, str], expected: str
) -> None:
    """KubeRay 1.5 (the platform's) leaves a job whose cluster never comes up `Initializing` for ever (no
    preRunningDeadlineSeconds before 1.6): the creating step waits only for the start, under a short deadline."""
    start = ray_step(DOCS[name], "ray-stage")
    assert outcome(start["resource"], status) == expected
    assert 0 < start["activeDeadlineSeconds"] <= 30 * 60


@pytest.mark.parametrize("name", RAY_TEMPLATES)
def test_ray_runs_have_deadlines_a_short_ttl_and_an_unconditional_cleanup(name: str) -> None:
    """Finding 3: deadlines on the workflow and the Ray step; the exit handler always deletes the RayJob."""
    import yaml

    doc = DOCS[name]
    step = ray_step(doc)
    assert 0 < step["activeDeadlineSeconds"] < doc["spec"]["activeDeadlineSeconds"]
    created = ray_step(doc, "ray-stage")["resource"]["manifest"]
    manifest = yaml.safe_load(re.sub(r"\{\{[^}]*\}\}", "1", created))  # numbers unquoted
    assert manifest["spec"]["activeDeadlineSeconds"] < step["activeDeadlineSeconds"]
    assert manifest["spec"]["shutdownAfterJobFinishes"] is True
    assert 0 < manifest["spec"]["ttlSecondsAfterFinished"] <= 600, "GPU clusters go soon after the job"
    exit_dag = templates_by_name(doc)[doc["spec"]["onExit"]]["dag"]["tasks"]
    (delete,) = [t for t in exit_dag if templates_by_name(doc)[t["template"]].get("resource", {}).get("action")
                 == "delete"]
    assert "when" not in delete, "the RayJob is deleted whatever the workflow's status"


@pytest.mark.parametrize("name", [n for n, d in DOCS.items() if "data-registry/dataset" in d["metadata"]["labels"]])
def test_runs_of_one_dataset_never_overlap(name: str) -> None:
    """Finding 4: the GitHub schedule and the CronWorkflow may both fire; a mutex per dataset serialises them."""
    (mutex,) = DOCS[name]["spec"]["synchronization"]["mutexes"]
    assert name in mutex["name"]
    others = {d["spec"]["synchronization"]["mutexes"][0]["name"] for n, d in DOCS.items()
              if n != name and "synchronization" in d["spec"]}
    assert mutex["name"] not in others


@pytest.mark.parametrize("name", RAY_TEMPLATES)
def test_the_rayjob_starts_only_when_the_check_says_the_stage_must_run(name: str) -> None:
    """Finding 4: a cheap check on the pipeline image decides; the RayJob task runs only on its `true`."""
    tasks = {t["name"]: t for t in templates_by_name(DOCS[name])["main"]["dag"]["tasks"]}
    ray_task = next(t for t in tasks.values() if t["template"] == "ray-stage")
    check = tasks[ray_task["depends"]]
    assert templates_by_name(DOCS[name])[check["template"]]["container"]["image"] == "{{inputs.parameters.image}}"
    assert ray_task["when"] == f"{{{{tasks.{check['name']}.outputs.parameters.run}}}} == true"


@pytest.fixture
def released_repo(registry: Any, dreg: Any) -> Path:
    """A scratch registry with wine-quality released (its outputs pushed to the registry's DVC remote)."""
    proc = dreg("run", "wine-quality")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return registry.root


def test_nothing_to_do_for_an_unchanged_release_and_a_reason_after_a_change(released_repo: Path) -> None:
    """Finding 4: the check reads the lock, the params and the DVC remote; an unchanged pinned source → no run."""
    from dvc.repo import Repo

    with Repo(str(released_repo)) as repo:
        assert run_reasons(repo, "wine-quality", "process") == []
    update_params(released_repo, "wine-quality", {"process": {"val_fraction": 0.3}})
    with Repo(str(released_repo)) as repo:
        reasons = run_reasons(repo, "wine-quality", "process")
    assert reasons and any("params" in r for r in reasons), reasons


@pytest.mark.parametrize("tag", ["main", "latest", ""])
def test_images_are_never_referenced_by_a_mutable_or_missing_tag(tag: str, tmp_path: Path) -> None:
    """Finding 5: the chart refuses `main`/`latest` (and no tag); a digest, when given, is part of the reference."""
    import subprocess

    from tests.cluster.support import CHART, helm_binary

    values = tmp_path / "v.yaml"
    digest = "sha256:" + "ab" * 32  # present, so that only the tag can be refused
    values.write_text(f'image: {{tag: "{tag}", digest: "{digest}"}}\n'
                      f'rayImage: {{tag: "0123abc", digest: "{digest}"}}\n')
    refused = subprocess.run([helm_binary(), "template", "x", str(CHART), "-f", str(values)],
                             capture_output=True, text=True, check=False)
    assert refused.returncode != 0 and "tag" in refused.stderr


def test_a_pinned_digest_reaches_every_step_and_the_lineage() -> None:
    from tests.cluster.support import helm_binary, helm_template

    digest = "sha256:" + "ab" * 32
    docs = helm_template(helm_binary(), "--set", "image.tag=0123abc", "--set", f"image.digest={digest}",
                         "--set", "rayImage.tag=0123abc")
    wine = next(d for d in docs if d["metadata"].get("name") == "wine-quality")
    image = next(p for p in wine["spec"]["arguments"]["parameters"] if p["name"] == "image")
    assert image["value"].endswith(f":0123abc@{digest}")
    stage_env = {e["name"]: e.get("value") for e in templates_by_name(wine)["stage"]["container"]["env"]}
    assert stage_env["DOCKER_IMAGE_TAG"] == "{{inputs.parameters.image}}", "lineage records the pinned reference"
