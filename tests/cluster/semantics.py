"""The checks an Argo controller makes when it accepts a template, done offline on the rendered YAML."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

TAG = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
REFERENCE = re.compile(
    r"(inputs\.parameters\.[\w-]+|workflow\.parameters\.[\w-]+|workflow\.\w+"
    r"|tasks\.[\w-]+\.outputs\.parameters\.[\w-]+|tasks\.[\w-]+\.\w+|steps\.[\w.-]+|item)"
)
GLOBALS = {
    "workflow.uid",
    "workflow.name",
    "workflow.namespace",
    "workflow.status",
    "workflow.serviceAccountName",
    "workflow.creationTimestamp",
    "workflow.duration",
    "workflow.failures",
}
ARGO_NAME = re.compile(r"^[a-zA-Z0-9][-a-zA-Z0-9]*$")
DEPENDS_WORDS = re.compile(
    r"[\w-]+(?:\.(?:Succeeded|Failed|Errored|Skipped|Omitted|Daemoned|AnySucceeded|AllFailed))?"
)


def strings(obj: Any) -> Iterator[str]:
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for value in obj.values():
            yield from strings(value)
    elif isinstance(obj, list):
        for value in obj:
            yield from strings(value)


def references(text: str) -> list[str]:
    """Every variable a string refers to, from plain tags and `{{=expression}}` tags alike."""
    found: list[str] = []
    for tag in TAG.findall(text):
        tag = tag.strip()
        if tag.startswith("="):
            found += REFERENCE.findall(tag)
        else:
            found.append(tag)
    return found


def depends_on(task: dict[str, Any]) -> set[str]:
    names = set(task.get("dependencies") or [])
    expression = task.get("depends") or ""
    for word in DEPENDS_WORDS.findall(expression):
        names.add(word.split(".")[0])
    return names


def ancestors(tasks: dict[str, dict[str, Any]], name: str) -> set[str]:
    seen: set[str] = set()
    stack = list(depends_on(tasks[name]) & tasks.keys())
    while stack:
        current = stack.pop()
        if current not in seen:
            seen.add(current)
            stack += list(depends_on(tasks[current]) & tasks.keys())
    return seen


def acyclic(tasks: dict[str, dict[str, Any]]) -> bool:
    remaining = {name: depends_on(task) & tasks.keys() for name, task in tasks.items()}
    while remaining:
        ready = [name for name, deps in remaining.items() if not deps]
        if not ready:
            return False
        for name in ready:
            del remaining[name]
        for deps in remaining.values():
            deps.difference_update(ready)
    return True


def param_names(params: list[dict[str, Any]] | None) -> set[str]:
    return {p["name"] for p in params or []}


def enum_problems(where: str, params: list[dict[str, Any]] | None) -> list[str]:
    problems = []
    for p in params or []:
        if "enum" in p:
            for field in ("value", "default"):
                if field in p and p[field] not in p["enum"]:
                    problems.append(f"{where}: parameter {p['name']} {field} {p[field]!r} not in {p['enum']}")
    return problems


def check_workflow_spec(name: str, spec: dict[str, Any]) -> list[str]:
    """Problems in one Workflow/WorkflowTemplate spec; empty when a controller would accept it."""
    problems: list[str] = []
    templates = {t["name"]: t for t in spec.get("templates", [])}
    global_params = param_names(spec.get("arguments", {}).get("parameters"))
    problems += enum_problems(f"{name}.arguments", spec.get("arguments", {}).get("parameters"))
    for field in ("entrypoint", "onExit"):
        if spec.get(field) and spec[field] not in templates:
            problems.append(f"{name}: {field} {spec[field]!r} is not a template")
    entry = templates.get(spec.get("entrypoint", ""))
    if entry:
        for p in entry.get("inputs", {}).get("parameters", []):
            if "default" not in p and "value" not in p and p["name"] not in global_params:
                problems.append(
                    f"{name}: entrypoint input {p['name']} has no default and no workflow argument"
                )
    for tname, template in templates.items():
        where = f"{name}/{tname}"
        bad_names = [
            n
            for n in (tname, *(t["name"] for t in template.get("dag", {}).get("tasks", [])))
            if not ARGO_NAME.match(n)
        ]
        if bad_names:
            problems.append(f"{where}: invalid template/task name(s) {bad_names}")
        inputs = param_names(template.get("inputs", {}).get("parameters"))
        problems += enum_problems(where, template.get("inputs", {}).get("parameters"))
        tasks = {t["name"]: t for t in template.get("dag", {}).get("tasks", [])}
        if tasks and not acyclic(tasks):
            problems.append(f"{where}: DAG has a cycle")
        body = {k: v for k, v in template.items() if k != "dag"}
        for text in strings(body):
            problems += check_refs(where, references(text), inputs, global_params, {}, None, allow_item=False)
        for task in tasks.values():
            twhere = f"{where}.{task['name']}"
            missing = depends_on(task) - tasks.keys()
            if missing:
                problems.append(f"{twhere}: depends on unknown task(s) {sorted(missing)}")
            target = templates.get(task.get("template", ""))
            if target is None:
                problems.append(f"{twhere}: template {task.get('template')!r} does not exist")
                continue
            given = param_names(task.get("arguments", {}).get("parameters"))
            declared = target.get("inputs", {}).get("parameters", [])
            unknown = given - param_names(declared)
            if unknown:
                problems.append(f"{twhere}: passes undeclared input(s) {sorted(unknown)}")
            for p in declared:
                if p["name"] not in given and "default" not in p and "value" not in p:
                    problems.append(f"{twhere}: input {p['name']} of {target['name']} is not supplied")
            item = "withParam" in task or "withItems" in task
            for text in strings({k: v for k, v in task.items() if k != "name"}):
                problems += check_refs(
                    twhere, references(text), inputs, global_params, tasks, task, allow_item=item
                )
    return problems


def check_refs(
    where: str,
    refs: list[str],
    inputs: set[str],
    global_params: set[str],
    tasks: dict[str, dict[str, Any]],
    task: dict[str, Any] | None,
    allow_item: bool,
) -> list[str]:
    problems = []
    for ref in refs:
        if ref.startswith("inputs.parameters."):
            ok = ref.removeprefix("inputs.parameters.") in inputs
        elif ref.startswith("workflow.parameters."):
            ok = ref.removeprefix("workflow.parameters.") in global_params
        elif ref.startswith("tasks."):
            producer = ref.split(".")[1]
            ok = task is not None and producer in ancestors(tasks, task["name"])
        elif ref == "item":
            ok = allow_item
        else:
            ok = ref in GLOBALS
        if not ok:
            problems.append(f"{where}: unresolved reference {{{{{ref}}}}}")
    return problems


def check_task_outputs(name: str, spec: dict[str, Any]) -> list[str]:
    """`{{tasks.T.outputs.parameters.P}}`: T's template must declare output P."""
    templates = {t["name"]: t for t in spec.get("templates", [])}
    problems = []
    for template in templates.values():
        tasks = {t["name"]: t for t in template.get("dag", {}).get("tasks", [])}
        for task in tasks.values():
            for ref in (r for text in strings(task) for r in references(text)):
                parts = ref.split(".")
                if (
                    ref.startswith("tasks.")
                    and len(parts) == 5
                    and parts[2] == "outputs"
                    and parts[1] in tasks
                ):
                    producer = templates.get(tasks[parts[1]].get("template", ""), {})
                    if parts[4] not in param_names(producer.get("outputs", {}).get("parameters")):
                        problems.append(
                            f"{name}/{template['name']}.{task['name']}: {parts[1]} has no output {parts[4]}"
                        )
    return problems


def check_all(docs: dict[str, dict[str, Any]]) -> list[str]:
    """Every check, plus cross-document references (CronWorkflow → template, fan-out → dataset templates)."""
    problems: list[str] = []
    names = {d["metadata"]["name"]: d for d in docs.values() if d["kind"] == "WorkflowTemplate"}
    for doc in docs.values():
        name = doc["metadata"]["name"]
        if doc["kind"] == "WorkflowTemplate":
            problems += check_workflow_spec(name, doc["spec"])
            problems += check_task_outputs(name, doc["spec"])
        elif doc["kind"] == "CronWorkflow":
            spec = doc["spec"]["workflowSpec"]
            ref = spec.get("workflowTemplateRef", {}).get("name")
            target = names.get(ref)
            if target is None:
                problems.append(f"{name}: workflowTemplateRef {ref!r} does not exist")
                continue
            declared = {p["name"]: p for p in target["spec"].get("arguments", {}).get("parameters", [])}
            for p in spec.get("arguments", {}).get("parameters", []):
                if p["name"] not in declared:
                    problems.append(f"{name}: argument {p['name']} is not a parameter of {ref}")
                elif "enum" in declared[p["name"]] and p["value"] not in declared[p["name"]]["enum"]:
                    problems.append(f"{name}: argument {p['name']}={p['value']!r} not in {ref}'s enum")
    return problems
