"""The e2e world: local services, a scratch registry served as the cluster's git origin, the chart's rendered
WorkflowTemplates and ConfigMap for values pointing at them, and the Secrets from a local env file."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from steps.dev.readmes import SOURCE, readmes_registry, release_readmes
from steps.dev.scaffold import Registry
from tests.cluster.support import helm_binary, helm_template
from tests.e2e.containers import Cluster
from tests.e2e.services import GitServer, Postgres, git_daemon, postgres_tcp
from tests.support.corpus import V1
from tests.support.registry import use_sources
from tests.support.servers import S3Endpoint, SourceServer, seaweed_s3, serve_sources
from tests.support.sources import point_sources, write_core_sources

README_TAG = f"{SOURCE}-v1.0.0"
NIGHTLY = ("wine-quality",)  # what the CronWorkflow's fan-out runs here
S3_KEY, S3_SECRET = "e2e-access-key", "e2e-secret-key"
DVC = str(Path(sys.executable).parent / "dvc")


@dataclass
class World:
    base: Path
    reg: Registry
    git: GitServer
    s3: S3Endpoint
    pg: Postgres
    sources: SourceServer
    values: Path
    secrets_file: Path

    @property
    def origin_url(self) -> str:
        return f"{self.git.url}{self.reg.origin.name}"

    @property
    def s3_url(self) -> str:
        return f"s3://{self.s3.bucket}/dvc"

    def aws_env(self) -> dict[str, str]:
        return {
            "AWS_ACCESS_KEY_ID": S3_KEY,
            "AWS_SECRET_ACCESS_KEY": S3_SECRET,
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def rendered(self) -> list[dict[str, Any]]:
        """`helm template` of the chart (its generated/ from `make render`) with this world's values."""
        return helm_template(helm_binary(), "-f", str(self.values))

    def cluster(self, workspace: Path, logs: Path) -> Cluster:
        """The namespace as the pods see it: the chart's ConfigMaps, the Secrets file, a fresh workspace volume."""
        config_maps = {
            d["metadata"]["name"]: {k: str(v) for k, v in d.get("data", {}).items()}
            for d in self.rendered()
            if d.get("kind") == "ConfigMap"
        }
        workspace.mkdir(parents=True)
        os.chown(workspace, 1000, 1000)  # fsGroup 1000: the volume is writable by the pod's group
        logs.mkdir(parents=True, exist_ok=True)
        return Cluster(config_maps, read_secrets(self.secrets_file), {"workspace": workspace}, logs)


def read_secrets(path: Path) -> dict[str, dict[str, str]]:
    """`<secret>/<key>=<value>` lines (a local stand-in for the namespace's Secrets) → {secret: {key: value}}."""
    out: dict[str, dict[str, str]] = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            ref, value = line.split("=", 1)
            secret, key = ref.strip().split("/", 1)
            out.setdefault(secret, {})[key] = value
    return out


def write_values(path: Path, images: Any, git: GitServer, s3: S3Endpoint, pg: Postgres, origin: str) -> None:
    """Chart values for this machine: the built images, the local services; MLflow is not used here."""

    def image(ref: str) -> dict[str, str]:
        repository, tag = ref.rsplit(":", 1)
        return {"repository": repository, "tag": tag, "digest": ""}

    values = {
        "localImages": True,  # built here, never pushed: no registry digest (as on kind)
        "image": image(images.pipeline),
        "rayImage": image(images.ray),
        "git": {"repoUrl": origin, "authorName": "data-registry-bot", "authorEmail": "bot@localhost"},
        "dvc": {"remote": "minio", "url": f"s3://{s3.bucket}/dvc", "endpointUrl": s3.url},
        "postgres": {"host": pg.host, "port": pg.port, "user": pg.user, "database": "postgres"},
        "mlflow": {"trackingUri": "http://127.0.0.1:9"},
        "cron": {"enabled": True, "schedule": "0 2 * * *", "timezone": "UTC", "datasets": list(NIGHTLY)},
    }
    path.write_text(yaml.safe_dump(values, sort_keys=False))


def write_secrets(path: Path, pg: Postgres) -> None:
    """The Secrets the templates reference (names/keys from the chart's default values), mode 0600."""
    path.write_text(
        "# e2e stand-in for the namespace's Secrets: <secret>/<key>=<value>\n"
        "data-registry-git/token=e2e-unused-token\n"
        f"data-registry-s3/AWS_ACCESS_KEY_ID={S3_KEY}\n"
        f"data-registry-s3/AWS_SECRET_ACCESS_KEY={S3_SECRET}\n"
        f"data-registry-pgvector/password={pg.password}\n"
    )
    path.chmod(0o600)


def push_readmes_to_s3(root: Path, env: dict[str, str], s3: S3Endpoint, url: str) -> None:
    """The readmes release's data on the S3 remote too (release_readmes pushes to the `local` remote)."""
    for args in (
        ["remote", "modify", "--local", "minio", "url", url],
        ["remote", "modify", "--local", "minio", "endpointurl", s3.url],
        ["push", "-q", "-r", "minio"],
    ):
        subprocess.run([DVC, *args], cwd=root, env=env, check=True, capture_output=True)


def start_world(stack: ExitStack, base: Path, images: Any) -> World:
    """Services on 127.0.0.1 and a scratch registry: wine-quality on the local source host, a readmes release."""
    sources = stack.enter_context(serve_sources(base / "sources", write_core_sources))
    os.environ.update(AWS_ACCESS_KEY_ID=S3_KEY, AWS_SECRET_ACCESS_KEY=S3_SECRET)
    s3 = stack.enter_context(seaweed_s3("registry", S3_KEY, S3_SECRET))
    pg = stack.enter_context(postgres_tcp(base / "pgdata", "e2e-" + os.urandom(6).hex()))
    reg = readmes_registry(base / "scratch")
    use_sources(reg.root, sources, point_sources, "Use local sources")
    release_readmes(reg.root, V1, README_TAG, missing=("ghost-repo",))
    git = stack.enter_context(git_daemon(reg.origin.parent))
    world_env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    world = World(base, reg, git, s3, pg, sources, base / "values.yaml", base / "secrets.env")
    push_readmes_to_s3(reg.root, world_env, s3, world.s3_url)
    write_values(world.values, images, git, s3, pg, world.origin_url)
    write_secrets(world.secrets_file, pg)
    return world


def twin(world: World, name: str) -> Path:
    """A copy of origin as it is now (before the cluster run), for the local `dreg run` to release into."""
    copy = world.base / f"{name}-origin.git"
    shutil.copytree(world.reg.origin, copy)
    return copy
