"""What the pipeline and fan-out templates share: Argo expressions, parameters, pod settings, manifest YAML."""

from __future__ import annotations

from typing import Any

import yaml
from hera.expr import C, g
from hera.workflows import Env, Parameter, Resource, SecretEnv
from hera.workflows.models import PodGC, PodSecurityContext, TTLStrategy

from dreg_client.grammar import BUMPS
from workflows.deployment import Deployment, SecretRef
from workflows.profiles import PROFILES

PART_OF = {"app.kubernetes.io/part-of": "data-registry"}
RUN_AS = 1000
BUMP_TYPES: tuple[str, ...] = BUMPS  # the tag grammar's bump kinds
WORKFLOW_UID = f"{g.workflow.uid:$}"


def arg(name: str) -> str:
    """`{{inputs.parameters.<name>}}`: one of the template's inputs."""
    return f"{getattr(g.inputs.parameters, name):$}"


def flag(name: str, on: str, off: str) -> str:
    """`on` when the boolean input `name` is 'true', else `off` (e.g. --force / --no-force)."""
    return f"{(getattr(g.inputs.parameters, name) == 'true').check(C(on), C(off)):=}"


def params(*names: str) -> list[Parameter]:
    """Template inputs, all given by the calling task."""
    return [Parameter(name=name) for name in names]


def passthrough(*names: str) -> dict[str, str]:
    """Task arguments handing on the DAG's inputs of the same names."""
    return {name: arg(name) for name in names}


def sizing_inputs(*attributes: str) -> list[Parameter]:
    """Inputs defaulting to the chosen profile's values: the table once per step template, not per task.
    Argo resolves workflow parameters in input defaults before it substitutes the inputs."""
    return [Parameter(name=attribute, default=profile_value(attribute)) for attribute in attributes]


def profile_value(attribute: str) -> str:
    """`attribute` of the profile named by the workflow parameter `compute_profile`."""
    # Hera types a Constant's dict keys as expr scalars and an index as str; expr indexes by any node
    table: dict[Any, Any] = {name: str(getattr(profile, attribute)) for name, profile in PROFILES.items()}
    return f"{C(table)[g.workflow.parameters.compute_profile]:=}"  # type: ignore[index]


def sized_resources(**extra_limits: str) -> dict[str, dict[str, str]]:
    """Requests and limits read from the sizing inputs."""
    return {
        "requests": {"cpu": arg("cpu_request"), "memory": arg("memory_request")},
        "limits": {"cpu": arg("cpu_limit"), "memory": arg("memory_limit"), **extra_limits},
    }


def run_parameters() -> list[Parameter]:
    """What every run is asked: the registry revision, force, the version bump, automated or not."""
    return [
        Parameter(name="git_rev", value="main", description="branch, tag or commit of the registry repo"),
        Parameter(
            name="force", value="false", enum=["false", "true"], description="re-run stages even if cached"
        ),
        Parameter(name="bump_type", value="patch", enum=list(BUMP_TYPES), description="semver part to bump"),
        Parameter(
            name="is_automated", value="false", enum=["false", "true"], description="tag as -automated"
        ),
    ]


def image_parameters(d: Deployment) -> list[Parameter]:
    """The images the steps run in."""
    return [
        Parameter(name="image", value=d.image, description="pipeline image"),
        Parameter(name="ray_image", value=d.ray_image, description="Ray image for GPU stages"),
    ]


def as_inputs(arguments: list[Parameter]) -> list[Parameter]:
    """The workflow parameters as entrypoint inputs with the same defaults."""
    return [Parameter(name=p.name, default=p.value, enum=p.enum) for p in arguments]


def workflow_settings(d: Deployment, service_account: str) -> dict[str, Any]:
    """WorkflowTemplate settings every template shares: namespace, entrypoint, pod identity, clean-up."""
    return {
        "namespace": d.namespace,
        "entrypoint": "main",
        "service_account_name": service_account,
        "security_context": PodSecurityContext(run_as_non_root=True, run_as_user=RUN_AS, fs_group=RUN_AS),
        "pod_gc": PodGC(strategy="OnWorkflowSuccess"),
        "ttl_strategy": TTLStrategy(seconds_after_completion=7 * 24 * 3600),
    }


def secret_env(name: str, ref: SecretRef) -> SecretEnv:
    """An environment variable read from a Secret key."""
    # `optional` may be the chart's placeholder (a str filled in with true or false), where Hera types a bool
    optional = ref.optional or None
    return SecretEnv(name=name, secret_name=ref.name, secret_key=ref.key, optional=optional)  # type: ignore[arg-type]


def data_env(d: Deployment) -> list[SecretEnv]:
    """Credentials the data stages use: DVC remote, PostgreSQL, MLflow."""
    return [
        secret_env("AWS_ACCESS_KEY_ID", d.s3_access_key_id),
        secret_env("AWS_SECRET_ACCESS_KEY", d.s3_secret_access_key),
        secret_env("PGVECTOR_PASSWORD", d.pgvector_password),
        secret_env("MLFLOW_TRACKING_TOKEN", d.mlflow_token),
    ]


def lineage_env(image_input: str) -> list[Env]:
    """What `dreg` records as lineage: the workflow (also the parent run of its OpenLineage events) and the image
    it runs in."""
    return [
        Env(name="ARGO_WORKFLOW_UID", value=WORKFLOW_UID),
        Env(name="ARGO_WORKFLOW_NAME", value=f"{g.workflow.name:$}"),
        Env(name="DOCKER_IMAGE_TAG", value=arg(image_input)),
    ]


def create_and_wait(
    name: str, manifest: dict[str, Any], inputs: list[Parameter], success: str, failure: str
) -> Resource:
    """Create a resource owned by the workflow and wait until its status meets `success` or `failure`."""
    return Resource(
        name=name,
        action="create",
        set_owner_reference=True,
        success_condition=success,
        failure_condition=failure,
        manifest=manifest_yaml(manifest),
        inputs=inputs,
    )


class Number(str):
    """An Argo placeholder that is filled in with a number: written without quotes, so YAML reads an int."""


class _ManifestDumper(yaml.SafeDumper):
    """Block-style YAML without anchors, in which `Number` placeholders stay unquoted."""

    def ignore_aliases(self, data: Any) -> bool:
        """Write shared objects (labels, security context) out in full each time."""
        return True

    def choose_scalar_style(self) -> str:
        """Plain style for `Number` placeholders; PyYAML's choice for everything else."""
        number = isinstance(self.event, yaml.ScalarEvent) and self.event.style == "number"
        return "" if number else super().choose_scalar_style()


def _number(dumper: yaml.SafeDumper, value: Number) -> yaml.ScalarNode:
    """Mark a `Number` so that `_ManifestDumper` writes it plain."""
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(value), style="number")


_ManifestDumper.add_representer(Number, _number)


def manifest_yaml(manifest: dict[str, Any]) -> str:
    """The YAML text of a resource template's manifest."""
    return yaml.dump(manifest, Dumper=_ManifestDumper, sort_keys=False, width=10_000)
