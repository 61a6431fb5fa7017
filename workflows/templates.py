"""Hera definitions: one WorkflowTemplate per dataset, the `data-pipelines` fan-out and its CronWorkflow."""

from __future__ import annotations

import json
from typing import Any

import yaml
from hera.workflows import (
    DAG,
    ConfigMapEnvFrom,
    Container,
    CronWorkflow,
    Env,
    Parameter,
    Resource,
    Resources,
    RetryStrategy,
    SecretEnv,
    WorkflowTemplate,
)
from hera.workflows.models import (
    Backoff,
    ObjectMeta,
    PersistentVolumeClaim,
    PersistentVolumeClaimSpec,
    PodGC,
    PodSecurityContext,
    Quantity,
    TTLStrategy,
    ValueFrom,
    VolumeMount,
    VolumeResourceRequirements,
    WorkflowTemplateRef,
)

from workflows.catalog import BUMP_TYPES, PIPELINES, PROFILES, Pipeline, task_name
from workflows.deployment import CONFIG_MAP, Deployment, SecretRef

FANOUT = "data-pipelines"
CRON = "data-pipelines-nightly"
WORKSPACE = "/workspace"
REPO_DIR = f"{WORKSPACE}/repo"
PART_OF = {"app.kubernetes.io/part-of": "data-registry"}
UID_LABEL = "data-registry/workflow-uid"
RUN_AS = 1000
RESOURCE_INPUTS = ("cpu_request", "cpu_limit", "memory_request", "memory_limit")

CHECKOUT_SCRIPT = """\
set -eu
rm -rf "$REPO_DIR"
git clone --quiet "$GIT_REPO_URL" "$REPO_DIR"
cd "$REPO_DIR"
git checkout --quiet "$1"
git rev-parse HEAD | tee /tmp/commit
"""

TRANSIENT_RETRY = RetryStrategy(
    limit=3, retry_policy="Always", backoff=Backoff(duration="30s", factor=2, max_duration="10m")
)


def flag(param: str, on: str, off: str) -> str:
    """An argument that is `on` when the boolean parameter is 'true', else `off` (e.g. --force / --no-force)."""
    return f"{{{{=inputs.parameters.{param} == 'true' ? '{on}' : '{off}'}}}}"


def profile_value(attribute: str) -> str:
    """Argo expression picking one attribute of the selected compute profile."""
    table = ", ".join(f"'{name}': '{getattr(p, attribute)}'" for name, p in PROFILES.items())
    return f"{{{{={{{table}}}[inputs.parameters.compute_profile]}}}}"


def sizing(*attributes: str) -> dict[str, str]:
    """Task arguments resolving the compute profile to plain values (templates only see `{{inputs...}}`)."""
    return {attribute: profile_value(attribute) for attribute in attributes}


def param(name: str) -> str:
    return f"{{{{inputs.parameters.{name}}}}}"


def pipeline_parameters(pipeline: Pipeline | None, d: Deployment) -> list[Parameter]:
    """The parameters every pipeline takes (`compute_profile` only for a single dataset)."""
    params = [
        Parameter(name="git_rev", value="main", description="branch, tag or commit of the registry repo"),
        Parameter(
            name="force", value="false", enum=["false", "true"], description="re-run stages even if cached"
        ),
        Parameter(name="bump_type", value="patch", enum=list(BUMP_TYPES), description="semver part to bump"),
        Parameter(
            name="is_automated", value="false", enum=["false", "true"], description="tag as -automated"
        ),
        Parameter(name="image", value=d.image, description="pipeline image"),
        Parameter(name="ray_image", value=d.ray_image, description="Ray image for GPU stages"),
    ]
    if pipeline is not None:
        params.insert(
            4,
            Parameter(
                name="compute_profile",
                value=pipeline.profile,
                enum=list(PROFILES),
                description="CPU/memory/GPU profile of the data stages",
            ),
        )
    return params


def as_inputs(params: list[Parameter]) -> list[Parameter]:
    """The workflow parameters as entrypoint inputs with the same defaults."""
    return [Parameter(name=p.name, default=p.value, enum=p.enum) for p in params]


def passthrough(*names: str) -> dict[str, str]:
    return {name: param(name) for name in names}


def secret_env(name: str, ref: SecretRef) -> SecretEnv:
    return SecretEnv(name=name, secret_name=ref.name, secret_key=ref.key, optional=ref.optional or None)


def lineage_env(image_param: str) -> list[Env]:
    return [
        Env(name="ARGO_WORKFLOW_UID", value="{{workflow.uid}}"),
        Env(name="DOCKER_IMAGE_TAG", value=f"{{{{inputs.parameters.{image_param}}}}}"),
    ]


def data_env(d: Deployment) -> list[SecretEnv]:
    """Credentials the data stages use: DVC remote, PostgreSQL, MLflow."""
    return [
        secret_env("AWS_ACCESS_KEY_ID", d.s3_access_key_id),
        secret_env("AWS_SECRET_ACCESS_KEY", d.s3_secret_access_key),
        secret_env("PGVECTOR_PASSWORD", d.pgvector_password),
        secret_env("MLFLOW_TRACKING_TOKEN", d.mlflow_token),
    ]


def workspace_mount() -> list[VolumeMount]:
    return [VolumeMount(name="workspace", mount_path=WORKSPACE)]


def small() -> Resources:
    return Resources(cpu_request="100m", cpu_limit="1", memory_request="256Mi", memory_limit="1Gi")


def checkout(d: Deployment) -> Container:
    """Clone the registry repo at `git_rev` into the workspace volume; output the resolved commit."""
    return Container(
        name="checkout",
        image="{{inputs.parameters.image}}",
        command=["sh", "-c", CHECKOUT_SCRIPT, "checkout"],
        args=["{{inputs.parameters.git_rev}}"],
        inputs=[Parameter(name="git_rev"), Parameter(name="image")],
        outputs=[Parameter(name="commit", value_from=ValueFrom(path="/tmp/commit"))],
        env=[Env(name="REPO_DIR", value=REPO_DIR), secret_env("GITHUB_TOKEN", d.git_token)],
        env_from=[ConfigMapEnvFrom(name=CONFIG_MAP)],
        volume_mounts=workspace_mount(),
        resources=small(),
        retry_strategy=TRANSIENT_RETRY,
    )


def stage(dataset: str, d: Deployment) -> Container:
    """One DVC stage through `dreg stage`, sized by the compute profile; never retried."""
    resources = {
        "requests": {"cpu": param("cpu_request"), "memory": param("memory_request")},
        "limits": {"cpu": param("cpu_limit"), "memory": param("memory_limit")},
    }
    return Container(
        name="stage",
        image="{{inputs.parameters.image}}",
        command=["dreg"],
        args=["stage", dataset, "{{inputs.parameters.stage}}", flag("force", "--force", "--no-force")],
        working_dir=REPO_DIR,
        inputs=[Parameter(name=n) for n in ("stage", "force", *RESOURCE_INPUTS, "image")],
        env=[*data_env(d), *lineage_env("image")],
        env_from=[ConfigMapEnvFrom(name=CONFIG_MAP)],
        volume_mounts=workspace_mount(),
        pod_spec_patch=json.dumps({"containers": [{"name": "main", "resources": resources}]}, sort_keys=True),
    )


def publish(dataset: str, d: Deployment) -> Container:
    """Release what the stages produced: `dreg publish --push`, retried as a transient step."""
    return Container(
        name="publish",
        image="{{inputs.parameters.image}}",
        command=["dreg"],
        args=[
            "publish",
            dataset,
            "--bump",
            "{{inputs.parameters.bump_type}}",
            "--push",
            flag("is_automated", "--automated", "--no-automated"),
        ],
        working_dir=REPO_DIR,
        inputs=[Parameter(name="bump_type"), Parameter(name="is_automated"), Parameter(name="image")],
        env=[secret_env("GITHUB_TOKEN", d.git_token), *data_env(d), *lineage_env("image")],
        env_from=[ConfigMapEnvFrom(name=CONFIG_MAP)],
        volume_mounts=workspace_mount(),
        resources=small(),
        retry_strategy=TRANSIENT_RETRY,
    )


def handoff_import(dataset: str, d: Deployment) -> Container:
    """Bring the Ray stage's lock entry and outputs from the DVC remote into the workspace."""
    return Container(
        name="handoff-import",
        image="{{inputs.parameters.image}}",
        command=["dreg"],
        args=["handoff", "import", dataset, "{{inputs.parameters.stage}}", "--key", "{{workflow.uid}}"],
        working_dir=REPO_DIR,
        inputs=[Parameter(name="stage"), Parameter(name="image")],
        env=[*data_env(d), *lineage_env("image")],
        env_from=[ConfigMapEnvFrom(name=CONFIG_MAP)],
        volume_mounts=workspace_mount(),
        resources=small(),
        retry_strategy=TRANSIENT_RETRY,
    )


def rayjob_name() -> str:
    return "embed-{{workflow.uid}}"


def ray_container(name: str, d: Deployment, resources: dict[str, Any]) -> dict[str, Any]:
    """A Ray pod's container: the Ray image, cluster env, credentials and lineage."""
    env = [
        {"name": "ARGO_WORKFLOW_UID", "value": "{{workflow.uid}}"},
        {"name": "DOCKER_IMAGE_TAG", "value": "{{inputs.parameters.ray_image}}"},
        {"name": "DREG_SOURCE_REV", "value": "{{inputs.parameters.commit}}"},
    ]
    refs = {
        "GITHUB_TOKEN": d.git_token,
        "AWS_ACCESS_KEY_ID": d.s3_access_key_id,
        "AWS_SECRET_ACCESS_KEY": d.s3_secret_access_key,
        "PGVECTOR_PASSWORD": d.pgvector_password,
        "MLFLOW_TRACKING_TOKEN": d.mlflow_token,
    }
    for var, ref in refs.items():
        key_ref: dict[str, Any] = {"name": ref.name, "key": ref.key}
        if ref.optional:
            key_ref["optional"] = True
        env.append({"name": var, "valueFrom": {"secretKeyRef": key_ref}})
    return {
        "name": name,
        "image": "{{inputs.parameters.ray_image}}",
        "envFrom": [{"configMapRef": {"name": CONFIG_MAP}}],
        "env": env,
        "resources": resources,
    }


class Raw(str):
    """A manifest value written without YAML quotes (an Argo expression that must become an int)."""


def dump_manifest(manifest: dict[str, Any]) -> str:
    """YAML text of a manifest; `Raw` values are left unquoted for Argo to substitute."""
    raws: list[str] = []

    def mark(value: Any) -> Any:
        if isinstance(value, Raw):
            raws.append(str(value))
            return f"RAWVALUE{len(raws) - 1}END"
        if isinstance(value, dict):
            return {k: mark(v) for k, v in value.items()}
        if isinstance(value, list):
            return [mark(v) for v in value]
        return value

    text = yaml.safe_dump(mark(manifest), sort_keys=False, width=10_000)
    for i, raw in enumerate(raws):
        text = text.replace(f"RAWVALUE{i}END", raw)
    return text


def rayjob_manifest(pipeline: Pipeline, d: Deployment, ray_version: str) -> dict[str, Any]:
    """KubeRay RayJob running the Ray stage in the Ray head, with a GPU worker group."""
    labels = {**PART_OF, "data-registry/dataset": pipeline.dataset, UID_LABEL: "{{workflow.uid}}"}
    entrypoint = " ".join(
        [
            "dreg handoff run",
            pipeline.dataset,
            "{{inputs.parameters.stage}}",
            "--rev {{inputs.parameters.commit}}",
            "--key {{workflow.uid}}",
            param("force_flag"),
        ]
    )
    head = ray_container(
        "ray-head",
        d,
        {"requests": {"cpu": "1", "memory": "4Gi"}, "limits": {"cpu": "2", "memory": "8Gi"}},
    )
    worker = ray_container(
        "ray-worker",
        d,
        {
            "requests": {"cpu": param("cpu_request"), "memory": param("memory_request")},
            "limits": {
                "cpu": param("cpu_limit"),
                "memory": param("memory_limit"),
                "nvidia.com/gpu": param("gpus"),
            },
        },
    )
    replicas = Raw(param("ray_workers"))
    pod_security = {"runAsNonRoot": True, "runAsUser": RUN_AS, "fsGroup": RUN_AS}
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayJob",
        "metadata": {"name": rayjob_name(), "labels": labels},
        "spec": {
            "entrypoint": entrypoint,
            "submissionMode": "K8sJobMode",
            "shutdownAfterJobFinishes": True,
            "ttlSecondsAfterFinished": 3600,
            "activeDeadlineSeconds": 6 * 3600,
            "backoffLimit": 0,
            "rayClusterSpec": {
                "rayVersion": ray_version,
                "headGroupSpec": {
                    "rayStartParams": {"dashboard-host": "0.0.0.0", "num-cpus": "0"},
                    "template": {
                        "metadata": {"labels": labels},
                        "spec": {"securityContext": pod_security, "containers": [head]},
                    },
                },
                "workerGroupSpecs": [
                    {
                        "groupName": "gpu",
                        "replicas": replicas,
                        "minReplicas": replicas,
                        "maxReplicas": replicas,
                        "rayStartParams": {},
                        "template": {
                            "metadata": {"labels": labels},
                            "spec": {
                                "securityContext": pod_security,
                                "nodeSelector": d.gpu_node_selector,
                                "tolerations": d.gpu_tolerations,
                                "containers": [worker],
                            },
                        },
                    }
                ],
            },
        },
    }


def ray_stage(pipeline: Pipeline, d: Deployment, ray_version: str) -> Resource:
    """Create the RayJob and wait for its job status; the workflow owns it."""
    return Resource(
        name="ray-stage",
        action="create",
        set_owner_reference=True,
        success_condition="status.jobStatus == SUCCEEDED",
        failure_condition="status.jobStatus in (FAILED,STOPPED)",
        manifest=dump_manifest(rayjob_manifest(pipeline, d, ray_version)),
        inputs=[
            Parameter(name=n)
            for n in ("stage", "force_flag", "commit", *RESOURCE_INPUTS, "gpus", "ray_workers", "ray_image")
        ],
    )


def delete_rayjob() -> Resource:
    """Delete this workflow's RayJob (ignored when it is already gone)."""
    manifest = {"apiVersion": "ray.io/v1", "kind": "RayJob", "metadata": {"name": rayjob_name()}}
    return Resource(name="delete-rayjob", action="delete", manifest=dump_manifest(manifest))


def pipeline_template(pipeline: Pipeline, d: Deployment, ray_version: str) -> WorkflowTemplate:
    """checkout → one step per DVC stage (a RayJob for the Ray stage) → publish."""
    params = pipeline_parameters(pipeline, d)
    with WorkflowTemplate(
        name=pipeline.dataset,
        namespace=d.namespace,
        labels={**PART_OF, "data-registry/dataset": pipeline.dataset},
        entrypoint="main",
        on_exit="exit-handler" if pipeline.needs_ray else None,
        arguments=params,
        service_account_name=d.service_account,
        security_context=PodSecurityContext(run_as_non_root=True, run_as_user=RUN_AS, fs_group=RUN_AS),
        volume_claim_templates=[
            PersistentVolumeClaim(
                metadata=ObjectMeta(name="workspace"),
                spec=PersistentVolumeClaimSpec(
                    access_modes=["ReadWriteOnce"],
                    resources=VolumeResourceRequirements(requests={"storage": Quantity(d.workspace_size)}),
                ),
            )
        ],
        pod_gc=PodGC(strategy="OnWorkflowSuccess"),
        ttl_strategy=TTLStrategy(seconds_after_completion=7 * 24 * 3600),
    ) as wt:
        checkout_t = checkout(d)
        stage_t = stage(pipeline.dataset, d)
        publish_t = publish(pipeline.dataset, d)
        if pipeline.needs_ray:
            ray_t = ray_stage(pipeline, d, ray_version)
            import_t = handoff_import(pipeline.dataset, d)
            delete_t = delete_rayjob()
            with DAG(name="exit-handler"):
                delete_t(name="delete-rayjob", when="{{workflow.status}} != Succeeded")
        with DAG(name="main", inputs=as_inputs(params)):
            previous = checkout_t(name="checkout", arguments=passthrough("git_rev", "image"))
            commit = "{{tasks.checkout.outputs.parameters.commit}}"
            for name in pipeline.stages:
                if name == pipeline.ray_stage:
                    ray_task = ray_t(
                        name=task_name(name),
                        arguments={
                            "stage": name,
                            "commit": commit,
                            "force_flag": flag("force", "--force", "--no-force"),
                            **sizing(*RESOURCE_INPUTS, "gpus", "ray_workers"),
                            **passthrough("ray_image"),
                        },
                    )
                    previous >> ray_task
                    task = import_t(
                        name=f"import-{task_name(name)}", arguments={"stage": name, **passthrough("image")}
                    )
                    ray_task >> task
                else:
                    task = stage_t(
                        name=task_name(name),
                        arguments={
                            "stage": name,
                            **sizing(*RESOURCE_INPUTS),
                            **passthrough("force", "image"),
                        },
                    )
                    previous >> task
                previous = task
            previous >> publish_t(name="publish", arguments=passthrough("bump_type", "is_automated", "image"))
    return wt


def child_workflow_manifest() -> dict[str, Any]:
    """The Workflow the fan-out creates for one dataset, from that dataset's WorkflowTemplate."""
    names = ("git_rev", "force", "bump_type", "is_automated", "image", "ray_image")
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {
            "generateName": "{{inputs.parameters.dataset}}-",
            "labels": {**PART_OF, "data-registry/parent-workflow": "{{workflow.name}}"},
        },
        "spec": {
            "workflowTemplateRef": {"name": "{{inputs.parameters.dataset}}"},
            "arguments": {
                "parameters": [{"name": n, "value": f"{{{{inputs.parameters.{n}}}}}"} for n in names]
            },
        },
    }


def run_pipeline() -> Resource:
    """Submit one dataset's pipeline as a child Workflow and wait for it."""
    return Resource(
        name="run-pipeline",
        action="create",
        set_owner_reference=True,
        success_condition="status.phase == Succeeded",
        failure_condition="status.phase in (Failed,Error)",
        manifest=dump_manifest(child_workflow_manifest()),
        inputs=[
            Parameter(name="dataset"),
            *(
                Parameter(name=n)
                for n in ("git_rev", "force", "bump_type", "is_automated", "image", "ray_image")
            ),
        ],
    )


def fanout_template(d: Deployment) -> WorkflowTemplate:
    """`data-pipelines`: run a JSON list of datasets in parallel, each through its own template."""
    params = [
        Parameter(name="datasets", value=d.cron_datasets, description="JSON list of dataset names"),
        *pipeline_parameters(None, d),
    ]
    with WorkflowTemplate(
        name=FANOUT,
        namespace=d.namespace,
        labels=PART_OF,
        entrypoint="main",
        arguments=params,
        service_account_name=d.service_account,
        security_context=PodSecurityContext(run_as_non_root=True, run_as_user=RUN_AS, fs_group=RUN_AS),
        pod_gc=PodGC(strategy="OnWorkflowSuccess"),
        ttl_strategy=TTLStrategy(seconds_after_completion=7 * 24 * 3600),
    ) as wt:
        run_t = run_pipeline()
        with DAG(name="main", inputs=as_inputs(params), fail_fast=False):
            run_t(
                name="pipeline",
                with_param="{{inputs.parameters.datasets}}",
                arguments={
                    "dataset": "{{item}}",
                    **passthrough("git_rev", "force", "bump_type", "is_automated", "image", "ray_image"),
                },
            )
    return wt


def cron_workflow(d: Deployment) -> CronWorkflow:
    """Nightly run of the scheduled datasets, tagged as automated releases."""
    return CronWorkflow(
        name=CRON,
        namespace=d.namespace,
        labels=PART_OF,
        schedules=[d.cron_schedule],
        timezone=d.cron_timezone,
        concurrency_policy="Forbid",
        starting_deadline_seconds=3600,
        successful_jobs_history_limit=3,
        failed_jobs_history_limit=3,
        workflow_template_ref=WorkflowTemplateRef(name=FANOUT),
        arguments=[
            Parameter(name="datasets", value=d.cron_datasets),
            Parameter(name="is_automated", value="true"),
        ],
    )


def all_documents(d: Deployment, ray_version: str) -> dict[str, dict[str, Any]]:
    """Every rendered manifest by file stem, in a stable order."""
    docs: dict[str, dict[str, Any]] = {}
    for name, pipeline in PIPELINES.items():
        docs[name] = pipeline_template(pipeline, d, ray_version).to_dict()
    docs[FANOUT] = fanout_template(d).to_dict()
    docs[CRON] = cron_workflow(d).to_dict()
    return docs
