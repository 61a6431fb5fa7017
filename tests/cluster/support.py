"""Loaders and helpers for the cluster tests: rendered manifests, strict schemas, Argo-style substitution."""

from __future__ import annotations

import copy
import json
import re
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]

SCHEMAS = ROOT.parent / "shared" / "schemas"
CHART = ROOT / "charts" / "data-registry"
SAMPLE_UID = "6c1b3e0a-8d7f-4a52-9e63-2f4b1c0d9e71"
SAMPLE_GLOBALS = {
    "workflow.uid": SAMPLE_UID,
    "workflow.name": "data-pipelines-x7k2p",
    "workflow.namespace": "data-registry",
    "workflow.status": "Failed",
}
TAG = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)


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


def load_rendered() -> dict[str, dict[str, Any]]:
    return {
        p.stem: yaml.safe_load(p.read_text())
        for p in sorted((ROOT / "workflows" / "rendered").glob("*.yaml"))
    }


def evaluate(expression: str, inputs: dict[str, str]) -> str:
    """Evaluate the two Argo expression forms the templates use: `{...}[param]` and `a == 'b' ? 'x' : 'y'`."""
    python = re.sub(r"inputs\.parameters\.(\w+)", r'P["\1"]', expression.strip())
    ternary = re.fullmatch(r"(.+?) \? (.+?) : (.+)", python)
    if ternary:
        python = f"({ternary.group(2)}) if ({ternary.group(1)}) else ({ternary.group(3)})"
    return str(eval(python, {"__builtins__": {}}, {"P": inputs}))


def substitute(text: str, inputs: dict[str, str], extra: dict[str, str] | None = None) -> str:
    """Replace every `{{...}}` the way Argo would, with sample values for globals and the given inputs."""
    values = {**SAMPLE_GLOBALS, **(extra or {})}

    def one(match: re.Match[str]) -> str:
        tag = match.group(1).strip()
        if tag.startswith("="):
            return evaluate(tag[1:], inputs)
        if tag.startswith("inputs.parameters."):
            return inputs[tag.removeprefix("inputs.parameters.")]
        return values[tag]

    return TAG.sub(one, text)


def substitute_obj(obj: Any, inputs: dict[str, str], extra: dict[str, str] | None = None) -> Any:
    if isinstance(obj, str):
        return substitute(obj, inputs, extra)
    if isinstance(obj, dict):
        return {k: substitute_obj(v, inputs, extra) for k, v in obj.items()}
    if isinstance(obj, list):
        return [substitute_obj(v, inputs, extra) for v in obj]
    return obj


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


def helm_template(helm: str, *args: str) -> list[dict[str, Any]]:
    result = subprocess.run(
        [helm, "template", "data-registry", str(CHART), "--namespace", "data-registry", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return [d for d in yaml.safe_load_all(result.stdout) if d]
