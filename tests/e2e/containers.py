"""A Kubernetes container spec (image, command, args, env, envFrom, workingDir, user, resources, volumes) run
with docker on the host network; the pod's view of ConfigMaps and Secrets comes from a `Cluster`."""

from __future__ import annotations

import math
import os
import re
import subprocess
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.e2e.images import DOCKER

QUANTITY = re.compile(r"^(\d+(?:\.\d+)?)(m|Ki|Mi|Gi|Ti|k|M|G|T)?$")
FACTORS = {
    None: 1,
    "m": 0.001,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
}


def quantity(value: Any) -> float:
    """A Kubernetes quantity ('500m', '2Gi', 4) as a number."""
    m = QUANTITY.match(str(value))
    if not m:
        raise ValueError(f"not a Kubernetes quantity: {value!r}")
    return float(m.group(1)) * FACTORS[m.group(2)]


STARTED: set[str] = set()  # every container this process created, for `remove_started` at exit


def remove_started() -> None:
    """Remove the containers this process created that are still there (after a crash or an interrupt)."""
    for cid in sorted(STARTED):
        subprocess.run([DOCKER, "rm", "-f", cid], capture_output=True, check=False)
    STARTED.clear()


class PodError(RuntimeError):
    """What Kubernetes would refuse before the container starts (CreateContainerConfigError and the like)."""


@dataclass
class Cluster:
    """What the namespace holds for the pods: ConfigMaps and Secrets (name → data), the volumes' host folders."""

    config_maps: dict[str, dict[str, str]]
    secrets: dict[str, dict[str, str]]
    volumes: dict[str, Path] = field(default_factory=dict)
    logs: Path = Path("/tmp")

    def env(self, container: dict[str, Any]) -> dict[str, str]:
        """The container's environment: envFrom first, then env (which wins), as the kubelet builds it."""
        env: dict[str, str] = {}
        for source in container.get("envFrom", []):
            for kind, store in (("configMapRef", self.config_maps), ("secretRef", self.secrets)):
                if kind in source:
                    ref = source[kind]
                    if ref["name"] not in store and not ref.get("optional"):
                        raise PodError(f"{kind} {ref['name']!r} not found")
                    env.update(
                        {source.get("prefix", "") + k: v for k, v in store.get(ref["name"], {}).items()}
                    )
        for item in container.get("env", []):
            if "value" in item:
                env[item["name"]] = str(item["value"])
                continue
            source = item.get("valueFrom", {})
            for kind, store in (("secretKeyRef", self.secrets), ("configMapKeyRef", self.config_maps)):
                if kind in source:
                    ref = source[kind]
                    value = store.get(ref["name"], {}).get(ref["key"])
                    if value is None:
                        if ref.get("optional"):
                            break
                        raise PodError(f"{kind} {ref['name']}/{ref['key']} not found (env {item['name']})")
                    env[item["name"]] = value
                    break
            else:
                if source:
                    raise PodError(f"env {item['name']}: unsupported valueFrom {sorted(source)}")
        return env

    def volume(self, name: str, pod_volumes: list[dict[str, Any]], fs_group: int | None) -> Path:
        """The host folder behind a pod volume: a claim (workspace), or a secret / configMap / emptyDir volume
        materialised as the kubelet would (files mode `defaultMode`, group `fsGroup`)."""
        if name in self.volumes:
            return self.volumes[name]
        spec = next((v for v in pod_volumes if v["name"] == name), None)
        if spec is None:
            raise PodError(f"volume {name!r} is not defined")
        folder = Path(tempfile.mkdtemp(prefix=f"vol-{name}-", dir=self.logs))
        sources: list[tuple[str, dict[str, Any], str]] = [
            (kind, spec[kind], key) for kind, key in (("secret", "secretName"), ("configMap", "name")) if kind in spec]
        projected = spec.get("projected")
        if projected is not None:  # one folder from several sources; the projection's defaultMode applies
            for source in projected.get("sources", []):
                for kind in ("secret", "configMap"):
                    if kind in source:
                        sources.append((kind, {"defaultMode": projected.get("defaultMode", 0o644), **source[kind]},
                                        "name"))
        for kind, ref, key in sources:
            self.materialise(folder, name, kind, ref, ref[key], fs_group)
        if not any(k in spec for k in ("secret", "configMap", "emptyDir", "projected")):
            raise PodError(f"volume {name!r}: unsupported source {sorted(spec)}")
        folder.chmod(0o755 if "emptyDir" not in spec else 0o777)
        return folder

    def materialise(self, folder: Path, volume: str, kind: str, ref: dict[str, Any], name: str,
                    fs_group: int | None) -> None:
        """Write a secret's or configMap's keys into `folder` as the kubelet does: every key, or only `items`
        (key → path), mode `defaultMode`; a missing object or key fails the pod unless `optional`."""
        store = self.secrets if kind == "secret" else self.config_maps
        if name not in store and not ref.get("optional"):
            raise PodError(f"{kind} {name!r} for volume {volume!r} not found")
        data = store.get(name, {})
        items = ref.get("items") or [{"key": k, "path": k} for k in data]
        for item in items:
            if item["key"] not in data:
                if ref.get("optional"):
                    continue
                raise PodError(f"{kind} {name!r} has no key {item['key']!r} (volume {volume!r})")
            path = folder / item["path"]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(data[item["key"]])
            path.chmod(int(item.get("mode", ref.get("defaultMode", 0o644))))
            os.chown(path, 0, fs_group if fs_group is not None else 0)

    def mount_flags(
        self, container: dict[str, Any], pod_volumes: list[dict[str, Any]], fs_group: int | None
    ) -> list[str]:
        flags = []
        for mount in container.get("volumeMounts", []):
            source = self.volume(mount["name"], pod_volumes, fs_group) / mount.get("subPath", "")
            flags += ["-v", f"{source}:{mount['mountPath']}{':ro' if mount.get('readOnly') else ''}"]
        return flags


def user_flags(pod_security: dict[str, Any], container: dict[str, Any]) -> list[str]:
    """--user / --group-add from the pod's and the container's securityContext (the container's wins)."""
    ctx = {**pod_security, **container.get("securityContext", {})}
    flags = []
    if "runAsUser" in ctx:
        user = str(ctx["runAsUser"])
        flags += ["--user", f"{user}:{ctx['runAsGroup']}" if "runAsGroup" in ctx else user]
    if ctx.get("runAsNonRoot") and str(ctx.get("runAsUser", "")) == "0":
        raise PodError("runAsNonRoot with runAsUser 0")
    if "fsGroup" in ctx:
        flags += ["--group-add", str(ctx["fsGroup"])]
    return flags


def resource_flags(resources: dict[str, Any]) -> list[str]:
    """docker's --cpus / --memory from the container's limits (what the kubelet enforces)."""
    limits = resources.get("limits", {})
    flags = []
    if "cpu" in limits:
        flags += ["--cpus", f"{quantity(limits['cpu']):g}"]
    if "memory" in limits:
        flags += ["--memory", str(math.ceil(quantity(limits["memory"])))]
    return flags


@dataclass
class Finished:
    exit_code: int
    stdout: str
    log: Path
    outputs: dict[str, str]


def run_container(
    cluster: Cluster,
    name: str,
    container: dict[str, Any],
    pod_security: dict[str, Any],
    output_files: dict[str, str] | None = None,
    timeout_s: float | None = None,
    pod_volumes: list[dict[str, Any]] | None = None,
) -> Finished:
    """Run the container to completion; read `output_files` ({name: path in the container}) before removing it."""
    cid = f"dreg-e2e-{name}-{uuid.uuid4().hex[:6]}"
    env = cluster.env(container)
    STARTED.add(cid)
    command = [
        DOCKER,
        "create",
        "--name",
        cid,
        "--network",
        "host",
        "--shm-size",
        "512m",
        *user_flags(pod_security, container),
        *resource_flags(container.get("resources", {})),
    ]
    command += cluster.mount_flags(container, pod_volumes or [], pod_security.get("fsGroup"))
    for key in env:
        command += ["-e", key]
    if container.get("workingDir"):
        command += ["-w", container["workingDir"]]
    if container.get("command"):
        command += ["--entrypoint", container["command"][0]]
    command.append(container["image"])
    command += [*container.get("command", [])[1:], *container.get("args", [])]
    created = subprocess.run(
        command, capture_output=True, text=True, env={"HOME": str(Path.home()), **env}, check=False
    )
    if created.returncode != 0:
        raise PodError(f"docker create failed: {created.stderr.strip()}")
    log = cluster.logs / f"{cid}.log"
    try:
        with log.open("w") as out:
            try:
                started = subprocess.run(
                    [DOCKER, "start", "-a", cid],
                    stdout=subprocess.PIPE,
                    stderr=out,
                    text=True,
                    timeout=timeout_s,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                subprocess.run([DOCKER, "kill", cid], capture_output=True, check=False)
                out.write(f"\n[e2e] killed after {timeout_s}s\n")
                return Finished(137, "", log, {})
            out.write(started.stdout)
        code = int(
            subprocess.run(
                [DOCKER, "inspect", "-f", "{{.State.ExitCode}}", cid],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
        )
        outputs = {}
        for key, path in (output_files or {}).items():
            copied = subprocess.run([DOCKER, "cp", f"{cid}:{path}", "-"], capture_output=True, check=False)
            if copied.returncode == 0:
                outputs[key] = _untar_one(copied.stdout)
        return Finished(code, started.stdout, log, outputs)
    finally:
        subprocess.run([DOCKER, "rm", "-f", cid], capture_output=True, check=False)


def _untar_one(data: bytes) -> str:
    import io
    import tarfile

    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        member = tar.next()
        assert member is not None
        handle = tar.extractfile(member)
        return handle.read().decode() if handle else ""
