"""Play a rendered WorkflowTemplate (or what a CronWorkflow submits) the way Argo would, with docker for the pods.

Generic over the YAML: arguments over the template's defaults, inputs and `{{...}}` tags resolved per task,
DAG tasks in dependency order (`depends`/`dependencies`), `when` (govaluate: `-` is a minus), `withParam` /
`withItems` fan-outs, `retryStrategy`, output parameters (files) and `outputs.result` less one trailing newline,
`podSpecPatch` (a container name the pod lacks is refused, as Kubernetes would), resource templates (RayJobs
through `kuberay.py`, Workflows played again by this player) with their success/failure conditions checked at
every status the object goes through, and `onExit` with `workflow.status`. Tasks run one at a time (Argo may
run ready tasks in parallel).
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.e2e.containers import Cluster, PodError, run_container
from tests.e2e.expressions import (
    ExpressionError,
    depends,
    resource_condition,
    substitute,
    substitute_obj,
    when,
)

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
    name: str = ""  # a created Workflow's own name; else `<template>-<uid>`
    nodes: list[Node] = field(default_factory=list)
    phase: str = ""

    def __post_init__(self) -> None:
        self.templates = {t["name"]: t for t in self.doc["spec"]["templates"]}
        self.name = self.name or f"{self.doc['metadata']['name']}-{self.uid[:5]}"
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
        self.phase = status
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
            if "when" in task:
                condition = substitute(task["when"], scope)
                try:
                    runs = when(condition)
                except ExpressionError as exc:  # Argo errors the node: "Invalid 'when' expression"
                    phases[name] = "Errored"
                    self.nodes.append(Node(f"{node}/{name}", "Errored", message=str(exc)))
                    self.report(f"{node}/{name}", "errored", 0.0, str(exc))
                    continue
                if not runs:
                    phases[name] = "Skipped"
                    self.report(f"{node}/{name}", "skipped", 0.0, f"when {condition}")
                    continue
            items = self.items_of(task, scope)
            if items is None:
                phases[name] = self.task(f"{node}/{name}", name, task, scope, outputs)
                continue
            # withParam / withItems: one child per item, named as Argo names them; the task fails if any child does
            children = [
                self.task(f"{node}/{name}({i}:{item_label(item)})", name, task, {**scope, **item_scope(item)}, {})
                for i, item in enumerate(items)
            ]
            phases[name] = "Failed" if any(c in ("Failed", "Errored") for c in children) else "Succeeded"
            outputs[f"tasks.{name}.status"] = phases[name]
        failed = [n for n, p in phases.items() if p in ("Failed", "Errored") and not self.handled(n, tasks)]
        return "Failed" if failed else "Succeeded"

    def task(self, node: str, name: str, task: dict[str, Any], scope: dict[str, str], outputs: dict[str, str]) -> str:
        """One DAG task (or one item of a fan-out): its template with the task's arguments; its phase."""
        given = {
            p["name"]: substitute(str(p.get("value", "")), scope)
            for p in task.get("arguments", {}).get("parameters", [])
        }
        child_inputs = self.inputs_of(task["template"], given)
        child = self.templates[task["template"]]
        if "dag" in child:
            return self.dag(node, child, child_inputs)
        result = self.leaf(node, child, child_inputs)
        for key, value in result.outputs.items():
            outputs[f"tasks.{name}.outputs.{key}"] = value
        outputs[f"tasks.{name}.status"] = result.phase
        return result.phase

    @staticmethod
    def items_of(task: dict[str, Any], scope: dict[str, str]) -> list[Any] | None:
        """The items of a `withParam` (a JSON list after substitution) or `withItems` task; None for a plain task."""
        if "withItems" in task:
            return list(task["withItems"])
        if "withParam" not in task:
            return None
        text = substitute(task["withParam"], scope)
        try:
            items = json.loads(text)
        except json.JSONDecodeError:
            raise WorkflowError(f"withParam value could not be parsed as a JSON list: {text!r}") from None
        if not isinstance(items, list):
            raise WorkflowError(f"withParam value is not a JSON list: {text!r}")
        return items

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
            container = patch_container(container, json.loads(substitute(spec["podSpecPatch"], scope)))
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
                outputs[key] = outputs[key].removesuffix("\n")  # Argo trims one trailing newline, nothing else
        outputs["result"] = finished.stdout.removesuffix("\n")
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
        if action not in ("create", "get"):
            raise WorkflowError(f"{node}: resource action {action!r} is not supported by this player")
        failure, success = res.get("failureCondition"), res.get("successCondition")
        try:
            states = (self.resources.create(manifest, node.replace("/", "-")) if action == "create"
                      else self.resources.get(manifest))
        except PodError as exc:
            return Node(node, "Failed", message=str(exc))
        obj: dict[str, Any] = {}
        done = False
        try:
            for obj in states:  # Argo's executor checks both conditions at each poll of the object
                if failure and resource_condition(failure, obj, any_of=True):
                    return Node(node, "Failed", message=f"failureCondition met: {failure} "
                                f"(status {brief(obj)})")
                if not success or resource_condition(success, obj):
                    done = True
                    break  # without conditions Argo does not wait: the object as created
            else:
                return Node(node, "Failed", message=f"last status {brief(obj)} meets neither successCondition "
                            "nor failureCondition: Argo would keep waiting (until activeDeadlineSeconds)")
        finally:
            close = getattr(states, "close", None)
            if close and not done:  # a met condition leaves the object live: a later `get` reads on
                close()
        outputs = {}
        for p in spec.get("outputs", {}).get("parameters", []):
            path = p.get("valueFrom", {}).get("jsonPath", "")
            value: Any = obj
            for part in path.strip("{}").strip(".").split("."):
                value = value.get(part, "") if isinstance(value, dict) else ""
            outputs[f"parameters.{p['name']}"] = str(value)
        return Node(node, "Succeeded", outputs)


def item_scope(item: Any) -> dict[str, str]:
    """`{{item}}` (and `{{item.key}}` for a map item) as Argo resolves them: strings as-is, the rest as JSON."""
    scope = {"item": item_text(item)}
    if isinstance(item, dict):
        scope.update({f"item.{k}": item_text(v) for k, v in item.items()})
    return scope


def item_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def item_label(item: Any) -> str:
    return item if isinstance(item, str) else json.dumps(item, separators=(",", ":"))


def patch_container(container: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """A podSpecPatch (strategic merge: containers by name, maps key by key) applied to the pod's one container.
    A container name the pod lacks would be added without an image: Kubernetes refuses the pod (PodError)."""
    out = dict(container)
    for patched in patch.get("containers", []):
        if patched.get("name") != container["name"]:
            raise PodError(
                f"podSpecPatch names container {patched.get('name')!r}, the pod has only {container['name']!r}: "
                f"Kubernetes would add it without an image and refuse the pod (spec.containers: image required)"
            )
        for key, value in patched.items():
            if isinstance(value, dict) and isinstance(out.get(key), dict):
                out[key] = {**out[key], **{k: {**out[key].get(k, {}), **v} if isinstance(v, dict) else v
                                           for k, v in value.items()}}
            else:
                out[key] = value
    return out


def brief(obj: dict[str, Any]) -> dict[str, Any]:
    """The status fields a resource condition reads (phase, the RayJob's two statuses, reason, message)."""
    keep = ("phase", "jobStatus", "jobDeploymentStatus", "reason", "message")
    return {k: v for k, v in obj.get("status", {}).items() if k in keep}


@dataclass
class Resources:
    """The cluster's API as resource templates meet it: a handler per kind (`create` → the statuses the object
    goes through, `delete`)."""

    handlers: dict[str, Any]

    def handler(self, manifest: dict[str, Any]) -> Any:
        kind = manifest.get("kind")
        if kind not in self.handlers:
            raise PodError(f"resource kind {kind!r} is not supported by this player ({sorted(self.handlers)})")
        return self.handlers[kind]

    live: dict[tuple[str, str], Iterator[dict[str, Any]]] = field(default_factory=dict)

    def create(self, manifest: dict[str, Any], node: str) -> Iterator[dict[str, Any]]:
        states = iter(self.handler(manifest).create(manifest, node))
        self.live[key_of(manifest)] = states
        return states

    def get(self, manifest: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """The statuses of an object created earlier, from where its last reader stopped (`action: get`)."""
        self.handler(manifest)
        if key_of(manifest) not in self.live:
            raise PodError(f"{manifest.get('kind')} {key_of(manifest)[1]!r} not found")
        return self.live[key_of(manifest)]

    def delete(self, manifest: dict[str, Any]) -> None:
        self.live.pop(key_of(manifest), None)
        self.handler(manifest).delete(manifest)


def key_of(manifest: dict[str, Any]) -> tuple[str, str]:
    meta = manifest.get("metadata", {})
    return str(manifest.get("kind")), str(meta.get("name") or meta.get("generateName"))


Play = Callable[[dict[str, Any], dict[str, str], str], "Workflow"]


@dataclass
class ChildWorkflows:
    """Workflows that a resource template creates (the fan-out): each one's workflowTemplateRef played by `play`
    (doc, arguments, name) to its end; statuses Pending → Running → Succeeded / Failed / Error."""

    templates: dict[str, dict[str, Any]]
    play: Play
    played: list[Workflow] = field(default_factory=list)

    def create(self, manifest: dict[str, Any], node: str) -> Iterator[dict[str, Any]]:
        meta = manifest.get("metadata", {})
        name = meta.get("name") or f"{meta.get('generateName', 'workflow-')}{uuid.uuid4().hex[:5]}"
        obj = {**manifest, "metadata": {**meta, "name": name}}
        yield {**obj, "status": {"phase": "Pending"}}
        ref = manifest.get("spec", {}).get("workflowTemplateRef", {}).get("name")
        if ref not in self.templates:
            yield {**obj, "status": {"phase": "Error", "message": f'workflowtemplates.argoproj.io "{ref}" not found'}}
            return
        arguments = {
            p["name"]: str(p.get("value", ""))
            for p in manifest.get("spec", {}).get("arguments", {}).get("parameters", [])
        }
        yield {**obj, "status": {"phase": "Running"}}
        try:
            child = self.play(self.templates[ref], arguments, name)
        except (WorkflowError, ExpressionError) as exc:  # what Argo's validation refuses: the workflow errors
            yield {**obj, "status": {"phase": "Error", "message": str(exc)}}
            return
        self.played.append(child)
        yield {**obj, "status": {"phase": child.phase}}

    def delete(self, manifest: dict[str, Any]) -> None:
        pass


CRON_FIELDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))  # minute hour day-of-month month day-of-week
CRON_NAMES = {3: "JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC", 4: "SUN MON TUE WED THU FRI SAT"}
CRON_DESCRIPTORS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")


def cron_error(schedule: str) -> str | None:
    """Why a schedule is not a standard 5-field cron expression (or descriptor) as Argo's parser reads it."""
    if schedule in CRON_DESCRIPTORS or re.fullmatch(r"@every \d+(\.\d+)?(ns|us|ms|s|m|h)+", schedule):
        return None
    fields = schedule.split()
    if len(fields) != 5:
        return f"expected exactly 5 fields, found {len(fields)}: {schedule!r}"
    for i, (text, (low, high)) in enumerate(zip(fields, CRON_FIELDS, strict=True)):
        names = CRON_NAMES.get(i, "").split()
        for part in text.split(","):
            m = re.fullmatch(r"(\*|\?|(\w+)(?:-(\w+))?)(?:/(\d+))?", part)
            if not m:
                return f"field {text!r} of {schedule!r} is not a cron field"
            for bound in (m.group(2), m.group(3)):
                if bound is None:
                    continue
                value = names.index(bound.upper()) + (1 if i == 3 else 0) if bound.upper() in names else bound
                if not str(value).isdigit() or not low <= int(value) <= high:
                    return f"{bound!r} in {schedule!r} is outside {low}-{high}"
    return None


def cron_submission(
    cron: dict[str, Any], templates: dict[str, dict[str, Any]],
) -> tuple[dict[str, Any], dict[str, str]]:
    """What a CronWorkflow submits when its schedule fires: the WorkflowTemplate (or inline spec) and the
    arguments of its workflowSpec, after the checks Argo's validation makes (schedules, timezone, policy)."""
    import zoneinfo

    spec = cron["spec"]
    schedules = spec.get("schedules") or ([spec["schedule"]] if spec.get("schedule") else [])
    if not schedules:
        raise WorkflowError(f"CronWorkflow {cron['metadata']['name']}: no schedule")
    for schedule in schedules:
        problem = cron_error(str(schedule))
        if problem:
            raise WorkflowError(f"CronWorkflow {cron['metadata']['name']}: invalid schedule: {problem}")
    try:
        if spec.get("timezone"):
            zoneinfo.ZoneInfo(spec["timezone"])
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise WorkflowError(f"CronWorkflow {cron['metadata']['name']}: unknown timezone {spec['timezone']!r}") from None
    if spec.get("concurrencyPolicy", "Allow") not in ("Allow", "Forbid", "Replace"):
        raise WorkflowError(f"concurrencyPolicy {spec['concurrencyPolicy']!r} is not Allow, Forbid or Replace")
    if int(spec.get("startingDeadlineSeconds", 0)) < 0:
        raise WorkflowError("startingDeadlineSeconds must not be negative")
    workflow = spec["workflowSpec"]
    arguments = {p["name"]: str(p.get("value", "")) for p in workflow.get("arguments", {}).get("parameters", [])}
    ref = workflow.get("workflowTemplateRef", {}).get("name")
    if ref is None:
        return {"metadata": cron["metadata"], "spec": workflow}, {}
    if ref not in templates:
        raise WorkflowError(f'CronWorkflow {cron["metadata"]["name"]}: workflowtemplates.argoproj.io "{ref}" not found')
    return templates[ref], arguments
