"""Play a rendered WorkflowTemplate the way Argo would, with docker for the pods.

Generic over the YAML: arguments over the template's defaults, inputs and `{{...}}` tags resolved per task,
DAG tasks in dependency order (`depends`/`dependencies`), `when`, `retryStrategy`, output parameters (files)
and `outputs.result`, resource templates (the RayJob, through `kuberay.py`) with their success/failure
conditions, and `onExit` with `workflow.status`. Tasks run one at a time (Argo may run ready tasks in parallel).
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.e2e.containers import Cluster, PodError, run_container
from tests.e2e.expressions import depends, resource_condition, substitute, substitute_obj, when

Report = Callable[[str, str, float, str], None]
DURATION = re.compile(r"^(\d+(?:\.\d+)?)(s|m|h)?$")


def seconds(value: Any) -> float:
    m = DURATION.match(str(value))
    if not m:
        raise ValueError(f"not a duration: {value!r}")
    return float(m.group(1)) * {None: 1, "s": 1, "m": 60, "h": 3600}[m.group(2)]


class WorkflowError(RuntimeError):
    """The workflow cannot be interpreted (a template this player does not know, an unresolved tag)."""


@dataclass
class Node:
    """One executed task: its phase, outputs and the log of its last try."""

    name: str
    phase: str
    outputs: dict[str, str] = field(default_factory=dict)
    message: str = ""
    tries: int = 0
    log: Path | None = None


@dataclass
class Workflow:
    """A WorkflowTemplate with the arguments of one submission, run against `cluster`."""

    doc: dict[str, Any]
    arguments: dict[str, str]
    cluster: Cluster
    resources: Any  # handles resource templates: create(manifest, name) -> dict, delete(manifest) -> None
    report: Report
    backoff_scale: float = 1.0
    uid: str = field(default_factory=lambda: str(uuid.uuid4()))
    nodes: list[Node] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.templates = {t["name"]: t for t in self.doc["spec"]["templates"]}
        self.name = f"{self.doc['metadata']['name']}-{self.uid[:5]}"
        declared = {
            p["name"]: str(p.get("value", ""))
            for p in self.doc["spec"].get("arguments", {}).get("parameters", [])
        }
        unknown = set(self.arguments) - set(declared)
        if unknown:
            raise WorkflowError(f"unknown workflow arguments {sorted(unknown)}")
        self.parameters = {**declared, **self.arguments}
        for p in self.doc["spec"].get("arguments", {}).get("parameters", []):
            if "enum" in p and self.parameters[p["name"]] not in [str(v) for v in p["enum"]]:
                raise WorkflowError(f"{p['name']}={self.parameters[p['name']]!r} is not one of {p['enum']}")
        self.globals = {
            "workflow.uid": self.uid,
            "workflow.name": self.name,
            "workflow.namespace": self.doc["metadata"].get("namespace", "default"),
            "workflow.serviceAccountName": self.doc["spec"].get("serviceAccountName", ""),
            **{f"workflow.parameters.{k}": v for k, v in self.parameters.items()},
        }

    # -- the whole run -------------------------------------------------------------------------------------------

    def run(self) -> str:
        """Run the entrypoint, then the exit handler; the workflow's phase (Succeeded / Failed)."""
        entry = self.doc["spec"]["entrypoint"]
        root = self.doc["metadata"]["name"]
        phase = self.execute(root, entry, self.entry_inputs(entry))
        status = "Succeeded" if phase == "Succeeded" else "Failed"
        if self.doc["spec"].get("onExit"):
            self.globals["workflow.status"] = status
            self.globals["workflow.failures"] = json.dumps(
                [
                    {"displayName": n.name, "message": n.message, "phase": n.phase}
                    for n in self.nodes
                    if n.phase in ("Failed", "Errored")
                ]
            )
            exit_template = self.doc["spec"]["onExit"]
            self.execute(f"{root}/onExit", exit_template, self.inputs_of(exit_template, {}))
        return status

    def entry_inputs(self, template: str) -> dict[str, str]:
        """The entrypoint's inputs: workflow arguments of the same name, else the declared defaults."""
        declared = self.templates[template].get("inputs", {}).get("parameters", [])
        given = {p["name"]: self.parameters[p["name"]] for p in declared if p["name"] in self.parameters}
        return self.inputs_of(template, given)

    def inputs_of(self, template: str, given: dict[str, str]) -> dict[str, str]:
        """A template's input values: `given`, else its defaults (resolved against the workflow's globals)."""
        out = {}
        for p in self.templates[template].get("inputs", {}).get("parameters", []):
            if p["name"] in given:
                value = given[p["name"]]
            elif "default" in p:
                value = substitute(str(p["default"]), self.globals)
            elif "value" in p:
                value = substitute(str(p["value"]), self.globals)
            else:
                raise WorkflowError(f"template {template}: input {p['name']!r} has no value")
            if "enum" in p and value not in [str(v) for v in p["enum"]]:
                raise WorkflowError(f"template {template}: {p['name']}={value!r} is not one of {p['enum']}")
            out[p["name"]] = value
        return out

    def scope(self, inputs: dict[str, str], extra: dict[str, str] | None = None) -> dict[str, str]:
        return {**self.globals, **{f"inputs.parameters.{k}": v for k, v in inputs.items()}, **(extra or {})}

    # -- templates -----------------------------------------------------------------------------------------------

    def execute(self, node: str, template: str, inputs: dict[str, str]) -> str:
        """Run a template (DAG, container or resource); its phase."""
        spec = self.templates.get(template)
        if spec is None:
            raise WorkflowError(f"no template {template!r}")
        if "dag" in spec:
            return self.dag(node, spec, inputs)
        if "steps" in spec:
            raise WorkflowError(f"template {template}: `steps` templates are not supported by this player")
        return self.leaf(node, spec, inputs).phase

    def dag(self, node: str, spec: dict[str, Any], inputs: dict[str, str]) -> str:
        tasks = {t["name"]: t for t in spec["dag"]["tasks"]}
        phases: dict[str, str] = {}
        outputs: dict[str, str] = {}
        pending = list(tasks)
        while pending:
            ready = [n for n in pending if all(d in phases for d in self.deps_of(tasks[n]))]
            if not ready:
                raise WorkflowError(f"{node}: dependency cycle or unknown task among {pending}")
            name = ready[0]
            pending.remove(name)
            task = tasks[name]
            scope = self.scope(inputs, outputs)
            if not self.runs_after(task, phases):
                phases[name] = "Omitted"
                self.report(f"{node}/{name}", "omitted", 0.0, "")
                continue
            if "when" in task and not when(substitute(task["when"], scope)):
                phases[name] = "Skipped"
                self.report(f"{node}/{name}", "skipped", 0.0, f"when {substitute(task['when'], scope)}")
                continue
            given = {
                p["name"]: substitute(str(p.get("value", "")), scope)
                for p in task.get("arguments", {}).get("parameters", [])
            }
            child_inputs = self.inputs_of(task["template"], given)
            child = self.templates[task["template"]]
            if "dag" in child:
                phases[name] = self.dag(f"{node}/{name}", child, child_inputs)
                continue
            result = self.leaf(f"{node}/{name}", child, child_inputs)
            phases[name] = result.phase
            for key, value in result.outputs.items():
                outputs[f"tasks.{name}.outputs.{key}"] = value
            outputs[f"tasks.{name}.status"] = result.phase
        failed = [n for n, p in phases.items() if p in ("Failed", "Errored") and not self.handled(n, tasks)]
        return "Failed" if failed else "Succeeded"

    @staticmethod
    def deps_of(task: dict[str, Any]) -> list[str]:
        if "depends" in task:
            return sorted(set(re.findall(r"([A-Za-z0-9_-]+)(?:\.\w+)?", task["depends"])))
        return list(task.get("dependencies", []))

    def runs_after(self, task: dict[str, Any], phases: dict[str, str]) -> bool:
        if "depends" in task:
            return depends(task["depends"], phases)
        return all(phases[d] in ("Succeeded", "Skipped") for d in task.get("dependencies", []))

    @staticmethod
    def handled(name: str, tasks: dict[str, dict[str, Any]]) -> bool:
        """A failure that another task's `depends` waits for (`x.Failed`), or that `continueOn` tolerates."""
        if tasks[name].get("continueOn", {}).get("failed"):
            return True
        return any(
            re.search(rf"\b{re.escape(name)}\.(Failed|Errored|AllFailed)", t.get("depends", ""))
            for t in tasks.values()
        )

    def leaf(self, node: str, spec: dict[str, Any], inputs: dict[str, str]) -> Node:
        """A container or resource template, with its retryStrategy."""
        retry = spec.get("retryStrategy", {})
        limit = int(retry.get("limit", 0))
        policy = retry.get("retryPolicy", "OnFailure")
        backoff = retry.get("backoff", {})
        delay = seconds(backoff.get("duration", 0))
        started = time.monotonic()
        result = Node(node, "Errored")
        for attempt in range(limit + 1):
            t0 = time.monotonic()
            try:
                result = self.attempt(node, spec, inputs)
            except PodError as exc:
                result = Node(node, "Errored", message=str(exc))
            result.tries = attempt + 1
            note = f"try {attempt + 1}/{limit + 1}" if limit else ""
            self.report(
                node,
                "ok" if result.phase == "Succeeded" else result.phase.lower(),
                time.monotonic() - t0,
                " ".join(x for x in (note, result.message) if x),
            )
            if result.phase == "Succeeded":
                break
            retryable = {
                "Always": True,
                "OnFailure": result.phase == "Failed",
                "OnError": result.phase == "Errored",
                "OnTransientError": False,
            }.get(policy, False)
            if not retryable or attempt == limit:
                break
            if "maxDuration" in backoff and time.monotonic() - started > seconds(backoff["maxDuration"]):
                break
            time.sleep(delay * self.backoff_scale)
            delay *= float(backoff.get("factor", 1))
        self.nodes.append(result)
        return result

    def attempt(self, node: str, spec: dict[str, Any], inputs: dict[str, str]) -> Node:
        scope = self.scope(inputs)
        if "resource" in spec:
            return self.resource(node, spec, scope)
        if "container" not in spec and "script" not in spec:
            raise WorkflowError(f"{node}: template kind {sorted(spec)} is not supported by this player")
        container = dict(substitute_obj(spec.get("container") or spec["script"], scope))
        container.setdefault("name", "main")
        if "script" in spec:
            raise WorkflowError(f"{node}: script templates are not supported by this player")
        if spec.get("podSpecPatch"):
            patch = json.loads(substitute(spec["podSpecPatch"], scope))
            for patched in patch.get("containers", []):
                if patched.get("name") == container["name"] and "resources" in patched:
                    container["resources"] = patched["resources"]
        pod_security = {**self.doc["spec"].get("securityContext", {}), **spec.get("securityContext", {})}
        files = {
            f"parameters.{p['name']}": p["valueFrom"]["path"]
            for p in spec.get("outputs", {}).get("parameters", [])
            if "path" in p.get("valueFrom", {})
        }
        deadline = spec.get("activeDeadlineSeconds")
        volumes = [*self.doc["spec"].get("volumes", []), *spec.get("volumes", [])]
        finished = run_container(
            self.cluster,
            node.replace("/", "-"),
            container,
            pod_security,
            files,
            seconds(deadline) if deadline else None,
            volumes,
        )
        outputs = dict(finished.outputs)
        for p in spec.get("outputs", {}).get("parameters", []):
            key = f"parameters.{p['name']}"
            if key not in outputs:
                if "default" in p.get("valueFrom", {}):
                    outputs[key] = str(p["valueFrom"]["default"])
                elif finished.exit_code == 0:
                    return Node(node, "Errored", message=f"output {p['name']} missing", log=finished.log)
            else:
                outputs[key] = outputs[key].strip()
        outputs["result"] = finished.stdout.strip()
        if finished.exit_code != 0:
            tail = " | ".join(finished.log.read_text().strip().splitlines()[-3:])
            return Node(
                node, "Failed", outputs, f"exit {finished.exit_code}: {tail[-400:]}", log=finished.log
            )
        return Node(node, "Succeeded", outputs, log=finished.log)

    def resource(self, node: str, spec: dict[str, Any], scope: dict[str, str]) -> Node:
        res = spec["resource"]
        manifest = yaml.safe_load(substitute(res["manifest"], scope))
        action = res["action"]
        if action == "delete":
            self.resources.delete(manifest)
            return Node(node, "Succeeded")
        if action != "create":
            raise WorkflowError(f"{node}: resource action {action!r} is not supported by this player")
        obj = self.resources.create(manifest, node.replace("/", "-"))
        if res.get("failureCondition") and resource_condition(res["failureCondition"], obj, any_of=True):
            message = obj.get("status", {}).get("message", "")
            return Node(
                node, "Failed", message=f"failureCondition met: {res['failureCondition']} {message}".strip()
            )
        if res.get("successCondition") and not resource_condition(res["successCondition"], obj):
            status = {
                k: v
                for k, v in obj.get("status", {}).items()
                if k in ("jobStatus", "jobDeploymentStatus", "message")
            }
            return Node(
                node,
                "Failed",
                message=f"final status {status} meets neither successCondition nor "
                "failureCondition: Argo would keep waiting (until activeDeadlineSeconds)",
            )
        outputs = {}
        for p in spec.get("outputs", {}).get("parameters", []):
            path = p.get("valueFrom", {}).get("jsonPath", "")
            value: Any = obj
            for part in path.strip("{}").strip(".").split("."):
                value = value.get(part, "") if isinstance(value, dict) else ""
            outputs[f"parameters.{p['name']}"] = str(value)
        return Node(node, "Succeeded", outputs)
