"""Loaders and helpers for the cluster tests: rendered manifests, strict schemas, Argo-style substitution."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from tests.e2e import expressions

ROOT = Path(__file__).resolve().parents[2]

# ../shared/schemas of the checkout (of the main one, for a git worktree further down).
SCHEMAS = next((p / "shared" / "schemas" for p in ROOT.parents if (p / "shared" / "schemas").is_dir()),
               ROOT.parent / "shared" / "schemas")
CHART = ROOT / "charts" / "data-registry"
# The image tags the cluster deploys (values.yaml requires them); every rendering here starts from them.
IMAGE_VALUES = CHART / "values-images.yaml"
# Stand-in digests (the images workflow writes the real ones into values-images.yaml; the chart needs one).
DIGEST_VALUES = ROOT / "tests" / "cluster" / "values-test-digests.yaml"
IMAGE_ARGS = ("-f", str(IMAGE_VALUES), "-f", str(DIGEST_VALUES))
SAMPLE_UID = "6c1b3e0a-8d7f-4a52-9e63-2f4b1c0d9e71"
SAMPLE_GLOBALS = {
    "workflow.uid": SAMPLE_UID,
    "workflow.name": "data-pipelines-x7k2p",
    "workflow.namespace": "data-registry",
    "workflow.status": "Failed",
}


def strict(schema: Any) -> Any:
    """Copy of a schema where every object that lists properties rejects unknown ones; int-or-string fixed."""
    if isinstance(schema, list):
        return [strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: strict(v) for k, v in schema.items()}
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    if out.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out.pop("anyOf", None)
        out["type"] = ["integer", "string"]
    return out


@cache
def argo_schema() -> dict[str, Any]:
    schema = strict(json.loads((SCHEMAS / "argo-workflows.schema.json").read_text()))
    # Kubernetes IntOrString is declared as a plain string in Argo's schema; accept both.
    schema["definitions"]["io.k8s.apimachinery.pkg.util.intstr.IntOrString"] = {"type": ["integer", "string"]}
    return schema


def argo_validator(kind: str) -> Any:
    from jsonschema import Draft7Validator

    schema = copy.copy(argo_schema())
    schema.pop("oneOf", None)
    schema.pop("$schema", None)
    schema["$ref"] = f"#/definitions/io.argoproj.workflow.v1alpha1.{kind}"
    return Draft7Validator(schema)


@cache
def rayjob_schema() -> dict[str, Any]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    crd = yaml.load((SCHEMAS / "kuberay-rayjob.crd.yaml").read_text(), Loader=loader)
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    return strict(version["schema"]["openAPIV3Schema"])


def rayjob_validator() -> Any:
    from jsonschema import Draft7Validator

    return Draft7Validator(rayjob_schema())


def errors(validator: Any, doc: Any) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:300]}" for e in validator.iter_errors(doc)]


def helm_binary() -> str:
    """A real helm: on PATH, in .venv/bin, or installed there by scripts/install-helm.sh."""
    venv_helm = ROOT / ".venv" / "bin" / "helm"
    found = shutil.which("helm") or (str(venv_helm) if venv_helm.exists() else None)
    if not found:
        subprocess.run(["bash", str(ROOT / "scripts" / "install-helm.sh")], check=True, cwd=ROOT)
        found = str(venv_helm)
    return found


@cache
def _templated_argo_documents() -> dict[str, dict[str, Any]]:
    docs = helm_template(helm_binary())
    return {d["metadata"]["name"]: d for d in docs if d["apiVersion"] == "argoproj.io/v1alpha1"}


def load_rendered() -> dict[str, dict[str, Any]]:
    """The Argo documents that deploy: `helm template` of the chart (its committed generated/) with default values."""
    return copy.deepcopy(_templated_argo_documents())


def argo_scope(inputs: dict[str, str], extra: dict[str, str] | None = None) -> dict[str, str]:
    """The names a template's `{{...}}` tags see: sample globals, `extra`, and its input parameters."""
    return {**SAMPLE_GLOBALS, **(extra or {}), **{f"inputs.parameters.{k}": v for k, v in inputs.items()}}


def substitute(text: str, inputs: dict[str, str], extra: dict[str, str] | None = None) -> str:
    """Replace every `{{...}}` the way Argo would (the e2e player's interpreter), with sample globals and `inputs`."""
    return expressions.substitute(text, argo_scope(inputs, extra))


def templates_by_name(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in doc["spec"]["templates"]}


def defaults(doc: dict[str, Any]) -> dict[str, str]:
    return {p["name"]: p.get("value", "") for p in doc["spec"].get("arguments", {}).get("parameters", [])}


def task_inputs(
    task: dict[str, Any], scope: dict[str, str], extra: dict[str, str] | None = None
) -> dict[str, str]:
    """The input values a DAG task passes to its template, resolved in the DAG's scope."""
    return {
        p["name"]: substitute(str(p["value"]), scope, extra)
        for p in task.get("arguments", {}).get("parameters", [])
    }


def step_inputs(
    templates: dict[str, dict[str, Any]],
    task: dict[str, Any],
    scope: dict[str, str],
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """All inputs a task's template runs with: the task's arguments over the template's defaults.

    Defaults may read workflow parameters, which Argo resolves first; the entrypoint's inputs mirror
    the workflow parameters, so `scope` stands for both.
    """
    workflow = {f"workflow.parameters.{name}": value for name, value in scope.items()}
    declared = templates[task["template"]].get("inputs", {}).get("parameters", [])
    own = {p["name"]: substitute(str(p["default"]), {}, workflow) for p in declared if "default" in p}
    return {**own, **task_inputs(task, scope, extra)}


def helm_template(helm: str, *args: str) -> list[dict[str, Any]]:
    result = subprocess.run(
        [helm, "template", "data-registry", str(CHART), "--namespace", "data-registry", *IMAGE_ARGS, *args],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return [d for d in yaml.safe_load_all(result.stdout) if d]
