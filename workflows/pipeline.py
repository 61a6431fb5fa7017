"""One dataset's WorkflowTemplate: checkout → one step per DVC stage (a RayJob for the Ray stage) → publish."""

from __future__ import annotations

import json
import operator
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
    Task,
    WorkflowTemplate,
)
from hera.workflows.models import (
    Backoff,
    Mutex,
    ObjectMeta,
    PersistentVolumeClaim,
    PersistentVolumeClaimSpec,
    Quantity,
    SecretVolumeSource,
    Synchronization,
    ValueFrom,
    Volume,
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
# A Ray pipeline's run, and its Ray step, end at these deadlines (the RayJob's own is rayjob.DEADLINE).
WORKFLOW_DEADLINE = 8 * 3600
RAY_STEP_DEADLINE = rayjob.DEADLINE + 15 * 60
# KubeRay: the job succeeded; it failed or was stopped, or the deployment failed (deadline, submitter).
# Argo's executor (matchConditions) fails the step when ANY comma-separated failure requirement matches;
# success needs all of its requirements.
RAY_SUCCESS = "status.jobStatus == SUCCEEDED"
RAY_FAILURE = "status.jobStatus in (FAILED,STOPPED),status.jobDeploymentStatus == Failed"
# Clone, push and remote transfers are retried; a failed DVC stage is not.
TRANSIENT: dict[str, Any] = {
    "resources": Resources(cpu_request="100m", cpu_limit="1", memory_request="256Mi", memory_limit="1Gi"),
    "retry_strategy": RetryStrategy(
        limit=3, retry_policy="Always", backoff=Backoff(duration="30s", factor=2, max_duration="10m")
    ),
}


def task_name(stage: str) -> str:
    """Argo task names allow letters, digits and '-' only."""
    return stage.replace("_", "-")


def pod_step(
    name: str, command: list[str], args: list[str], inputs: list[Parameter], **spec: Any
) -> Container:
    """A container on the image given as input `image`, with the workspace volume, the git SSH key and
    the ConfigMap's env."""
    return Container(
        name=name,
        image=arg("image"),
        command=command,
        args=args,
        inputs=[*inputs, Parameter(name="image")],
        env_from=[ConfigMapEnvFrom(name=CONFIG_MAP)],
        volume_mounts=[
            VolumeMount(name="workspace", mount_path=WORKSPACE),
            VolumeMount(name="git-ssh", mount_path=GIT_SSH_DIR, read_only=True),
        ],
        **spec,
    )


def dreg(name: str, args: list[str], inputs: list[Parameter], env: list[SecretEnv], **spec: Any) -> Container:
    """`dreg ARGS` in the checkout, with credentials `env` and lineage."""
    env_all = [*env, *lineage_env("image")]
    return pod_step(name, ["dreg"], args, inputs, env=env_all, working_dir=REPO_DIR, **spec)


def checkout(d: Deployment) -> Container:
    """Clone the registry repo at `git_rev` into the workspace volume; output the resolved commit."""
    env = [Env(name="REPO_DIR", value=REPO_DIR), secret_env("GITHUB_TOKEN", d.git_token)]
    commit = Parameter(name="commit", value_from=ValueFrom(path="/tmp/commit"))
    command = ["sh", "-c", CHECKOUT_SCRIPT, "checkout"]
    return pod_step(
        "checkout", command, [arg("git_rev")], params("git_rev"), env=env, outputs=[commit], **TRANSIENT
    )


def stage(dataset: str, d: Deployment) -> Container:
    """One DVC stage through `dreg stage`, sized by the compute profile; never retried."""
    args = ["stage", dataset, arg("stage"), flag("force", "--force", "--no-force")]
    inputs = [
        *params("stage", "force"),
        *sizing_inputs("cpu_request", "cpu_limit", "memory_request", "memory_limit"),
    ]
    patch = {"containers": [{"name": "main", "resources": sized_resources()}]}
    return dreg("stage", args, inputs, data_env(d), pod_spec_patch=json.dumps(patch, sort_keys=True))


def publish(dataset: str, d: Deployment) -> Container:
    """Release what the stages produced: `dreg publish --push`."""
    automated = flag("is_automated", "--automated", "--no-automated")
    args = ["publish", dataset, "--bump", arg("bump_type"), "--push", automated]
    env = [secret_env("GITHUB_TOKEN", d.git_token), *data_env(d)]
    return dreg("publish", args, params("bump_type", "is_automated"), env, **TRANSIENT)


def handoff_check(dataset: str, d: Deployment) -> Container:
    """Whether the Ray stage must run (output `run`: true/false), decided before any GPU is requested."""
    args = ["handoff", "check", dataset, arg("stage"), flag("force", "--force", "--no-force")]
    run = Parameter(name="run", value_from=ValueFrom(path=RUN_RESULT))
    args += ["--result", RUN_RESULT]
    return dreg("handoff-check", args, params("stage", "force"), data_env(d), outputs=[run], **TRANSIENT)


def handoff_import(dataset: str, d: Deployment) -> Container:
    """Bring the Ray stage's lock entry and outputs into the workspace: from its hand-off when it ran,
    else (nothing to do) its locked outputs from the DVC remote."""
    ran = flag("ran", "--ran", "--skipped")
    args = ["handoff", "import", dataset, arg("stage"), "--key", WORKFLOW_UID, ran]
    return dreg("handoff-import", args, params("stage", "ran"), data_env(d), **TRANSIENT)


def ray_stage(pipeline: Pipeline, d: Deployment, ray_version: str) -> Resource:
    """Create the stage's RayJob and wait until KubeRay reports it finished; the workflow owns it."""
    inputs = [*params("stage", "force_flag", "commit"), *sizing_inputs(*rayjob.SIZING), *params("ray_image")]
    manifest = rayjob.rayjob_manifest(pipeline, d, ray_version)
    step = create_and_wait("ray-stage", manifest, inputs, RAY_SUCCESS, RAY_FAILURE)
    step.active_deadline_seconds = RAY_STEP_DEADLINE
    return step


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


def volumes(d: Deployment) -> list[Volume]:
    """The git SSH key Secret (optional: absent when the registry is cloned over HTTPS)."""
    secret = SecretVolumeSource(secret_name=d.git_ssh_secret, optional=True, default_mode=0o440)
    return [Volume(name="git-ssh", secret=secret)]


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
        active_deadline_seconds=WORKFLOW_DEADLINE if pipeline.needs_ray else None,
        synchronization=Synchronization(mutexes=[Mutex(name=f"data-registry-{pipeline.dataset}")]),
        arguments=arguments,
        volume_claim_templates=[workspace_claim(d)],
        volumes=volumes(d),
        **workflow_settings(d),
    ) as wt:
        checkout_t, stage_t, publish_t = checkout(d), stage(pipeline.dataset, d), publish(pipeline.dataset, d)
        ray = None
        if pipeline.needs_ray:
            ray = RayTemplates(
                handoff_check(pipeline.dataset, d),
                ray_stage(pipeline, d, ray_version),
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
    import_: Container


def stage_tasks(name: str, pipeline: Pipeline, stage_t: Container, ray: RayTemplates | None) -> list[Task]:
    """A DVC stage's tasks: one `stage` step on the image that has what the stage imports; for the Ray
    stage a check, the RayJob (only when the check says it must run) and the import."""
    if name != pipeline.ray_stage or ray is None:
        image = {"image": arg(stage_image(pipeline.dataset, name))}
        return [stage_t(name=task_name(name), arguments={"stage": name, "force": arg("force"), **image})]
    check = ray.check(name=f"check-{task_name(name)}", arguments={"stage": name, **passthrough("force", "image")})
    must_run = f"{check.get_parameter('run').value}"
    force_flag = flag("force", "--force", "--no-force")
    ray_args = {"stage": name, "commit": COMMIT, "force_flag": force_flag, **passthrough("ray_image")}
    run = ray.run(name=task_name(name), arguments=ray_args, when=f"{must_run} == true")
    import_args = {"stage": name, "ran": must_run, **passthrough("image")}
    return [check, run, ray.import_(name=f"import-{task_name(name)}", arguments=import_args)]
