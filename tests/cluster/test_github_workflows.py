"""`.github/workflows/*.yaml` against a compact JSON Schema of GitHub Actions workflows, and what each must do."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator

from tests.cluster.support import ROOT, errors
from workflows.common import BUMP_TYPES
from workflows.profiles import PIPELINES, PROFILES, scheduled

WORKFLOWS = ROOT / ".github" / "workflows"
STRING_MAP = {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]}}
PERMISSION = {"enum": ["read", "write", "none"]}
CONTEXTS = {
    "github",
    "inputs",
    "secrets",
    "env",
    "steps",
    "matrix",
    "vars",
    "needs",
    "runner",
    "job",
    "strategy",
}

STEP = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "id": {"type": "string", "pattern": "^[A-Za-z_][-A-Za-z0-9_]*$"},
        "name": {"type": "string"},
        "if": {"type": ["string", "boolean"]},
        "uses": {"type": "string", "pattern": r"^[-\w.]+/[-\w./]+@[-\w.]+$"},
        "run": {"type": "string", "minLength": 1},
        "shell": {"type": "string"},
        "with": STRING_MAP,
        "env": STRING_MAP,
        "working-directory": {"type": "string"},
        "continue-on-error": {"type": ["boolean", "string"]},
        "timeout-minutes": {"type": ["number", "string"]},
    },
    "oneOf": [{"required": ["uses"]}, {"required": ["run"]}],
}
JOB = {
    "type": "object",
    "additionalProperties": False,
    "required": ["runs-on", "steps"],
    "properties": {
        "name": {"type": "string"},
        "runs-on": {"type": ["string", "array"]},
        "needs": {"type": ["string", "array"]},
        "if": {"type": ["string", "boolean"]},
        "permissions": {"type": "object", "additionalProperties": PERMISSION},
        "env": STRING_MAP,
        "timeout-minutes": {"type": "number"},
        "environment": {"type": ["string", "object"]},
        "outputs": STRING_MAP,
        "concurrency": {"type": ["string", "object"]},
        "continue-on-error": {"type": ["boolean", "string"]},
        "strategy": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "matrix": {"type": "object"},
                "fail-fast": {"type": "boolean"},
                "max-parallel": {"type": "number"},
            },
        },
        "steps": {"type": "array", "minItems": 1, "items": STEP},
    },
}
DISPATCH_INPUT = {
    "type": "object",
    "additionalProperties": False,
    "required": ["description"],
    "properties": {
        "description": {"type": "string"},
        "required": {"type": "boolean"},
        "default": {"type": ["string", "boolean", "number"]},
        "type": {"enum": ["string", "boolean", "choice", "number", "environment"]},
        "options": {"type": "array", "items": {"type": "string"}, "minItems": 1},
    },
    "if": {"properties": {"type": {"const": "choice"}}, "required": ["type"]},
    "then": {"required": ["options"]},
}
BRANCH_FILTER = {
    "type": ["object", "null"],
    "additionalProperties": False,
    "properties": {k: {"type": "array", "items": {"type": "string"}} for k in ("branches", "tags", "paths")},
}
SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "on", "jobs"],
    "properties": {
        "name": {"type": "string"},
        "run-name": {"type": "string"},
        "on": {
            "type": "object",
            "additionalProperties": False,
            "minProperties": 1,
            "properties": {
                "push": BRANCH_FILTER,
                "pull_request": BRANCH_FILTER,
                "workflow_dispatch": {
                    "type": ["object", "null"],
                    "additionalProperties": False,
                    "properties": {"inputs": {"type": "object", "additionalProperties": DISPATCH_INPUT}},
                },
                "schedule": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["cron"],
                        "properties": {"cron": {"type": "string", "pattern": r"^(\S+\s+){4}\S+$"}},
                    },
                },
            },
        },
        "permissions": {"type": "object", "additionalProperties": PERMISSION},
        "env": STRING_MAP,
        "concurrency": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"group": {"type": "string"}, "cancel-in-progress": {"type": "boolean"}},
        },
        "jobs": {
            "type": "object",
            "minProperties": 1,
            "propertyNames": {"pattern": "^[A-Za-z_][-A-Za-z0-9_]*$"},
            "additionalProperties": JOB,
        },
    },
}
Draft7Validator.check_schema(SCHEMA)


def load(path: Path) -> dict[str, Any]:
    """YAML 1.1 reads the key `on` as True; GitHub reads it as the string."""
    doc = yaml.safe_load(path.read_text())
    if True in doc:
        doc["on"] = doc.pop(True)
    return doc


FILES = sorted(WORKFLOWS.glob("*.yaml"))


def test_the_four_workflows_exist() -> None:
    assert [p.name for p in FILES] == ["ci.yaml", "images.yaml", "pages.yaml", "run-pipelines.yaml"]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_workflow_validates(path: Path) -> None:
    assert errors(Draft7Validator(SCHEMA), load(path)) == []
    text = path.read_text()
    expressions = re.findall(r"\$\{\{(.*?)\}\}", text)
    assert len(expressions) == text.count("${{"), "unclosed ${{ expression"
    for expression in expressions:
        contexts = set(re.findall(r"(?<![\w.])([a-z_]+)\.[\w-]", re.sub(r"'[^']*'", "", expression)))
        assert contexts <= CONTEXTS, (expression, contexts - CONTEXTS)


def test_schema_rejects_typos() -> None:
    doc = load(WORKFLOWS / "ci.yaml")
    doc["jobs"]["test"]["runs_on"] = doc["jobs"]["test"].pop("runs-on")
    doc["jobs"]["test"]["steps"][0]["uses"] = "actions/checkout"
    doc["on"]["pull-request"] = None
    found = errors(Draft7Validator(SCHEMA), doc)
    assert any("runs_on" in e for e in found) and any("pull-request" in e for e in found)
    assert any("does not match" in e for e in found)


def run_lines(doc: dict[str, Any]) -> str:
    return "\n".join(step.get("run", "") for job in doc["jobs"].values() for step in job["steps"])


def test_ci_runs_lint_tests_render_check_and_helm() -> None:
    runs = run_lines(load(WORKFLOWS / "ci.yaml"))
    for target in ("make lint", "make test", "make render-check", "make helm-lint"):
        assert target in runs
    cluster_mk = (ROOT / "cluster.mk").read_text()
    assert re.search(r"^helm-lint:.*\n(\t.*\n)*\t\$\(HELM\) template", cluster_mk, re.MULTILINE)


def test_images_build_on_code_changes_only_and_tag_by_commit_sha() -> None:
    """Finding 5: release commits and dataset tags build no image; the only tag is the full commit sha."""
    doc = load(WORKFLOWS / "images.yaml")
    push = doc["on"]["push"]
    assert push["branches"] == ["main"] and "tags" not in push
    globs = push["paths"]
    assert {"steps/**", "images/**", "pyproject.toml"} <= set(globs)
    release_commit = ["pipelines/wine-quality/dvc.lock", "data/wine-quality/metadata.json",
                      "data/wine-quality/README.md"]
    assert not any(fnmatch.fnmatch(path, glob) for path in release_commit for glob in globs)
    assert fnmatch.fnmatch("steps/kit/files.py", "steps/**")
    job = doc["jobs"]["build"]
    files = {entry["dockerfile"] for entry in job["strategy"]["matrix"]["include"]}
    assert files == {"images/pipeline.Dockerfile", "images/ray.Dockerfile"}
    assert all((ROOT / f).exists() for f in files)
    meta = next(s for s in job["steps"] if s.get("id") == "meta")
    assert meta["with"]["tags"].split() == ["type=sha,format=long,prefix="], "no mutable branch or tag names"
    build = next(s for s in job["steps"] if s.get("uses", "").startswith("docker/build-push-action"))
    assert build["with"]["push"] is True


def test_run_pipelines_inputs_match_the_catalog() -> None:
    doc = load(WORKFLOWS / "run-pipelines.yaml")
    inputs = doc["on"]["workflow_dispatch"]["inputs"]
    assert {"datasets", "force", "bump", "compute_profile"} <= inputs.keys()
    assert inputs["bump"]["options"] == list(BUMP_TYPES)
    assert inputs["compute_profile"]["options"] == ["default", *PROFILES]
    assert inputs["datasets"]["default"] in PIPELINES
    assert doc["on"]["schedule"]
    assert doc["env"]["SCHEDULED_DATASETS"].split(",") == list(scheduled("weekly"))
    runs = run_lines(doc)
    assert 'argo submit -n "$NAMESPACE" --from "workflowtemplate/$template"' in runs
    assert "template=data-pipelines" in runs and "datasets=[" in runs
    assert "Workflow: $link" in runs


def test_pipelines_are_submitted_from_an_in_cluster_runner_with_a_verified_cli() -> None:
    """Finding 7: a self-hosted runner label (configurable), no kubeconfig secret, the argo CLI checked by sha256."""
    doc = load(WORKFLOWS / "run-pipelines.yaml")
    job = doc["jobs"]["submit"]
    assert "vars.ARGO_RUNNER_LABEL" in job["runs-on"] and "ubuntu" not in job["runs-on"]
    text = (WORKFLOWS / "run-pipelines.yaml").read_text()
    assert "KUBECONFIG" not in text and "secrets." not in text
    install = next(s for s in job["steps"] if "argo.gz" in s.get("run", ""))
    script = install["run"]
    assert "vars.ARGO_CLI_SHA256" in install["env"]["ARGO_SHA256"]
    assert script.index("sha256sum -c") < script.index("gunzip"), "verify before unpacking"
    assert "sudo" not in script


@pytest.mark.parametrize("path", sorted(WORKFLOWS.glob("*.yaml")), ids=lambda p: p.name)
def test_every_action_is_pinned_by_commit_sha(path: Path) -> None:
    """A tag can be moved to other code; a commit sha cannot. The release it came from stays as a comment."""
    uses = re.findall(r"uses:\s*(\S+)(.*)", path.read_text())
    for ref, comment in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", ref), f"{path.name}: {ref} is not pinned by sha"
        assert re.fullmatch(r"\s+# v\d+(\.\d+)*", comment), f"{path.name}: {ref} lacks its `# vX.Y.Z` comment"


def test_the_images_workflow_writes_the_digests_it_built_into_the_values() -> None:
    """After the builds, one job resolves each pushed image's digest and commits tag and digest."""
    doc = load(WORKFLOWS / "images.yaml")
    pin = doc["jobs"]["pin"]
    assert pin["needs"] == "build" and pin["permissions"]["contents"] == "write"
    (script,) = [step["run"] for step in pin["steps"] if "run" in step]
    images = {entry["image"] for entry in doc["jobs"]["build"]["strategy"]["matrix"]["include"]}
    assert {f"digest {image}" in script for image in images} == {True}
    written = re.search(r"<<VALUES\n(.*?)\n\s*VALUES\n", script, re.DOTALL)
    assert written and "charts/data-registry/values-images.yaml" in script
    values = yaml.safe_load(written.group(1).replace("$SHA", "0" * 40).replace("$pipeline", "sha256:1")
                            .replace("$ray", "sha256:2"))
    assert values == {"image": {"tag": "0" * 40, "digest": "sha256:1"},
                      "rayImage": {"tag": "0" * 40, "digest": "sha256:2"}}


def test_each_scheduled_dataset_runs_from_exactly_one_scheduler() -> None:
    """GitHub's weekly run and the chart's nightly CronWorkflow read the `schedule` the pipelines declare."""
    doc = load(WORKFLOWS / "run-pipelines.yaml")
    weekly = doc["env"]["SCHEDULED_DATASETS"].split(",")
    nightly = yaml.safe_load((ROOT / "charts" / "data-registry" / "values.yaml").read_text())["cron"]["datasets"]
    assert weekly and nightly and not set(weekly) & set(nightly)
    assert set(weekly) | set(nightly) == {name for name, p in PIPELINES.items() if p.schedule != "manual"}
    assert [c["cron"] for c in doc["on"]["schedule"]] == ["0 4 * * 0"], "weekly"
