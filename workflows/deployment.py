"""Per-cluster settings the templates are rendered with: defaults that mirror the chart's values.yaml,
and the chart's copy, where every setting is a `HELM__<name>__` placeholder that
charts/data-registry/templates/workflows.yaml replaces with a value."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from workflows.profiles import SCHEDULED

CONFIG_MAP = "data-registry-env"
# github.com's published host keys (values.yaml git.knownHosts), mounted next to the key in the publish step.
KNOWN_HOSTS_CONFIG_MAP = "data-registry-known-hosts"
# Where the publish step (the only pod that writes to the registry repo) finds the SSH key and known_hosts.
GIT_SSH_DIR = "/etc/git-ssh"


@dataclass(frozen=True)
class SecretRef:
    """A key in a Kubernetes Secret; only the reference ever reaches rendered YAML."""

    name: str
    key: str
    optional: bool | str = False  # str: the chart's placeholder, filled in with true or false


def _gpu_node_selector() -> dict[str, str]:
    """Nodes with NVIDIA GPUs (values.yaml gpu.nodeSelector)."""
    return {"nvidia.com/gpu.present": "true"}


def _gpu_tolerations() -> list[dict[str, str]]:
    """Tolerate the GPU nodes' taint (values.yaml gpu.tolerations)."""
    return [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]


@dataclass(frozen=True)
class Deployment:
    """Names and endpoints that differ per cluster (the chart's values)."""

    namespace: str = "data-registry"
    image: str = "ghcr.io/opencloudhub/data-registry-pipeline:main"
    ray_image: str = "ghcr.io/opencloudhub/data-registry-ray:main"
    service_account: str = "data-registry-workflow"
    fanout_service_account: str = "data-registry-fanout"
    workspace_size: str = "20Gi"
    git_token: SecretRef = SecretRef("data-registry-git", "token", optional=True)
    # Where publish pushes (remote.origin.pushurl); clones and Ray pods read from GIT_REPO_URL.
    git_push_url: str = "https://github.com/opencloudhub/data-registry.git"
    # The write key: optional only when no SSH Secret is configured (`optional` is a placeholder in the chart).
    git_ssh_key: SecretRef = SecretRef("data-registry-git-ssh", "ssh-privatekey", optional=True)
    # The release-signing key (DREG_SIGNING_KEY, publish step only); without that Secret releases are unsigned.
    signing_key: SecretRef = SecretRef("data-registry-signing", "signing.key", optional=True)
    s3_access_key_id: SecretRef = SecretRef("data-registry-s3", "AWS_ACCESS_KEY_ID")
    s3_secret_access_key: SecretRef = SecretRef("data-registry-s3", "AWS_SECRET_ACCESS_KEY")
    pgvector_password: SecretRef = SecretRef("data-registry-pgvector", "password", optional=True)
    mlflow_token: SecretRef = SecretRef("data-registry-mlflow", "token", optional=True)
    gpu_node_selector: Any = field(default_factory=_gpu_node_selector)
    gpu_tolerations: Any = field(default_factory=_gpu_tolerations)
    cron_schedule: str = "0 2 * * *"
    cron_timezone: str = "UTC"
    cron_datasets: str = json.dumps(list(SCHEDULED), separators=(",", ":"))


def placeholder(name: str) -> str:
    """The text the chart replaces with its value `name` (see templates/workflows.yaml)."""
    return f"HELM__{name}__"


def chart_deployment() -> Deployment:
    """Settings made of placeholders, for the copy of the templates that ships in the Helm chart."""
    return Deployment(
        namespace=placeholder("namespace"),
        image=placeholder("image"),
        ray_image=placeholder("rayImage"),
        service_account=placeholder("serviceAccount"),
        fanout_service_account=placeholder("fanoutServiceAccount"),
        workspace_size=placeholder("workspaceSize"),
        git_token=SecretRef(placeholder("gitSecret"), placeholder("gitTokenKey"), optional=True),
        git_push_url=placeholder("gitPushUrl"),
        git_ssh_key=SecretRef(placeholder("gitSshSecret"), placeholder("gitSshKey"), placeholder("gitSshOptional")),
        signing_key=SecretRef(placeholder("signingSecret"), placeholder("signingKey"), optional=True),
        s3_access_key_id=SecretRef(placeholder("s3Secret"), placeholder("s3AccessKeyIdKey")),
        s3_secret_access_key=SecretRef(placeholder("s3Secret"), placeholder("s3SecretAccessKeyKey")),
        pgvector_password=SecretRef(placeholder("pgSecret"), placeholder("pgPasswordKey"), optional=True),
        mlflow_token=SecretRef(placeholder("mlflowSecret"), placeholder("mlflowTokenKey"), optional=True),
        gpu_node_selector=placeholder("gpuNodeSelector"),
        gpu_tolerations=placeholder("gpuTolerations"),
        cron_schedule=placeholder("cronSchedule"),
        cron_timezone=placeholder("cronTimezone"),
        cron_datasets=placeholder("cronDatasets"),
    )
