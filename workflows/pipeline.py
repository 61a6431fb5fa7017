"""One dataset's WorkflowTemplate: checkout → one step per DVC stage (a RayJob for the Ray stage) → publish."""

from __future__ import annotations

import json
import operator
from collections.abc import Sequence
from functools import reduce
from typing import Any, NamedTuple

from hera.expr import g
from hera.workflows import (
    DAG,
    ConfigMapEnvFrom,
    Container,
    Env,
    Parameter,
    Resource,
    Resources,
    RetryStrategy,
    SecretEnv,
    Step,
    Task,
    WorkflowTemplate,
)
from hera.workflows.models import (
    Backoff,
    ExecutorConfig,
    IntOrString,
    Mutex,
    ObjectMeta,
    PersistentVolumeClaim,
    PersistentVolumeClaimSpec,
    Quantity,
    Synchronization,
    ValueFrom,
    VolumeMount,
    VolumeResourceRequirements,
)

from workflows import rayjob
from workflows.common import (
    PART_OF,
    WORKFLOW_UID,
    arg,
    as_inputs,
    create_and_wait,
    data_env,
    flag,
    image_parameters,
    lineage_env,
    manifest_yaml,
    params,
    passthrough,
    run_parameters,
    secret_env,
    sized_resources,
    sizing_inputs,
    workflow_settings,
)
from workflows.deployment import CONFIG_MAP, GIT_SSH_DIR, Deployment
from workflows.gitssh import PUBLISH_SCRIPT, key_volume, push_env
from workflows.images import stage_image
from workflows.profiles import PROFILES, Pipeline

WORKSPACE = "/workspace"
REPO_DIR = f"{WORKSPACE}/repo"
COMMIT = f"{g.tasks.checkout.outputs.parameters.commit:$}"
CHECKOUT_SCRIPT = """\
set -eu
rm -rf "$REPO_DIR"
git clone --quiet "$GIT_REPO_URL" "$REPO_DIR"
cd "$REPO_DIR"
git checkout --quiet "$1"
git rev-parse HEAD | tee /tmp/commit
"""
RUN_RESULT = "/tmp/run"
TAG_RESULT = "/tmp/tag"
# Every run ends: a pipeline without Ray within WORKFLOW_DEADLINE, one with a Ray stage within
# RAY_WORKFLOW_DEADLINE; its Ray step within RAY_STEP_DEADLINE (the RayJob's own is rayjob.DEADLINE).
WORKFLOW_DEADLINE = 4 * 3600
RAY_WORKFLOW_DEADLINE = 8 * 3600
RAY_STEP_DEADLINE = rayjob.DEADLINE + 15 * 60
# A RayJob whose cluster never comes up (pods unschedulable, image not pulled) stays `Initializing`: KubeRay
# 1.5 has no deadline for that phase (preRunningDeadlineSeconds came in 1.6), so the start is waited for
# separately and fails after RAY_START_DEADLINE.
RAY_START_DEADLINE = 30 * 60
# Each attempt of a clone, hand-off or publish ends within STEP_DEADLINE (then it is retried).
STEP_DEADLINE = 30 * 60
# KubeRay: the job succeeded; it failed or was stopped, or the deployment failed or was refused (deadline,
# submitter, invalid spec). Argo's executor (matchConditions) fails the step when ANY comma-separated failure
# requirement matches; success needs all of its requirements.
RAY_STARTED = "status.jobDeploymentStatus in (Running,Complete)"
RAY_SUCCESS = "status.jobStatus == SUCCEEDED"
RAY_FAILURE = "status.jobStatus in (FAILED,STOPPED),status.jobDeploymentStatus in (Failed,ValidationFailed)"
# Clone, push and remote transfers are retried; a failed DVC stage is not.
TRANSIENT: dict[str, Any] = {
    "resources": Resources(cpu_request="100m", cpu_limit="1", memory_request="256Mi", memory_limit="1Gi"),
    "retry_strategy": RetryStrategy(
        limit=3, retry_policy="Always", backoff=Backoff(duration="30s", factor=IntOrString(2), max_duration="10m")
    ),
    "active_deadline_seconds": STEP_DEADLINE,
}


def task_name(stage: str) -> str:
    """Argo task names allow letters, digits and '-' only."""
    return stage.replace("_", "-")


def pod_step(
    name: str, command: list[str], args: list[str], inputs: list[Parameter], d: Deployment, **spec: Any
) -> Container:
    """A container on the image given as input `image`, with the workspace volume and the ConfigMap's env.
    Only Argo's executor gets a service-account token: the step itself never calls the Kubernetes API."""
    mounts = [VolumeMount(name="workspace", mount_path=WORKSPACE), *spec.pop("volume_mounts", [])]
    return Container(
        name=name,
        image=arg("image"),
        command=command,
        args=args,
        inputs=[*inputs, Parameter(name="image")],
        env_from=[ConfigMapEnvFrom(name=CONFIG_MAP)],
        volume_mounts=mounts,
        automount_service_account_token=False,
        executor=ExecutorConfig(service_account_name=d.service_account),
        **spec,
    )


def dreg(
    name: str, args: list[str], inputs: list[Parameter], env: Sequence[SecretEnv | Env], d: Deployment, **spec: Any
) -> Container:
    """`dreg ARGS` in the checkout (or `command` ending in `dreg "$@"`), with credentials `env` and lineage."""
    env_all = [*env, *lineage_env("image")]
    command = spec.pop("command", ["dreg"])
    return pod_step(name, command, args, inputs, d, env=env_all, working_dir=REPO_DIR, **spec)


def checkout(d: Deployment) -> Container:
    """Clone the registry repo at `git_rev` into the workspace volume (read path: no write key); output the
    resolved commit."""
    env = [Env(name="REPO_DIR", value=REPO_DIR), secret_env("GITHUB_TOKEN", d.git_token)]
    commit = Parameter(name="commit", value_from=ValueFrom(path="/tmp/commit"))
    command = ["sh", "-c", CHECKOUT_SCRIPT, "checkout"]
    return pod_step(
        "checkout", command, [arg("git_rev")], params("git_rev"), d, env=env, outputs=[commit], **TRANSIENT
    )


def stage(dataset: str, d: Deployment) -> Container:
    """One DVC stage through `dreg stage`, sized by the compute profile; never retried."""
    args = ["stage", dataset, arg("stage"), flag("force", "--force", "--no-force")]
    inputs = [
        *params("stage", "force"),
        *sizing_inputs("cpu_request", "cpu_limit", "memory_request", "memory_limit"),
    ]
    patch = {"containers": [{"name": "main", "resources": sized_resources()}]}
    return dreg("stage", args, inputs, data_env(d), d, pod_spec_patch=json.dumps(patch, sort_keys=True))


def publish(dataset: str, d: Deployment) -> Container:
    """Release what the stages produced: `dreg publish --push`, the one step holding the write key; output
    `tag`: the release it made, or the one already holding these outputs (a retry after a push reports it)."""
    automated = flag("is_automated", "--automated", "--no-automated")
    args = ["publish", dataset, "--bump", arg("bump_type"), "--push", automated, "--result", TAG_RESULT]
    env: list[SecretEnv | Env] = [secret_env("GITHUB_TOKEN", d.git_token),
                                  secret_env("DREG_SIGNING_KEY", d.signing_key), *data_env(d), *push_env(d)]
    tag = Parameter(name="tag", value_from=ValueFrom(path=TAG_RESULT))
    return dreg(
        "publish",
        args,
        params("bump_type", "is_automated"),
        env,
        d,
        command=["sh", "-c", PUBLISH_SCRIPT, "publish"],
        volumes=[key_volume(d)],
        volume_mounts=[VolumeMount(name="git-ssh", mount_path=GIT_SSH_DIR, read_only=True)],
        outputs=[tag],
        **TRANSIENT,
    )


def handoff_check(dataset: str, d: Deployment) -> Container:
    """Whether the Ray stage must run (output `run`: true/false), decided before any GPU is requested."""
    args = ["handoff", "check", dataset, arg("stage"), flag("force", "--force", "--no-force")]
    run = Parameter(name="run", value_from=ValueFrom(path=RUN_RESULT))
    args += ["--result", RUN_RESULT]
    return dreg("handoff-check", args, params("stage", "force"), data_env(d), d, outputs=[run], **TRANSIENT)


def handoff_import(dataset: str, d: Deployment) -> Container:
    """Bring the Ray stage's lock entry and outputs into the workspace: from its hand-off when it ran,
    else (nothing to do) its locked outputs from the DVC remote."""
    ran = flag("ran", "--ran", "--skipped")
    args = ["handoff", "import", dataset, arg("stage"), "--key", WORKFLOW_UID, ran]
    return dreg("handoff-import", args, params("stage", "ran"), data_env(d), d, **TRANSIENT)


def ray_stage(pipeline: Pipeline, d: Deployment, ray_version: str) -> Resource:
    """Create the stage's RayJob (the workflow owns it) and wait until its cluster runs the job: a job
    still `Initializing` after RAY_START_DEADLINE fails the step."""
    inputs = [*params("stage", "force_flag", "commit"), *sizing_inputs(*rayjob.SIZING), *params("ray_image")]
    manifest = rayjob.rayjob_manifest(pipeline, d, ray_version)
    step = create_and_wait("ray-stage", manifest, inputs, RAY_STARTED, RAY_FAILURE)
    step.active_deadline_seconds = RAY_START_DEADLINE
    return step


def ray_wait() -> Resource:
    """Wait until KubeRay reports the started RayJob finished."""
    return Resource(
        name="ray-wait",
        action="get",
        success_condition=RAY_SUCCESS,
        failure_condition=RAY_FAILURE,
        manifest=manifest_yaml(rayjob.delete_manifest()),
        active_deadline_seconds=RAY_STEP_DEADLINE,
    )


def exit_handler() -> None:
    """`exit-handler`: delete this workflow's RayJob and its cluster, whatever the outcome (gone is fine)."""
    delete = Resource(name="delete-rayjob", action="delete", manifest=manifest_yaml(rayjob.delete_manifest()))
    with DAG(name="exit-handler"):
        delete(name="delete-rayjob")


def workspace_claim(d: Deployment) -> PersistentVolumeClaim:
    """The per-workflow volume holding the checkout and its DVC cache."""
    spec = PersistentVolumeClaimSpec(
        access_modes=["ReadWriteOnce"],
        resources=VolumeResourceRequirements(requests={"storage": Quantity(d.workspace_size)}),
    )
    return PersistentVolumeClaim(metadata=ObjectMeta(name="workspace"), spec=spec)


def pipeline_arguments(pipeline: Pipeline, d: Deployment) -> list[Parameter]:
    """The run parameters, the compute profile (default: the dataset's), the images."""
    profile = Parameter(
        name="compute_profile",
        value=pipeline.profile,
        enum=list(PROFILES),
        description="CPU/memory/GPU profile of the data stages",
    )
    return [*run_parameters(), profile, *image_parameters(d)]


def pipeline_template(pipeline: Pipeline, d: Deployment, ray_version: str) -> WorkflowTemplate:
    """The dataset's WorkflowTemplate; the Ray stage, if any, runs as a RayJob followed by its import."""
    if pipeline.needs_ray and pipeline.ray_stage not in pipeline.stages:
        raise ValueError(f"{pipeline.dataset}: Ray stage {pipeline.ray_stage!r} is not in its dvc.yaml")
    arguments = pipeline_arguments(pipeline, d)
    with WorkflowTemplate(
        name=pipeline.dataset,
        labels={**PART_OF, "data-registry/dataset": pipeline.dataset},
        on_exit="exit-handler" if pipeline.needs_ray else None,
        active_deadline_seconds=RAY_WORKFLOW_DEADLINE if pipeline.needs_ray else WORKFLOW_DEADLINE,
        synchronization=Synchronization(mutexes=[Mutex(name=f"data-registry-{pipeline.dataset}")]),
        arguments=arguments,
        volume_claim_templates=[workspace_claim(d)],
        **workflow_settings(d, d.service_account),
    ) as wt:
        checkout_t, stage_t, publish_t = checkout(d), stage(pipeline.dataset, d), publish(pipeline.dataset, d)
        ray = None
        if pipeline.needs_ray:
            ray = RayTemplates(
                handoff_check(pipeline.dataset, d),
                ray_stage(pipeline, d, ray_version),
                ray_wait(),
                handoff_import(pipeline.dataset, d),
            )
            exit_handler()
        with DAG(name="main", inputs=as_inputs(arguments)):
            first = checkout_t(name="checkout", arguments=passthrough("git_rev", "image"))
            stages = [task for name in pipeline.stages for task in stage_tasks(name, pipeline, stage_t, ray)]
            last = publish_t(name="publish", arguments=passthrough("bump_type", "is_automated", "image"))
            reduce(operator.rshift, [first, *stages, last])  # checkout >> stage >> ... >> publish
    return wt


class RayTemplates(NamedTuple):
    """The Ray stage's templates: decide, run on Ray, bring back."""

    check: Container
    run: Resource
    wait: Resource
    import_: Container


def stage_tasks(name: str, pipeline: Pipeline, stage_t: Container, ray: RayTemplates | None) -> list[Task]:
    """A DVC stage's tasks: one `stage` step on the image that has what the stage imports; for the Ray
    stage a check, the RayJob (only when the check says it must run) and the import."""
    if name != pipeline.ray_stage or ray is None:
        image = {"image": arg(stage_image(pipeline.dataset, name))}
        return [in_dag(stage_t(name=task_name(name), arguments={"stage": name, "force": arg("force"), **image}))]
    check_args = {"stage": name, **passthrough("force", "image")}
    check = in_dag(ray.check(name=f"check-{task_name(name)}", arguments=check_args))
    must_run = f"{check.get_parameter('run').value}"
    force_flag = flag("force", "--force", "--no-force")
    ray_args = {"stage": name, "commit": COMMIT, "force_flag": force_flag, **passthrough("ray_image")}
    run = in_dag(ray.run(name=task_name(name), arguments=ray_args, when=f"{must_run} == true"))
    wait = in_dag(ray.wait(name=f"wait-{task_name(name)}", when=f"{must_run} == true"))
    import_args = {"stage": name, "ran": must_run, **passthrough("image")}
    return [check, run, wait, in_dag(ray.import_(name=f"import-{task_name(name)}", arguments=import_args))]


def in_dag(node: Step | Task | None) -> Task:
    """A template called inside a DAG context: Hera returns its Task (typed Step | Task | None)."""
    if not isinstance(node, Task):
        raise TypeError(f"expected a DAG task, got {type(node).__name__}")
    return node
