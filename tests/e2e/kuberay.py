"""A RayJob played the way KubeRay's operator does, with docker: a head container and the worker group's
containers (each its own filesystem, host network, distinct ports), readiness by KubeRay's probe commands,
then a submitter container (K8sJobMode: `ray job submit` against the head's dashboard) and the RayJob's
status (`jobStatus`, `jobDeploymentStatus`) for the Argo resource template's conditions."""

from __future__ import annotations

import math
import shlex
import subprocess
import time
from dataclasses import dataclass, field
from typing import Any

import requests

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

    def create(self, manifest: dict[str, Any], node: str) -> dict[str, Any]:
        if manifest.get("kind") != "RayJob":
            raise PodError(f"resource kind {manifest.get('kind')!r} is not supported (only RayJob)")
        spec = manifest["spec"]
        name = manifest["metadata"]["name"]
        if name in self.clusters:
            raise PodError(f"rayjobs.ray.io {name!r} already exists")
        mode = spec.get("submissionMode", "K8sJobMode")
        if mode not in ("K8sJobMode", "HTTPMode"):
            raise PodError(f"submissionMode {mode} is not supported by this player")
        rc = RayCluster(name)
        self.clusters[name] = rc
        status: dict[str, Any] = {"jobDeploymentStatus": "Initializing", "jobStatus": ""}
        try:
            dashboard = self.start_cluster(rc, spec["rayClusterSpec"], node)
            status["jobDeploymentStatus"] = "Running"
            status.update(self.submit(rc, spec, dashboard, node))
        except PodError as exc:
            status.update(jobDeploymentStatus="Failed", reason="AppFailed", message=str(exc))
        finally:
            if spec.get("shutdownAfterJobFinishes"):
                self.delete(manifest)
        return {**manifest, "status": status}

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

    def submit(self, rc: RayCluster, spec: dict[str, Any], dashboard: str, node: str) -> dict[str, Any]:
        """K8sJobMode: a submitter pod (the head's image and env) runs `ray job submit`; then the job's status."""
        job_id = f"{rc.name}-{int(time.time())}"
        command = ["ray", "job", "submit", "--address", dashboard, "--submission-id", job_id, "--no-wait"]
        if spec.get("runtimeEnvYAML"):
            import json

            import yaml

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
        info: dict[str, Any] = {}
        while time.monotonic() < deadline:
            info = requests.get(f"{dashboard}/api/jobs/{job_id}", timeout=10).json()
            if info.get("status") in ("SUCCEEDED", "FAILED", "STOPPED"):
                break
            time.sleep(2)
        else:
            return {
                "jobStatus": info.get("status", ""),
                "jobDeploymentStatus": "Failed",
                "reason": "DeadlineExceeded",
                "jobId": job_id,
            }
        self.job_log = requests.get(f"{dashboard}/api/jobs/{job_id}/logs", timeout=10).json().get("logs", "")
        (self.cluster.logs / f"{rc.name}-job.log").write_text(self.job_log)
        self.report(f"{node}/ray-job", info["status"].lower(), time.monotonic() - t0, "")
        return {
            "jobStatus": info["status"],
            "jobId": job_id,
            "message": info.get("message", ""),
            "jobDeploymentStatus": "Complete" if info["status"] == "SUCCEEDED" else "Failed",
        }
