"""Deployment settings the templates are rendered with; the defaults mirror the chart's values.yaml."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from workflows.catalog import SCHEDULED

CONFIG_MAP = "data-registry-env"


@dataclass(frozen=True)
class SecretRef:
    """A key in a Kubernetes Secret; only the reference ever reaches rendered YAML."""

    name: str
    key: str
    optional: bool = False


def _gpu_node_selector() -> dict[str, str]:
    return {"nvidia.com/gpu.present": "true"}


def _gpu_tolerations() -> list[dict[str, str]]:
    return [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]


@dataclass(frozen=True)
class Deployment:
    """Names and endpoints that differ per cluster (the chart's values)."""

    namespace: str = "data-registry"
    image: str = "ghcr.io/opencloudhub/data-registry-pipeline:main"
    ray_image: str = "ghcr.io/opencloudhub/data-registry-ray:main"
    service_account: str = "data-registry-workflow"
    workspace_size: str = "20Gi"
    git_token: SecretRef = SecretRef("data-registry-git", "token")
    s3_access_key_id: SecretRef = SecretRef("data-registry-s3", "AWS_ACCESS_KEY_ID")
    s3_secret_access_key: SecretRef = SecretRef("data-registry-s3", "AWS_SECRET_ACCESS_KEY")
    pgvector_password: SecretRef = SecretRef("data-registry-pgvector", "password", optional=True)
    mlflow_token: SecretRef = SecretRef("data-registry-mlflow", "token", optional=True)
    gpu_node_selector: Any = field(default_factory=_gpu_node_selector)
    gpu_tolerations: Any = field(default_factory=_gpu_tolerations)
    cron_schedule: str = "0 2 * * *"
    cron_timezone: str = "UTC"
    cron_datasets: str = json.dumps(list(SCHEDULED), separators=(",", ":"))


def _helm(name: str) -> str:
    """Sentinel that the chart renderer replaces with a Helm expression."""
    return f"HELM__{name}__"


HELM_EXPRESSIONS: dict[str, str] = {
    "namespace": '{{ include "data-registry.namespace" . | quote }}',
    "image": '{{ include "data-registry.image" . | quote }}',
    "rayImage": '{{ include "data-registry.rayImage" . | quote }}',
    "serviceAccount": '{{ include "data-registry.serviceAccountName" . | quote }}',
    "workspaceSize": "{{ .Values.workspace.size | quote }}",
    "gitSecret": "{{ .Values.git.credentialsSecret.name | quote }}",
    "gitTokenKey": "{{ .Values.git.credentialsSecret.tokenKey | quote }}",
    "s3Secret": "{{ .Values.dvc.credentialsSecret.name | quote }}",
    "s3AccessKeyIdKey": "{{ .Values.dvc.credentialsSecret.accessKeyIdKey | quote }}",
    "s3SecretAccessKeyKey": "{{ .Values.dvc.credentialsSecret.secretAccessKeyKey | quote }}",
    "pgSecret": "{{ .Values.postgres.passwordSecret.name | quote }}",
    "pgPasswordKey": "{{ .Values.postgres.passwordSecret.key | quote }}",
    "mlflowSecret": "{{ .Values.mlflow.tokenSecret.name | quote }}",
    "mlflowTokenKey": "{{ .Values.mlflow.tokenSecret.key | quote }}",
    "gpuNodeSelector": "{{ toJson .Values.gpu.nodeSelector }}",
    "gpuTolerations": "{{ toJson .Values.gpu.tolerations }}",
    "cronSchedule": "{{ .Values.cron.schedule | quote }}",
    "cronTimezone": "{{ .Values.cron.timezone | quote }}",
    "cronDatasets": "{{ toJson .Values.cron.datasets | quote }}",
}


def helm_deployment() -> Deployment:
    """Settings made of sentinels, for the copy of the templates that ships in the Helm chart."""
    return Deployment(
        namespace=_helm("namespace"),
        image=_helm("image"),
        ray_image=_helm("rayImage"),
        service_account=_helm("serviceAccount"),
        workspace_size=_helm("workspaceSize"),
        git_token=SecretRef(_helm("gitSecret"), _helm("gitTokenKey")),
        s3_access_key_id=SecretRef(_helm("s3Secret"), _helm("s3AccessKeyIdKey")),
        s3_secret_access_key=SecretRef(_helm("s3Secret"), _helm("s3SecretAccessKeyKey")),
        pgvector_password=SecretRef(_helm("pgSecret"), _helm("pgPasswordKey"), optional=True),
        mlflow_token=SecretRef(_helm("mlflowSecret"), _helm("mlflowTokenKey"), optional=True),
        gpu_node_selector=_helm("gpuNodeSelector"),
        gpu_tolerations=_helm("gpuTolerations"),
        cron_schedule=_helm("cronSchedule"),
        cron_timezone=_helm("cronTimezone"),
        cron_datasets=_helm("cronDatasets"),
    )
