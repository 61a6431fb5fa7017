"""Build the two images from images/ as CI does, on a local stand-in base, with this machine's package sources.

pip inside a build reads a generated pip.conf and the machine's CA bundle as BuildKit secrets (never in a layer):
the configured find-links, extra indexes and constraint files are served read-only over HTTP on 127.0.0.1
for the length of the build (`docker build --network host`).
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from tests.cluster.support import ROOT

DOCKER = os.environ.get("DOCKER", "/usr/bin/docker")
LABEL = "org.opencloudhub.dreg-e2e=1"  # on every image built here, so superseded builds can be pruned
IMAGES = ROOT / "images"
PATH_KEYS = {"find-links", "extra-index-url", "index-url", "constraint", "requirement"}
LINE = re.compile(r"^(?P<scope>[^.]*)\.(?P<key>[\w-]+)='(?P<value>.*)'$")


def pip_config() -> dict[str, str]:
    """`pip config list` of this machine as {key: value}; `:env:` entries override the config files'."""
    out = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True, check=False
    ).stdout
    found: dict[str, str] = {}
    for line in out.splitlines():
        m = LINE.match(line.strip())
        if (
            m
            and m["scope"] in ("global", "install", ":env:")
            and (m["key"] not in found or m["scope"] == ":env:")
        ):
            found[m["key"]] = m["value"]
    return found


def local_path(value: str) -> Path | None:
    """The local path a pip setting names (`/x` or `file:///x`), else None."""
    if value.startswith("file://"):
        return Path(unquote(urlparse(value).path))
    return Path(value) if value.startswith("/") else None


class ServeSome(http.server.SimpleHTTPRequestHandler):
    """Serves files under the allowed roots only (absolute paths as URL paths), quietly."""

    allowed: tuple[Path, ...] = ()

    def log_message(self, *args: object) -> None:
        pass

    def translate_path(self, path: str) -> str:
        full = Path(unquote(urlparse(path).path)).resolve()
        if not any(full == root or root in full.parents for root in self.allowed):
            return "/nonexistent"
        return str(full)


@dataclass(frozen=True)
class PipSecrets:
    """The files passed as build secrets: a pip.conf for the container and the CA bundle it names."""

    conf: Path
    ca: Path | None


@contextmanager
def pip_secrets(work: Path) -> Iterator[PipSecrets]:
    """This machine's pip sources for a container build, served on 127.0.0.1 until the block ends."""
    config = pip_config()
    roots: list[Path] = []
    for key in PATH_KEYS:
        for part in config.get(key, "").split():
            if (path := local_path(part)) is not None:
                # a file:// index links to its files relatively (../../files/...): serve its parent folder too
                roots.append(path.parent if key.endswith("index-url") else path)
    handler = type("Handler", (ServeSome,), {"allowed": tuple(p.resolve() for p in roots)})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory="/"))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"

    def served(value: str) -> str:
        path = local_path(value)
        return value if path is None else f"{base}{path.resolve()}{'/' if path.is_dir() else ''}"

    lines = ["[global]"]
    ca = Path(config["cert"]) if config.get("cert") else None
    for key, value in sorted(config.items()):
        if key == "cert":
            lines.append("cert = /run/secrets/pip-ca")
        elif key in PATH_KEYS:
            lines.append(f"{key} = {' '.join(served(v) for v in value.split())}")
        elif key != "no-cache-dir":
            lines.append(f"{key} = {value}")
    conf = work / "pip.conf"
    conf.write_text("\n".join(lines) + "\n")
    try:
        yield PipSecrets(conf, ca)
    finally:
        server.shutdown()
        server.server_close()


def build(
    dockerfile: str, tag: str, args: dict[str, str], secrets: PipSecrets | None, context: Path = ROOT
) -> str:
    """`docker build` with BuildKit on the host network (no bridge here); returns the build's log."""
    command = [
        DOCKER,
        "build",
        "--network",
        "host",
        "--progress",
        "plain",
        "-f",
        str(IMAGES / dockerfile),
        "-t",
        tag,
        "--label",
        LABEL,
    ]
    for name, value in args.items():
        command += ["--build-arg", f"{name}={value}"]
    if secrets is not None:
        command += ["--secret", f"id=pip.conf,src={secrets.conf}"]
        if secrets.ca is not None:
            command += ["--secret", f"id=pip-ca,src={secrets.ca}"]
    result = subprocess.run(
        [*command, str(context)],
        capture_output=True,
        text=True,
        env={**os.environ, "DOCKER_BUILDKIT": "1"},
        check=False,
    )
    if result.returncode != 0:
        tail = "\n".join(result.stderr.splitlines()[-30:])
        raise RuntimeError(f"docker build -f images/{dockerfile} failed:\n{tail}")
    return result.stderr


@dataclass(frozen=True)
class Images:
    pipeline: str
    ray: str


def base_rootfs() -> str:
    """The debootstrap'ed Debian bookworm image (scripts/e2e-base.sh), built once and kept."""
    result = subprocess.run(
        [str(ROOT / "scripts" / "e2e-base.sh")],
        capture_output=True,
        text=True,
        env={**os.environ, "DOCKER": DOCKER},
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"scripts/e2e-base.sh failed: {result.stderr.strip()}")
    return result.stdout.strip().splitlines()[-1]


def stand_in_bases(rootfs: str) -> tuple[str, str]:
    """The stand-ins for python:3.11-slim-bookworm and rayproject/ray (images/base-*.Dockerfile)."""
    python, ray = "dreg-e2e/base-python:local", "dreg-e2e/base-ray:local"
    build("base-python.Dockerfile", python, {"ROOTFS": rootfs}, None, IMAGES)
    build("base-ray.Dockerfile", ray, {"ROOTFS": rootfs}, None, IMAGES)
    return python, ray


def build_image(kind: str, base: str, tag: str) -> str:
    """images/<kind>.Dockerfile as CI builds it (context: the repo root), on `base`, with the local pip sources."""
    with tempfile.TemporaryDirectory(prefix="dreg-e2e-pip-") as work, pip_secrets(Path(work)) as secrets:
        build(f"{kind}.Dockerfile", tag, {"BASE": base, "DOCKER_IMAGE_TAG": tag}, secrets)
    return tag


def prune_superseded() -> None:
    """Remove earlier builds of these images (untagged by the new ones); the layer cache stays."""
    subprocess.run(
        [DOCKER, "image", "prune", "-f", "--filter", f"label={LABEL}"], capture_output=True, check=False
    )


PROBE = """
import os, pwd, sys
assert sys.version_info[:2] == (3, 11), sys.version
assert os.getuid() == 1000, os.getuid()
assert not any(os.path.exists(p) for p in ("/etc/pip.conf", "/run/secrets/pip-ca")), "pip build secrets leaked"
print(pwd.getpwuid(os.getuid()).pw_name)
"""


def check_properties(built: Images) -> None:
    """What the cluster relies on: Python 3.11, uid 1000 by default (the Ray image: user `ray`, with bash and wget
    for KubeRay's probes), and nothing of the build's pip configuration left in an image or its history."""
    for ref, user, tools in (
        (built.pipeline, "registry", "git dvc dreg"),
        (built.ray, "ray", "git bash wget ray dreg"),
    ):
        probe = subprocess.run(
            [DOCKER, "run", "--rm", "--network", "none", "--entrypoint", "python", ref, "-c", PROBE],
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode != 0 or probe.stdout.strip() != user:
            raise RuntimeError(f"{ref}: {probe.stdout.strip()} {probe.stderr.strip()[-300:]}")
        found = subprocess.run(
            [
                DOCKER,
                "run",
                "--rm",
                "--network",
                "none",
                "--entrypoint",
                "sh",
                ref,
                "-c",
                f"for t in {tools}; do command -v $t >/dev/null || echo $t; done",
            ],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.split()
        if found:
            raise RuntimeError(f"{ref}: missing {', '.join(found)}")
        history = subprocess.run(
            [DOCKER, "history", "--no-trunc", "--format", "{{.CreatedBy}}", ref],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        if "127.0.0.1" in history or "pypi" in history:
            raise RuntimeError(f"{ref}: the build's package sources appear in the image history")
