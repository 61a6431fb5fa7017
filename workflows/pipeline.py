"""One dataset's WorkflowTemplate: checkout → one step per DVC stage (a RayJob for the Ray stage) → publish."""

from __future__ import annotations

import json
import operator
from functools import reduce
from typing import Any

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
    ObjectMeta,
    PersistentVolumeClaim,
    PersistentVolumeClaimSpec,
    Quantity,
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
from workflows.deployment import CONFIG_MAP, Deployment
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
    """A container on the pipeline image (input `image`) with the workspace volume and the ConfigMap's env."""
    return Container(
        name=name,
        image=arg("image"),
        command=command,
        args=args,
        inputs=[*inputs, Parameter(name="image")],
        env_from=[ConfigMapEnvFrom(name=CONFIG_MAP)],
        volume_mounts=[VolumeMount(name="workspace", mount_path=WORKSPACE)],
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


def handoff_import(dataset: str, d: Deployment) -> Container:
    """Bring the Ray stage's lock entry and outputs from the DVC remote into the workspace."""
    args = ["handoff", "import", dataset, arg("stage"), "--key", WORKFLOW_UID]
    return dreg("handoff-import", args, params("stage"), data_env(d), **TRANSIENT)


def ray_stage(pipeline: Pipeline, d: Deployment, ray_version: str) -> Resource:
    """Create the stage's RayJob and wait for its job status; the workflow owns it."""
    inputs = [*params("stage", "force_flag", "commit"), *sizing_inputs(*rayjob.SIZING), *params("ray_image")]
    manifest = rayjob.rayjob_manifest(pipeline, d, ray_version)
    success, failure = "status.jobStatus == SUCCEEDED", "status.jobStatus in (FAILED,STOPPED)"
    return create_and_wait("ray-stage", manifest, inputs, success, failure)


def exit_handler() -> None:
    """`exit-handler`: delete this workflow's RayJob unless the workflow succeeded (gone already is fine)."""
    delete = Resource(name="delete-rayjob", action="delete", manifest=manifest_yaml(rayjob.delete_manifest()))
    with DAG(name="exit-handler"):
        delete(name="delete-rayjob", when=f"{g.workflow.status:$} != Succeeded")


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
        arguments=arguments,
        volume_claim_templates=[workspace_claim(d)],
        **workflow_settings(d),
    ) as wt:
        checkout_t, stage_t, publish_t = checkout(d), stage(pipeline.dataset, d), publish(pipeline.dataset, d)
        ray = None
        if pipeline.needs_ray:
            ray = ray_stage(pipeline, d, ray_version), handoff_import(pipeline.dataset, d)
            exit_handler()
        with DAG(name="main", inputs=as_inputs(arguments)):
            first = checkout_t(name="checkout", arguments=passthrough("git_rev", "image"))
            stages = [task for name in pipeline.stages for task in stage_tasks(name, pipeline, stage_t, ray)]
            last = publish_t(name="publish", arguments=passthrough("bump_type", "is_automated", "image"))
            reduce(operator.rshift, [first, *stages, last])  # checkout >> stage >> ... >> publish
    return wt


def stage_tasks(
    name: str, pipeline: Pipeline, stage_t: Container, ray: tuple[Resource, Container] | None
) -> list[Task]:
    """A DVC stage's tasks: one `stage` step, or for the Ray stage a RayJob and then its import."""
    if name != pipeline.ray_stage or ray is None:
        return [stage_t(name=task_name(name), arguments={"stage": name, **passthrough("force", "image")})]
    ray_t, import_t = ray
    force_flag = flag("force", "--force", "--no-force")
    ray_args = {"stage": name, "commit": COMMIT, "force_flag": force_flag, **passthrough("ray_image")}
    run = ray_t(name=task_name(name), arguments=ray_args)
    return [
        run,
        import_t(name=f"import-{task_name(name)}", arguments={"stage": name, **passthrough("image")}),
    ]
