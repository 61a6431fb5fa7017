"""The e2e player's reading of Argo (run first by `make e2e`): tags, expressions, `when`, `depends`, resource
conditions, and the DAG order/retry/exit-handler rules on the rendered templates, with docker stubbed out."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from tests.cluster.support import load_rendered
from tests.e2e import argo
from tests.e2e.argo import ChildWorkflows, Node, Resources, Workflow, WorkflowError, cron_submission
from tests.e2e.containers import Cluster, Finished, PodError
from tests.e2e.expressions import ExpressionError, depends, resource_condition, substitute, when
from tests.e2e.kuberay import KubeRay, deployment_status, snapshot

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
    assert when("'wine-quality' == 'wine-quality'") and when("3 - 1 == 2")
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

    outputs: ClassVar[dict[str, str]] = {"commit": "c0ffee", "run": "true", "tag": "wine-quality-v1.0.0"}

    def __call__(
        self, cluster: Cluster, name: str, container: dict[str, Any], pod: Any, files: Any, *_: Any
    ) -> Any:
        self.calls.append((name, container["command"] + container.get("args", [])))
        code = 1 if self.fail.get(name, 0) > 0 else 0
        self.fail[name] = self.fail.get(name, 0) - 1
        return Finished(code, "", Path("/dev/null"), {k: self.outputs[k.split(".", 1)[1]] for k in files})


class RayJobs:
    """Stands in for KubeRay: every RayJob goes Initializing → Running → its end with `job_status` (the
    deployment status KubeRay reports for it); records creates and deletes."""

    def __init__(self, job_status: str) -> None:
        self.job_status, self.created, self.deleted = job_status, [], []

    def create(self, manifest: dict[str, Any], node: str) -> Iterator[dict[str, Any]]:
        self.created.append(manifest)
        yield snapshot(manifest, jobDeploymentStatus="Initializing")
        yield snapshot(manifest, jobDeploymentStatus="Running", jobStatus="PENDING")
        yield snapshot(manifest, jobDeploymentStatus="Running", jobStatus="RUNNING")
        yield snapshot(manifest, jobDeploymentStatus=deployment_status(self.job_status), jobStatus=self.job_status)

    def delete(self, manifest: dict[str, Any]) -> None:
        self.deleted.append(manifest["metadata"]["name"])


def play(
    monkeypatch: pytest.MonkeyPatch,
    fail: dict[str, int],
    template: str | dict[str, Any] = "wine-quality",
    rayjobs: Any = None,
    **arguments: str,
) -> tuple[Workflow, Recorder]:
    """Play a rendered template (or a given doc) with docker stubbed; child Workflows are played the same way."""
    recorder = Recorder(fail)
    monkeypatch.setattr(argo, "run_container", recorder)
    rendered = load_rendered()
    templates = {name: doc for name, doc in rendered.items() if doc["kind"] == "WorkflowTemplate"}

    def run(doc: dict[str, Any], args: dict[str, str], name: str = "") -> Workflow:
        resources = Resources({"RayJob": rayjobs or RayJobs("SUCCEEDED"), "Workflow": ChildWorkflows(templates, run)})
        wf = Workflow(doc, args, Cluster({}, {}), resources, lambda *row: None, backoff_scale=0, name=name)
        wf.run()
        return wf

    return run(rendered[template] if isinstance(template, str) else template, arguments), recorder


def edited(template: str, name: str | tuple[str, ...], *edits: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """The rendered `template` with `edits` applied to its template(s) `name` (a deliberately broken copy)."""
    doc = load_rendered()[template]
    for spec in (t for t in doc["spec"]["templates"] if t["name"] in ((name,) if isinstance(name, str) else name)):
        for edit in edits:
            edit(spec)
    return doc


def replace(key: str, old: str, new: str) -> Callable[[dict[str, Any]], None]:
    """An edit replacing `old` (which must be there) by `new` in the string at `key` (dotted) of a template."""

    def edit(spec: dict[str, Any]) -> None:
        *parents, last = key.split(".")
        for part in parents:
            spec = spec[part]
        assert old in spec[last], f"{old!r} not in {key}"
        spec[last] = spec[last].replace(old, new)

    return edit


def test_rendered_dag_runs_in_order_with_resolved_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    wf, rec = play(monkeypatch, {}, force="true")
    assert wf.phase == "Succeeded"
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
    assert wf.phase == "Succeeded" and wf.nodes[0].tries == 3
    wf, _ = play(monkeypatch, {"wine-quality-checkout": 99})
    assert wf.phase == "Failed" and [n.tries for n in wf.nodes] == [4]


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
    assert wf.phase == "Failed"
    (job,) = jobs.created
    assert job["kind"] == "RayJob" and wf.uid in job["metadata"]["name"]
    assert jobs.deleted == [job["metadata"]["name"]]
    assert not any(n.name.endswith("/publish") for n in wf.nodes)
    jobs = RayJobs("SUCCEEDED")
    wf, _ = play(monkeypatch, {}, "opencloudhub-readmes-embeddings", jobs, compute_profile="cpu-small")
    assert wf.phase == "Succeeded" and any(n.name.endswith("/publish") for n in wf.nodes)


# -- strictness: each leniency the player used to have, with a deliberately broken template it must fail ---------

EMBED = "opencloudhub-readmes-embeddings"


def failed_messages(wf: Workflow) -> str:
    return " | ".join(f"{n.name}: {n.message}" for n in wf.nodes if n.phase != "Succeeded")


def test_resource_conditions_are_checked_at_every_status_not_only_the_last(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argo polls the RayJob (every 5 s): a failureCondition true while it is still Initializing fails at once,
    even though the job would have succeeded."""
    broken = edited(EMBED, "ray-stage", replace("resource.failureCondition",
                                                 "status.jobDeploymentStatus in (Failed,ValidationFailed)",
                                                 "status.jobDeploymentStatus != Complete"))
    wf, _ = play(monkeypatch, {}, broken, RayJobs("SUCCEEDED"), compute_profile="cpu-small")
    assert wf.phase == "Failed"
    assert "failureCondition met" in failed_messages(wf) and "Initializing" in failed_messages(wf)
    wf, _ = play(monkeypatch, {}, EMBED, RayJobs("SUCCEEDED"), compute_profile="cpu-small")
    assert wf.phase == "Succeeded"


def host_pods(tmp_path: Path) -> Callable[..., Finished]:
    """Stands in for docker by running the container's command on this host; the pod's output files live under
    `tmp_path` (their paths in the command are mapped there)."""

    def run(cluster: Cluster, name: str, container: dict[str, Any], pod: Any, files: dict[str, str], *_: Any
            ) -> Finished:
        argv = [*container.get("command", []), *container.get("args", [])]
        for path in files.values():
            (tmp_path / name / path.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
            argv = [a.replace(path, str(tmp_path / name / path.lstrip("/"))) for a in argv]
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        (tmp_path / f"{name}.log").write_text(done.stdout + done.stderr)
        outputs = {key: (tmp_path / name / path.lstrip("/")).read_text() for key, path in files.items()
                   if (tmp_path / name / path.lstrip("/")).exists()}
        return Finished(done.returncode, done.stdout, tmp_path / f"{name}.log", outputs)

    return run


def handoff(producer: str) -> dict[str, Any]:
    """A two-task template: `produce` runs `producer` (writes /tmp/commit, prints a line); `consume` requires
    both values to be exactly `abc`, as a `git checkout {{...}}` would."""
    consume = '[ "{{inputs.parameters.commit}}" = abc ] && [ "{{inputs.parameters.said}}" = abc ]'
    pod = {"image": "bash", "command": ["bash", "-c"]}
    return {
        "kind": "WorkflowTemplate",
        "metadata": {"name": "handoff"},
        "spec": {"entrypoint": "main", "templates": [
            {"name": "main", "dag": {"tasks": [
                {"name": "produce", "template": "produce"},
                {"name": "consume", "template": "consume", "depends": "produce", "arguments": {"parameters": [
                    {"name": "commit", "value": "{{tasks.produce.outputs.parameters.commit}}"},
                    {"name": "said", "value": "{{tasks.produce.outputs.result}}"}]}},
            ]}},
            {"name": "produce", "container": {**pod, "args": [producer]},
             "outputs": {"parameters": [{"name": "commit", "valueFrom": {"path": "/tmp/commit"}}]}},
            {"name": "consume", "inputs": {"parameters": [{"name": "commit"}, {"name": "said"}]},
             "container": {**pod, "args": [consume]}},
        ]},
    }


@pytest.mark.parametrize("producer", [
    "printf 'abc\\n\\n' > /tmp/commit; echo abc",  # a second newline in the output file
    "printf abc > /tmp/commit; echo 'abc '",  # a trailing blank in stdout (outputs.result)
])
def test_outputs_lose_one_trailing_newline_and_nothing_else(monkeypatch, tmp_path, producer) -> None:
    monkeypatch.setattr(argo, "run_container", host_pods(tmp_path))
    broken = Workflow(handoff(producer), {}, Cluster({}, {}), None, lambda *row: None)
    assert broken.run() == "Failed" and broken.nodes[-1].name.endswith("/consume")
    sound = Workflow(handoff("printf 'abc\\n' > /tmp/commit; echo abc"), {}, Cluster({}, {}), None, lambda *r: None)
    assert sound.run() == "Succeeded"


def test_pod_spec_patch_naming_an_unknown_container_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """Kubernetes would add a second container without an image and refuse the pod: the stage never runs."""
    broken = edited("wine-quality", "stage", replace("podSpecPatch", '"name": "main"', '"name": "mian"'))
    wf, rec = play(monkeypatch, {}, broken)
    assert wf.phase == "Failed" and "'mian'" in failed_messages(wf)
    assert [name for name, _ in rec.calls] == ["wine-quality-checkout"]
    wf, _ = play(monkeypatch, {})
    assert wf.phase == "Succeeded"


def test_when_reads_a_minus_as_govaluate_does(monkeypatch: pytest.MonkeyPatch) -> None:
    """`cpu-small == cpu-small` is a subtraction of two words in govaluate: Argo errors the task."""
    with pytest.raises(ExpressionError, match="arithmetic"):
        when("cpu-small == cpu-small")
    task = replace("when", "{{tasks.check-embed.outputs.parameters.run}} == true",
                   "{{workflow.parameters.compute_profile}} == cpu-small")
    broken = edited(EMBED, "main", lambda spec: task(next(t for t in spec["dag"]["tasks"] if t["name"] == "embed")))
    wf, _ = play(monkeypatch, {}, broken, RayJobs("SUCCEEDED"), compute_profile="cpu-small")
    assert wf.phase == "Failed" and "/embed: " in failed_messages(wf)


def test_cron_workflow_fans_out_one_child_workflow_per_dataset(monkeypatch: pytest.MonkeyPatch) -> None:
    rendered = load_rendered()
    templates = {n: d for n, d in rendered.items() if d["kind"] == "WorkflowTemplate"}
    doc, arguments = cron_submission(rendered["data-pipelines-nightly"], templates)
    jobs = RayJobs("SUCCEEDED")
    wf, rec = play(monkeypatch, {}, doc, jobs, **arguments)
    assert wf.phase == "Succeeded"
    children = wf.resources.handlers["Workflow"].played
    assert [c.doc["metadata"]["name"] for c in children] == json.loads(arguments["datasets"])
    assert all(c.phase == "Succeeded" and c.parameters["is_automated"] == "true" for c in children)
    assert {f"{c}-publish" for c in json.loads(arguments["datasets"])} <= {name for name, _ in rec.calls}
    assert len(jobs.created) == 1  # the embeddings child's RayJob


def test_fan_out_with_an_unreachable_success_condition_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    broken = edited("data-pipelines", "run-pipeline",
                    replace("resource.successCondition", "status.phase == Succeeded", "status.phase == Success"))
    wf, _ = play(monkeypatch, {}, broken, datasets='["wine-quality"]')
    assert wf.phase == "Failed" and "Argo would keep waiting" in failed_messages(wf)
    wf, _ = play(monkeypatch, {}, "data-pipelines", datasets='["wine-quality", "no-such-dataset"]')
    assert wf.phase == "Failed" and "not found" in failed_messages(wf)


@pytest.mark.parametrize(("key", "value", "problem"), [
    ("schedules", ["0 2 * *"], "5 fields"),
    ("schedules", ["0 25 * * *"], "outside 0-23"),
    ("timezone", "Mars/Olympus", "unknown timezone"),
    ("concurrencyPolicy", "Never", "concurrencyPolicy"),
])
def test_broken_cron_workflows_are_refused(key: str, value: Any, problem: str) -> None:
    rendered = load_rendered()
    cron = rendered["data-pipelines-nightly"]
    cron["spec"][key] = value
    with pytest.raises(WorkflowError, match=problem):
        cron_submission(cron, {n: d for n, d in rendered.items() if d["kind"] == "WorkflowTemplate"})


def kuberay_playing(monkeypatch: pytest.MonkeyPatch, cluster_error: str | None, statuses: list[str]) -> KubeRay:
    """The real KubeRay status machine with docker left out: the cluster starts (or fails with
    `cluster_error`), the Ray job goes through `statuses`."""

    def start_cluster(self: KubeRay, rc: Any, spec: Any, node: str) -> str:
        if cluster_error:
            raise PodError(cluster_error)
        return "http://127.0.0.1:9"

    def job_states(self: KubeRay, rc: Any, spec: Any, dashboard: str, node: str) -> Iterator[dict[str, Any]]:
        yield from ({"status": s, "job_id": "j"} for s in statuses)

    monkeypatch.setattr(KubeRay, "start_cluster", start_cluster)
    monkeypatch.setattr(KubeRay, "job_states", job_states)
    return KubeRay(Cluster({}, {}), lambda *row: None)


def test_kuberay_refuses_an_invalid_rayjob_and_the_step_fails_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """ttlSecondsAfterFinished without shutdownAfterJobFinishes: ValidationFailed. A failureCondition without it
    (the broken copy) leaves Argo waiting for ever; the rendered one fails the step at once."""
    invalid = replace("resource.manifest", "shutdownAfterJobFinishes: true", "shutdownAfterJobFinishes: false")
    blind = replace("resource.failureCondition", "status.jobDeploymentStatus in (Failed,ValidationFailed)",
                    "status.jobDeploymentStatus == Failed")
    jobs = kuberay_playing(monkeypatch, None, ["RUNNING", "SUCCEEDED"])
    wf, _ = play(monkeypatch, {}, edited(EMBED, "ray-stage", invalid, blind), jobs, compute_profile="cpu-small")
    assert wf.phase == "Failed" and "ValidationFailed" in failed_messages(wf)
    assert "keep waiting" in failed_messages(wf) and not jobs.clusters
    jobs = kuberay_playing(monkeypatch, None, ["RUNNING", "SUCCEEDED"])
    wf, _ = play(monkeypatch, {}, edited(EMBED, "ray-stage", invalid), jobs, compute_profile="cpu-small")
    assert wf.phase == "Failed" and "failureCondition met" in failed_messages(wf)
    assert "ValidationFailed" in failed_messages(wf) and not jobs.clusters
    wf, _ = play(monkeypatch, {}, EMBED, kuberay_playing(monkeypatch, None, ["RUNNING", "SUCCEEDED"]),
                 compute_profile="cpu-small")
    assert wf.phase == "Succeeded"


def test_a_cluster_that_never_gets_ready_stays_initializing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pods that never get ready: KubeRay keeps the RayJob Initializing until its activeDeadlineSeconds; a
    RayJob without one (the broken copy) leaves Argo waiting."""
    broken = edited(EMBED, "ray-stage", replace("resource.manifest", "activeDeadlineSeconds: 21600",
                                                 "# no activeDeadlineSeconds"))
    wf, _ = play(monkeypatch, {}, broken, kuberay_playing(monkeypatch, "image pull failed", []),
                 compute_profile="cpu-small")
    assert wf.phase == "Failed" and "'Initializing'" in failed_messages(wf) and "keep waiting" in failed_messages(wf)
    wf, _ = play(monkeypatch, {}, EMBED, kuberay_playing(monkeypatch, "image pull failed", []),
                 compute_profile="cpu-small")
    assert wf.phase == "Failed" and "DeadlineExceeded" in failed_messages(wf)


def test_a_stopped_job_is_a_complete_deployment(monkeypatch: pytest.MonkeyPatch) -> None:
    """KubeRay reports STOPPED as jobDeploymentStatus Complete: a failureCondition that counts on `Failed` for it
    (the broken copy) leaves Argo waiting; the rendered one (jobStatus in (FAILED,STOPPED)) fails the task."""
    assert [deployment_status(s) for s in ("SUCCEEDED", "STOPPED", "FAILED")] == ["Complete", "Complete", "Failed"]
    broken = edited(EMBED, ("ray-stage", "ray-wait"),
                    replace("resource.failureCondition", "status.jobStatus in (FAILED,STOPPED),", ""))
    wf, _ = play(monkeypatch, {}, broken, kuberay_playing(monkeypatch, None, ["RUNNING", "STOPPED"]),
                 compute_profile="cpu-small")
    assert wf.phase == "Failed" and "'Complete'" in failed_messages(wf) and "keep waiting" in failed_messages(wf)
    wf, _ = play(monkeypatch, {}, EMBED, kuberay_playing(monkeypatch, None, ["RUNNING", "STOPPED"]),
                 compute_profile="cpu-small")
    assert wf.phase == "Failed" and "failureCondition met" in failed_messages(wf)
