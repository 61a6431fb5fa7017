"""A RayJob played the way KubeRay's operator does, with docker: validation (`ValidationFailed`), a head
container and the worker group's containers (each its own filesystem, host network, distinct ports),
readiness by KubeRay's probe commands (pods that never get ready leave it `Initializing` until the job's
activeDeadlineSeconds), then a submitter container (K8sJobMode: `ray job submit` against the head's dashboard)
and every status on the way (`jobStatus`, `jobDeploymentStatus`: Complete for SUCCEEDED and STOPPED, Failed
for FAILED) for the Argo resource template's conditions, which Argo checks at each poll."""

from __future__ import annotations

import json
import math
import shlex
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import requests
import yaml

from tests.e2e.containers import STARTED, Cluster, PodError, quantity, resource_flags, user_flags
from tests.e2e.images import DOCKER
from tests.support.servers import free_port


def ray_start_flags(params: dict[str, Any]) -> list[str]:
    """rayStartParams as `ray start` flags (KubeRay: key → --key=value; 'true' → bare flag)."""
    flags = []
    for key, value in params.items():
        flags.append(f"--{key}" if str(value).lower() == "true" else f"--{key}={value}")
    return flags


def resource_params(container: dict[str, Any], params: dict[str, Any]) -> dict[str, str]:
    """What KubeRay adds from the container's limits when rayStartParams leave it out: num-cpus, memory, num-gpus."""
    limits = container.get("resources", {}).get("limits", {})
    requests_ = container.get("resources", {}).get("requests", {})
    out = {}
    cpu = limits.get("cpu", requests_.get("cpu"))
    if "num-cpus" not in params and cpu is not None:
        out["num-cpus"] = str(math.ceil(quantity(cpu)))
    if "memory" not in params and "memory" in limits:
        out["memory"] = str(int(quantity(limits["memory"])))
    gpus = limits.get("nvidia.com/gpu")
    if "num-gpus" not in params and gpus is not None and quantity(gpus) > 0:
        out["num-gpus"] = str(int(quantity(gpus)))
    return out


@dataclass
class RayCluster:
    """The containers of one RayJob's cluster."""

    name: str
    containers: list[str] = field(default_factory=list)

    def remove(self) -> None:
        for cid in self.containers:
            subprocess.run([DOCKER, "rm", "-f", cid], capture_output=True, check=False)
        self.containers.clear()


@dataclass
class KubeRay:
    """Creates and deletes RayJobs; `create` blocks until the job ends and returns the RayJob with its status."""

    cluster: Cluster
    report: Any
    ready_timeout_s: float = 180
    clusters: dict[str, RayCluster] = field(default_factory=dict)

    def delete(self, manifest: dict[str, Any]) -> None:
        found = self.clusters.pop(manifest["metadata"]["name"], None)
        if found:
            found.remove()

    def create(self, manifest: dict[str, Any], node: str) -> Iterator[dict[str, Any]]:
        """The RayJob as the operator moves it: each status it reports, from validation or `Initializing` to
        its end (the caller stops reading when its conditions are met; an unfinished RayJob keeps its pods)."""
        if manifest.get("kind") != "RayJob":
            raise PodError(f"resource kind {manifest.get('kind')!r} is not supported (only RayJob)")
        spec = manifest["spec"]
        name = manifest["metadata"]["name"]
        if name in self.clusters:
            raise PodError(f"rayjobs.ray.io {name!r} already exists")
        problem = validation_error(spec)
        if problem:  # KubeRay rejects it and never moves on: no cluster, no job
            yield snapshot(manifest, jobDeploymentStatus="ValidationFailed", reason="ValidationFailed",
                           message=problem)
            return
        rc = RayCluster(name)
        self.clusters[name] = rc
        yield snapshot(manifest, jobDeploymentStatus="Initializing")
        try:
            dashboard = self.start_cluster(rc, spec["rayClusterSpec"], node)
        except PodError as exc:  # pods that never get ready: KubeRay keeps waiting, until the job's deadline
            self.report(f"{node}/ray-cluster", "stuck", 0.0, str(exc)[:300])
            if "activeDeadlineSeconds" in spec:
                yield snapshot(manifest, jobDeploymentStatus="Failed", reason="DeadlineExceeded",
                               message=f"cluster not ready within activeDeadlineSeconds: {exc}")
            return
        yield snapshot(manifest, jobDeploymentStatus="Running")
        final: dict[str, Any] = {}
        try:
            for info in self.job_states(rc, spec, dashboard, node):
                final = {"jobStatus": info.get("status", ""), "jobId": info.get("job_id", ""),
                         "message": info.get("message", "")}
                if info.get("status") not in TERMINAL:
                    yield snapshot(manifest, jobDeploymentStatus="Running", **final)
        except PodError as exc:
            final = {"jobDeploymentStatus": "Failed", "reason": "SubmissionFailed", "message": str(exc)}
        except DeadlineExceeded as exc:
            final = {**final, "jobDeploymentStatus": "Failed", "reason": "DeadlineExceeded", "message": str(exc)}
        if "jobDeploymentStatus" not in final:
            final["jobDeploymentStatus"] = deployment_status(final["jobStatus"])
            if final["jobDeploymentStatus"] == "Failed":
                final["reason"] = "AppFailed"
        if spec.get("shutdownAfterJobFinishes"):
            self.delete(manifest)
        yield snapshot(manifest, **final)

    # -- the cluster ---------------------------------------------------------------------------------------------

    def pod(self, rc: RayCluster, role: str, template: dict[str, Any], command: str) -> str:
        """Start one Ray pod's first container detached; its container id."""
        pod_spec = template["spec"]
        container = pod_spec["containers"][0]
        env = self.cluster.env(container)
        cid = f"dreg-e2e-{rc.name[:40]}-{role}"
        STARTED.add(cid)
        args = [
            DOCKER,
            "run",
            "-d",
            "--name",
            cid,
            "--network",
            "host",
            "--shm-size",
            "1g",
            *user_flags(pod_spec.get("securityContext", {}), container),
            *resource_flags(container.get("resources", {})),
            *self.cluster.mount_flags(
                container, pod_spec.get("volumes", []), pod_spec.get("securityContext", {}).get("fsGroup")
            ),
        ]
        for key in env:
            args += ["-e", key]
        if container.get("workingDir"):
            args += ["-w", container["workingDir"]]
        args += ["--entrypoint", "bash", container["image"], "-lc", command]  # as KubeRay starts Ray
        started = subprocess.run(
            args, capture_output=True, text=True, env={"HOME": "/root", **env}, check=False
        )
        if started.returncode != 0:
            raise PodError(f"{role}: docker run failed: {started.stderr.strip()}")
        rc.containers.append(cid)
        return cid

    def start_cluster(self, rc: RayCluster, spec: dict[str, Any], node: str) -> str:
        """Head, then every worker group's replicas; waits for KubeRay's readiness probes. The dashboard URL."""
        head = spec["headGroupSpec"]
        gcs, dash, client = free_port(), free_port(), free_port()
        params = {k: v for k, v in head.get("rayStartParams", {}).items()}
        params = {**params, **resource_params(head["template"]["spec"]["containers"][0], params)}
        params.update({"port": gcs, "dashboard-port": dash, "ray-client-server-port": client})
        params.setdefault("dashboard-host", "0.0.0.0")
        agent = self.agent_ports(params)
        t0 = time.monotonic()
        head_id = self.pod(
            rc,
            "head",
            head["template"],
            "ulimit -n 65536; " + shlex.join(["ray", "start", "--head", "--block", *ray_start_flags(params)]),
        )
        self.wait_ready(
            head_id,
            f"wget -T 2 -q -O- http://localhost:{agent}/api/local_raylet_healthz | grep success"
            f" && wget -T 2 -q -O- http://localhost:{dash}/api/gcs_healthz | grep success",
        )
        self.report(f"{node}/ray-head", "ready", time.monotonic() - t0, "")
        for group in spec.get("workerGroupSpecs", []):
            replicas = int(group.get("replicas", group.get("minReplicas", 1)))
            for i in range(replicas):
                t0 = time.monotonic()
                wparams = {k: v for k, v in group.get("rayStartParams", {}).items()}
                wparams = {**wparams, **resource_params(group["template"]["spec"]["containers"][0], wparams)}
                wparams["address"] = f"127.0.0.1:{gcs}"
                wagent = self.agent_ports(wparams)
                worker = self.pod(
                    rc,
                    f"{group['groupName']}-{i}",
                    group["template"],
                    "ulimit -n 65536; " + shlex.join(["ray", "start", "--block", *ray_start_flags(wparams)]),
                )
                self.wait_ready(
                    worker,
                    f"wget -T 2 -q -O- http://localhost:{wagent}/api/local_raylet_healthz | grep success",
                )
                self.report(
                    f"{node}/ray-worker-{group['groupName']}-{i}",
                    "ready",
                    time.monotonic() - t0,
                    f"num-cpus={wparams.get('num-cpus', '?')}",
                )
        return f"http://127.0.0.1:{dash}"

    @staticmethod
    def agent_ports(params: dict[str, Any]) -> int:
        """Distinct per-node ports (all nodes share the host network); the dashboard agent's HTTP port."""
        for key in (
            "dashboard-agent-listen-port",
            "dashboard-agent-grpc-port",
            "metrics-export-port",
            "runtime-env-agent-port",
            "node-manager-port",
            "object-manager-port",
        ):
            params.setdefault(key, free_port())
        return int(params["dashboard-agent-listen-port"])

    def wait_ready(self, cid: str, probe: str) -> None:
        deadline = time.monotonic() + self.ready_timeout_s
        while time.monotonic() < deadline:
            state = subprocess.run(
                [DOCKER, "inspect", "-f", "{{.State.Running}}", cid],
                capture_output=True,
                text=True,
                check=False,
            ).stdout.strip()
            if state != "true":
                raise PodError(f"{cid} exited: {self.logs(cid)}")
            if (
                subprocess.run(
                    [DOCKER, "exec", cid, "bash", "-c", probe], capture_output=True, check=False
                ).returncode
                == 0
            ):
                return
            time.sleep(1)
        raise PodError(f"{cid} not ready after {self.ready_timeout_s:.0f}s: {self.logs(cid)}")

    @staticmethod
    def logs(cid: str, lines: int = 5) -> str:
        out = subprocess.run(
            [DOCKER, "logs", "--tail", str(lines), cid], capture_output=True, text=True, check=False
        )
        return " | ".join((out.stdout + out.stderr).strip().splitlines())[-600:]

    # -- the job ---------------------------------------------------------------------------------------------------

    def job_states(self, rc: RayCluster, spec: dict[str, Any], dashboard: str, node: str) -> Iterator[dict[str, Any]]:
        """K8sJobMode: a submitter pod (the head's image and env) runs `ray job submit`; then the job's info each
        time its status changes, up to a terminal one (DeadlineExceeded past the RayJob's activeDeadlineSeconds)."""
        job_id = f"{rc.name}-{int(time.time())}"
        command = ["ray", "job", "submit", "--address", dashboard, "--submission-id", job_id, "--no-wait"]
        if spec.get("runtimeEnvYAML"):
            command += ["--runtime-env-json", json.dumps(yaml.safe_load(spec["runtimeEnvYAML"]))]
        for key, flag in (
            ("entrypointNumCpus", "--entrypoint-num-cpus"),
            ("entrypointNumGpus", "--entrypoint-num-gpus"),
        ):
            if key in spec:
                command += [flag, str(spec[key])]
        head = spec["rayClusterSpec"]["headGroupSpec"]["template"]
        # as KubeRay's submitter: the entrypoint goes into the shell command line as written (the shell splits it)
        submitter = self.pod(rc, "submitter", head, f"{shlex.join(command)} -- {spec['entrypoint']}")
        code = int(
            subprocess.run(
                [DOCKER, "wait", submitter], capture_output=True, text=True, check=False
            ).stdout.strip()
            or 1
        )
        if code != 0:
            raise PodError(f"ray job submit exited {code}: {self.logs(submitter)}")
        t0 = time.monotonic()
        deadline = t0 + float(spec.get("activeDeadlineSeconds", 6 * 3600))
        seen = ""
        while time.monotonic() < deadline:
            info = {"job_id": job_id, **requests.get(f"{dashboard}/api/jobs/{job_id}", timeout=10).json()}
            if info.get("status") != seen:
                seen = info.get("status", "")
                if seen in TERMINAL:
                    break
                yield info
            time.sleep(2)
        else:
            raise DeadlineExceeded(f"job {job_id} still {seen} after activeDeadlineSeconds")
        self.job_log = requests.get(f"{dashboard}/api/jobs/{job_id}/logs", timeout=10).json().get("logs", "")
        (self.cluster.logs / f"{rc.name}-job.log").write_text(self.job_log)
        self.report(f"{node}/ray-job", seen.lower(), time.monotonic() - t0, "")
        yield info


TERMINAL = ("SUCCEEDED", "FAILED", "STOPPED")


class DeadlineExceeded(RuntimeError):
    """The RayJob ran past its activeDeadlineSeconds."""


def deployment_status(job_status: str) -> str:
    """KubeRay's jobDeploymentStatus once the Ray job is terminal: Failed for FAILED, else Complete (STOPPED too)."""
    return "Failed" if job_status == "FAILED" else "Complete"


def snapshot(manifest: dict[str, Any], **status: Any) -> dict[str, Any]:
    """The RayJob object with `status` (jobStatus empty until the job exists, as KubeRay reports it)."""
    return {**manifest, "status": {"jobStatus": "", **status}}


def validation_error(spec: dict[str, Any]) -> str | None:
    """What KubeRay's RayJob validation refuses (status ValidationFailed), or None."""
    shutdown = bool(spec.get("shutdownAfterJobFinishes"))
    ttl = int(spec.get("ttlSecondsAfterFinished", 0))
    problems = [
        (not spec.get("rayClusterSpec") and not spec.get("clusterSelector"),
         "one of RayClusterSpec or ClusterSelector must be set"),
        (spec.get("submissionMode", "K8sJobMode") not in ("K8sJobMode", "HTTPMode", "InteractiveMode"),
         f"invalid submissionMode {spec.get('submissionMode')!r}"),
        (ttl < 0, "TTLSecondsAfterFinished must be a non-negative integer"),
        (not shutdown and ttl > 0,
         "a RayJob with shutdownAfterJobFinishes set to false cannot have TTLSecondsAfterFinished"),
        ("activeDeadlineSeconds" in spec and int(spec["activeDeadlineSeconds"]) <= 0,
         "activeDeadlineSeconds must be a positive integer"),
        (int(spec.get("backoffLimit", 0)) < 0, "backoffLimit must be a positive integer"),
        (bool(spec.get("suspend")) and not shutdown,
         "a RayJob with shutdownAfterJobFinishes set to false is not allowed to be suspended"),
    ]
    for bad, message in problems:
        if bad:
            return message
    if spec.get("runtimeEnvYAML"):
        try:
            yaml.safe_load(spec["runtimeEnvYAML"])
        except yaml.YAMLError as exc:
            return f"failed to decode runtimeEnvYAML: {exc}"
    head = (spec.get("rayClusterSpec") or {}).get("headGroupSpec", {}).get("template", {}).get("spec", {})
    if spec.get("rayClusterSpec") and not head.get("containers"):
        return "headGroupSpec should have at least one container"
    return None
