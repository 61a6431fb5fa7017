"""Every `dreg` command line in the rendered YAML parses through the real CLI, so YAML and CLI cannot drift."""

from __future__ import annotations

import shlex
from typing import Any

import pytest
import typer
import yaml

from tests.cluster.support import defaults, load_rendered, step_inputs, substitute, templates_by_name
from workflows.gitssh import PUBLISH_SCRIPT
from workflows.pipeline import task_name
from workflows.profiles import PIPELINES, PROFILES

DOCS = load_rendered()
# `dreg ARGS`, or (publish) the script that readies the write key and ends in `exec dreg "$@"`.
DREG_COMMANDS = (["dreg"], ["sh", "-c", PUBLISH_SCRIPT, "publish"])
COMMIT = {
    "tasks.checkout.outputs.parameters.commit": "0123456789abcdef0123456789abcdef01234567",
    "tasks.check-embed.outputs.parameters.run": "true",
}


def parse(args: list[str]) -> tuple[list[str], dict[str, Any]]:
    """Parse `dreg ARGS` with the real Typer app; return the command path and the leaf's parameters."""
    from steps.cli import app

    command: Any = typer.main.get_command(app)
    ctx = command.make_context("dreg", list(args), resilient_parsing=False)
    path = []
    while hasattr(command, "resolve_command"):
        rest = [*getattr(ctx, "_protected_args", []), *ctx.args]
        name, command, rest = command.resolve_command(ctx, rest)
        assert command is not None, f"no such command: {args}"
        path.append(name)
        ctx = command.make_context(name, rest, parent=ctx, resilient_parsing=False)
    return path, ctx.params


def invocations(dataset: str, scope: dict[str, str]) -> list[tuple[str, list[str]]]:
    """(stage or task name, argv after `dreg`) for every step of a pipeline, resolved like Argo would."""
    doc = DOCS[dataset]
    templates = templates_by_name(doc)
    out = []
    for task in templates["main"]["dag"]["tasks"]:
        template = templates[task["template"]]
        inputs = step_inputs(templates, task, scope, COMMIT)
        step = inputs["stage"] if task["name"] in map(task_name, PIPELINES[dataset].stages) else task["name"]
        if "container" in template and template["container"]["command"] in DREG_COMMANDS:
            argv = [substitute(a, inputs) for a in template["container"]["args"]]
            out.append((step, argv))
        elif template.get("resource", {}).get("action") == "create" and "RayJob" in template["resource"]["manifest"]:
            job = yaml.safe_load(substitute(template["resource"]["manifest"], inputs))
            argv = shlex.split(job["spec"]["entrypoint"])
            assert argv[0] == "dreg"
            out.append((step, argv[1:]))
    return out


@pytest.mark.parametrize("flags", ["false", "true"])
@pytest.mark.parametrize("dataset", sorted(PIPELINES))
def test_every_step_is_a_valid_dreg_invocation(
    dataset: str, flags: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "GIT_REPO_URL", "https://git.example/registry.git"
    )  # from the ConfigMap in the cluster
    pipeline = PIPELINES[dataset]
    scope = {**defaults(DOCS[dataset]), "force": flags, "is_automated": flags, "bump_type": "minor"}
    seen = []
    for task, argv in invocations(dataset, scope):
        path, params = parse(argv)
        seen.append(task)
        if task in pipeline.stages and task != pipeline.ray_stage:
            assert path == ["stage"] and params == {
                "dataset": dataset,
                "stage": task,
                "force": flags == "true",
            }
        elif task == pipeline.ray_stage:
            assert path == ["handoff", "run"]
            assert (params["dataset"], params["stage"], params["force"]) == (dataset, task, flags == "true")
            assert params["rev"] == COMMIT["tasks.checkout.outputs.parameters.commit"]
        elif task.startswith("check-"):
            assert path == ["handoff", "check"] and task_name(params["stage"]) == task.removeprefix("check-")
            assert params["force"] is (flags == "true")
        elif task.startswith("import-"):
            assert path == ["handoff", "import"] and task_name(params["stage"]) == task.removeprefix(
                "import-"
            )
        else:
            assert task == "publish" and path == ["publish"]
            assert params["dataset"] == dataset and params["push"] is True
            assert params["bump"] == "minor" and params["automated"] is (flags == "true")
    assert seen == [t for t in seen if t != "checkout"] and seen[-1] == "publish"
    assert set(pipeline.stages) <= set(seen)


@pytest.mark.parametrize(
    "argv",
    [
        ["stage", "wine-quality", "download", "--forse"],
        ["publish", "wine-quality", "--bump", "huge"],
        ["stage", "wine-quality"],
        ["handoff", "import", "x", "embed"],
    ],
)
def test_a_drifted_command_line_is_caught(argv: list[str]) -> None:
    with pytest.raises(Exception) as caught:
        parse(argv)
    assert "UsageError" in {cls.__name__ for cls in type(caught.value).__mro__}


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_compute_profiles_resolve_for_container_steps(profile: str) -> None:
    doc = DOCS["fashion-mnist"]
    templates = templates_by_name(doc)
    scope = {**defaults(doc), "compute_profile": profile}
    task = next(t for t in templates["main"]["dag"]["tasks"] if t["name"] == "process")  # a container stage
    patch = substitute(templates["stage"]["podSpecPatch"], step_inputs(templates, task, scope))
    resources = yaml.safe_load(patch)["containers"][0]["resources"]
    spec = PROFILES[profile]
    assert resources == {
        "requests": {"cpu": spec.cpu_request, "memory": spec.memory_request},
        "limits": {"cpu": spec.cpu_limit, "memory": spec.memory_limit},
    }
