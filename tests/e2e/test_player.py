"""The e2e player's reading of Argo (run first by `make e2e`): tags, expressions, `when`, `depends`, resource
conditions, and the DAG order/retry/exit-handler rules on the rendered templates, with docker stubbed out."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest

from tests.cluster.support import load_rendered
from tests.e2e import argo
from tests.e2e.argo import Node, Workflow
from tests.e2e.containers import Cluster, Finished, PodError
from tests.e2e.expressions import ExpressionError, depends, resource_condition, substitute, when

SCOPE = {
    "inputs.parameters.force": "true",
    "workflow.parameters.compute_profile": "cpu-medium",
    "workflow.uid": "u-1",
    "tasks.check.outputs.parameters.todo": "true",
}


def test_tags_and_expressions_resolve_like_argo() -> None:
    assert substitute("embed-{{workflow.uid}}", SCOPE) == "embed-u-1"
    assert substitute("{{=inputs.parameters.force == 'true' ? '--force' : '--no-force'}}", SCOPE) == "--force"
    assert (
        substitute("{{={'cpu-small': '1', 'cpu-medium': '2'}[workflow.parameters.compute_profile]}}", SCOPE)
        == "2"
    )
    with pytest.raises(ExpressionError):
        substitute("{{inputs.parameters.missing}}", SCOPE)


def test_when_depends_and_resource_conditions() -> None:
    assert when("Failed != Succeeded") and not when("Succeeded != Succeeded")
    assert when("true == true && 3 > 2") and not when("'a' == 'b' || !true")
    assert depends("a", {"a": "Skipped"}) and not depends("a", {"a": "Failed"})
    assert depends("a.Failed || b.Succeeded", {"a": "Failed", "b": "Failed"})
    status = {"status": {"jobStatus": "FAILED", "jobDeploymentStatus": "Failed"}}
    assert resource_condition("status.jobStatus in (FAILED,STOPPED)", status)
    assert not resource_condition("status.jobStatus == SUCCEEDED", status)
    assert resource_condition("status.jobStatus == FAILED, status.jobDeploymentStatus == Failed", status)
    deadline = {"status": {"jobDeploymentStatus": "Failed", "reason": "DeadlineExceeded"}}
    assert not resource_condition("status.jobStatus in (FAILED,STOPPED),status.jobDeploymentStatus == Failed", deadline)
    assert resource_condition("status.jobStatus in (FAILED,STOPPED),status.jobDeploymentStatus == Failed", deadline,
                              any_of=True)
    assert not resource_condition("status.jobDeploymentStatus notin (Failed)", status)


class Recorder:
    """Stands in for docker: records each container's command; fails the tasks named in `fail`."""

    def __init__(self, fail: dict[str, int]) -> None:
        self.fail, self.calls = fail, []

    outputs: ClassVar[dict[str, str]] = {"commit": "c0ffee", "run": "true"}

    def __call__(
        self, cluster: Cluster, name: str, container: dict[str, Any], pod: Any, files: Any, *_: Any
    ) -> Any:
        self.calls.append((name, container["command"] + container.get("args", [])))
        code = 1 if self.fail.get(name, 0) > 0 else 0
        self.fail[name] = self.fail.get(name, 0) - 1
        return Finished(code, "", Path("/dev/null"), {k: self.outputs[k.split(".", 1)[1]] for k in files})


class RayJobs:
    """Stands in for KubeRay: every RayJob ends with `job_status`; records creates and deletes."""

    def __init__(self, job_status: str) -> None:
        self.job_status, self.created, self.deleted = job_status, [], []

    def create(self, manifest: dict[str, Any], node: str) -> dict[str, Any]:
        self.created.append(manifest)
        return {**manifest, "status": {"jobStatus": self.job_status}}

    def delete(self, manifest: dict[str, Any]) -> None:
        self.deleted.append(manifest["metadata"]["name"])


def play(
    monkeypatch: pytest.MonkeyPatch,
    fail: dict[str, int],
    template: str = "wine-quality",
    rayjobs: RayJobs | None = None,
    **arguments: str,
) -> tuple[Workflow, Recorder]:
    recorder = Recorder(fail)
    monkeypatch.setattr(argo, "run_container", recorder)
    doc = load_rendered()[template]
    rows: list[tuple] = []
    wf = Workflow(doc, arguments, Cluster({}, {}), rayjobs, lambda *row: rows.append(row), backoff_scale=0)
    wf.phase = wf.run()  # type: ignore[attr-defined]
    return wf, recorder


def test_rendered_dag_runs_in_order_with_resolved_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    wf, rec = play(monkeypatch, {}, force="true")
    assert wf.phase == "Succeeded"  # type: ignore[attr-defined]
    assert [n.name.rsplit("/", 1)[1] for n in wf.nodes] == [
        "checkout",
        "download",
        "process",
        "analyze",
        "publish",
    ]
    commands = dict(rec.calls)
    assert commands["wine-quality-download"] == ["dreg", "stage", "wine-quality", "download", "--force"]


def test_retries_then_failure_omits_the_rest(monkeypatch: pytest.MonkeyPatch) -> None:
    wf, _ = play(monkeypatch, {"wine-quality-checkout": 2})
    assert wf.phase == "Succeeded" and wf.nodes[0].tries == 3  # type: ignore[attr-defined]
    wf, _ = play(monkeypatch, {"wine-quality-checkout": 99})
    assert wf.phase == "Failed" and [n.tries for n in wf.nodes] == [4]  # type: ignore[attr-defined]


def test_unknown_arguments_and_missing_secrets_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(argo.WorkflowError):
        play(monkeypatch, {}, no_such_parameter="x")
    container = {"env": [{"name": "T", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]}
    with pytest.raises(PodError):
        Cluster({}, {}).env(container)
    assert Cluster({}, {"s": {"k": "v"}}).env(container) == {"T": "v"}
    assert Node("x", "Succeeded").tries == 0


def test_rayjob_conditions_and_exit_handler(monkeypatch: pytest.MonkeyPatch) -> None:
    """A failed RayJob fails the workflow, omits what follows, and the exit handler deletes it."""
    jobs = RayJobs("FAILED")
    wf, _ = play(monkeypatch, {}, "opencloudhub-readmes-embeddings", jobs, compute_profile="cpu-small")
    assert wf.phase == "Failed"  # type: ignore[attr-defined]
    (job,) = jobs.created
    assert job["kind"] == "RayJob" and wf.uid in job["metadata"]["name"]
    assert jobs.deleted == [job["metadata"]["name"]]
    assert not any(n.name.endswith("/publish") for n in wf.nodes)
    jobs = RayJobs("SUCCEEDED")
    wf, _ = play(monkeypatch, {}, "opencloudhub-readmes-embeddings", jobs, compute_profile="cpu-small")
    assert wf.phase == "Succeeded" and any(n.name.endswith("/publish") for n in wf.nodes)  # type: ignore[attr-defined]
