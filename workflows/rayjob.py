"""The KubeRay RayJob that runs a pipeline's Ray stage in the Ray head, with a GPU worker group."""

from __future__ import annotations

from typing import Any

from hera.workflows import Env, SecretEnv

from workflows.common import (
    PART_OF,
    RUN_AS,
    WORKFLOW_UID,
    Number,
    arg,
    data_env,
    lineage_env,
    secret_env,
    sized_resources,
)
from workflows.deployment import CONFIG_MAP, Deployment
from workflows.profiles import Pipeline

NAME = f"embed-{WORKFLOW_UID}"
UID_LABEL = "data-registry/workflow-uid"
SIZING = ("cpu_request", "cpu_limit", "memory_request", "memory_limit", "gpus", "ray_workers")
HEAD_RESOURCES = {"requests": {"cpu": "1", "memory": "4Gi"}, "limits": {"cpu": "2", "memory": "8Gi"}}
POD_SECURITY = {"runAsNonRoot": True, "runAsUser": RUN_AS, "fsGroup": RUN_AS}
DEADLINE = 6 * 3600
# Once the job finished, its cluster (and GPUs) go after this many seconds; the exit handler deletes the rest.
TTL_AFTER_FINISHED = 60
# Every Ray pod reads the source release from the registry's git URL (never the head's clone): the read
# path, without the write key (only the workflow's publish step holds it).
REGISTRY_URL_ENV = {"name": "DREG_REGISTRY_URL",
                    "valueFrom": {"configMapKeyRef": {"name": CONFIG_MAP, "key": "GIT_REPO_URL"}}}


def ray_container(name: str, d: Deployment, resources: dict[str, Any]) -> dict[str, Any]:
    """A Ray pod's container: the Ray image, cluster settings, the registry URL, credentials and lineage."""
    env: list[Env | SecretEnv] = [*lineage_env("ray_image"), secret_env("GITHUB_TOKEN", d.git_token), *data_env(d)]
    return {
        "name": name,
        "image": arg("ray_image"),
        "envFrom": [{"configMapRef": {"name": CONFIG_MAP}}],
        "env": [REGISTRY_URL_ENV, *(e.build().model_dump(by_alias=True, exclude_none=True) for e in env)],
        "resources": resources,
    }


def pod(labels: dict[str, str], spec: dict[str, Any]) -> dict[str, Any]:
    """A Ray pod template running as the workflow's non-root user, without a service-account token (Ray
    here never calls the Kubernetes API: no autoscaler)."""
    return {
        "metadata": {"labels": labels},
        "spec": {"securityContext": POD_SECURITY, "automountServiceAccountToken": False, **spec},
    }


def worker_group(labels: dict[str, str], d: Deployment) -> dict[str, Any]:
    """`ray_workers` GPU workers on the GPU nodes, sized by the compute profile."""
    workers = Number(arg("ray_workers"))
    worker = ray_container("ray-worker", d, sized_resources(**{"nvidia.com/gpu": arg("gpus")}))
    return {
        "groupName": "gpu",
        "replicas": workers,
        "minReplicas": workers,
        "maxReplicas": workers,
        "rayStartParams": {},
        "template": pod(
            labels,
            {"nodeSelector": d.gpu_node_selector, "tolerations": d.gpu_tolerations, "containers": [worker]},
        ),
    }


def rayjob_manifest(pipeline: Pipeline, d: Deployment, ray_version: str) -> dict[str, Any]:
    """`dreg handoff run` as the RayJob's entrypoint; the job and its cluster go once it finishes."""
    labels = {**PART_OF, "data-registry/dataset": pipeline.dataset, UID_LABEL: WORKFLOW_UID}
    entrypoint = (
        f"dreg handoff run {pipeline.dataset} {arg('stage')} --rev {arg('commit')} "
        f"--key {WORKFLOW_UID} {arg('force_flag')}"
    )
    head = {
        "rayStartParams": {"dashboard-host": "0.0.0.0", "num-cpus": "0"},
        "template": pod(labels, {"containers": [ray_container("ray-head", d, HEAD_RESOURCES)]}),
    }
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayJob",
        "metadata": {"name": NAME, "labels": labels},
        "spec": {
            "entrypoint": entrypoint,
            "submissionMode": "K8sJobMode",
            "shutdownAfterJobFinishes": True,
            "ttlSecondsAfterFinished": TTL_AFTER_FINISHED,
            "activeDeadlineSeconds": DEADLINE,
            "backoffLimit": 0,
            "rayClusterSpec": {
                "rayVersion": ray_version,
                "headGroupSpec": head,
                "workerGroupSpecs": [worker_group(labels, d)],
            },
        },
    }


def delete_manifest() -> dict[str, Any]:
    """Just enough of the RayJob to delete it by name."""
    return {"apiVersion": "ray.io/v1", "kind": "RayJob", "metadata": {"name": NAME}}
