"""The cluster path and the local path are the same code: the rendered steps, run in order, release what
`dreg run` does."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.cluster.support import defaults, load_rendered, step_inputs, substitute, templates_by_name
from tests.support.registry import cli_env, run_dreg, tags

DATASET = "wine-quality"
IDENTITY = {
    "GIT_AUTHOR_NAME": "data-registry-bot",
    "GIT_AUTHOR_EMAIL": "bot@localhost",
    "GIT_COMMITTER_NAME": "data-registry-bot",
    "GIT_COMMITTER_EMAIL": "bot@localhost",
}


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


def run_rendered_steps(origin: Path, workspace: Path, scope: dict[str, str]) -> list[str]:
    """Play the WorkflowTemplate's DAG locally: the checkout script, then every `dreg` step in order."""
    doc = load_rendered()[DATASET]
    templates = templates_by_name(doc)
    ran = []
    outputs: dict[str, str] = {}
    for task in templates["main"]["dag"]["tasks"]:
        template = templates[task["template"]]
        container = template["container"]
        inputs = step_inputs(templates, task, scope, outputs)
        env = {e["name"]: substitute(e["value"], inputs) for e in container.get("env", []) if "value" in e}
        command = [substitute(part, inputs) for part in container["command"] + container.get("args", [])]
        if task["name"] == "checkout":
            out_path = template["outputs"]["parameters"][0]["valueFrom"]["path"]
            assert command[2].count(out_path) == 1
            command[2] = command[2].replace(out_path, str(workspace / "commit"))
            env.update(REPO_DIR=str(workspace / "repo"), GIT_REPO_URL=str(origin))
            result = subprocess.run(command, capture_output=True, text=True, env=cli_env(**env), check=False)
            assert result.returncode == 0, result.stderr
            outputs["tasks.checkout.outputs.parameters.commit"] = (workspace / "commit").read_text().strip()
        elif task["name"] == "publish":  # readies the write key (none here), then `exec dreg "$@"`
            tag_path = template["outputs"]["parameters"][0]["valueFrom"]["path"]
            command = [str(workspace / "tag") if part == tag_path else part for part in command]
            env.update(GIT_CONFIG_VALUE_0=str(origin))  # the push URL (remote.origin.pushurl)
            result = subprocess.run(command, cwd=workspace / "repo", capture_output=True, text=True,
                                    env=cli_env(**env, **IDENTITY), check=False)
            assert result.returncode == 0, f"publish: {result.stdout}\n{result.stderr}"
        else:
            assert command[0] == "dreg"
            result = run_dreg(workspace / "repo", *command[1:], env=cli_env(**env, **IDENTITY))
            assert result.returncode == 0, f"{task['name']}: {result.stdout}\n{result.stderr}"
        ran.append(task["name"])
    return ran


def release(repo: Path, tag: str) -> dict[str, Any]:
    """What a release consists of: its outputs' hashes and its metadata without volatile lineage."""
    lock = yaml.safe_load(git(repo, "show", f"{tag}:pipelines/{DATASET}/dvc.lock"))
    metadata_path = f"data/{DATASET}/metadata.json"  # compared below without its volatile lineage
    outs = {
        o["path"]: o.get("md5")
        for stage in lock["stages"].values()
        for o in stage.get("outs", [])
        if o["path"] != metadata_path
    }
    meta = json.loads(git(repo, "show", f"{tag}:data/{DATASET}/metadata.json"))
    lineage = meta.pop("lineage")
    stable = {k: v for k, v in lineage.items() if k in ("source", "params", "code_commit", "upstream")}
    changed = sorted(git(repo, "show", "--name-only", "--format=", f"{tag}^{{commit}}").split())
    return {"outs": outs, "metadata": meta, "lineage": stable, "files": changed}


@pytest.mark.system
def test_rendered_steps_release_the_same_as_dreg_run(registry: Any, tmp_path: Path) -> None:
    twin_origin = tmp_path / "twin-origin.git"
    shutil.copytree(registry.origin, twin_origin)

    scope = {**defaults(load_rendered()[DATASET]), "git_rev": "main"}
    ran = run_rendered_steps(registry.origin, tmp_path / "cluster", scope)
    assert ran == ["checkout", "download", "process", "analyze", "publish"]

    local = tmp_path / "local"
    git(tmp_path, "clone", "--quiet", str(twin_origin), str(local))
    env = cli_env(DVC_LOCAL_REMOTE_URL=str(tmp_path / "twin-remote"), **IDENTITY)
    result = run_dreg(local, "run", DATASET, "--push", env=env)
    assert result.returncode == 0, result.stderr

    assert tags(registry.origin) == tags(twin_origin) == [f"{DATASET}-v1.0.0"]
    assert (tmp_path / "cluster" / "tag").read_text() == f"{DATASET}-v1.0.0", "the publish step's output"
    cluster_release = release(registry.origin, f"{DATASET}-v1.0.0")
    assert cluster_release == release(twin_origin, f"{DATASET}-v1.0.0")
    assert cluster_release["outs"] and all(cluster_release["outs"].values())
