"""`make e2e`: build both images as CI does and run the rendered WorkflowTemplates in containers.

One line per step (build, each workflow task, each check) with its duration, then a summary; exit 1 on the
first failed scenario step, with the step's message and the path of its log.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.e2e import images as img
from tests.e2e.argo import ChildWorkflows, Resources, Workflow, cron_submission
from tests.e2e.containers import remove_started
from tests.e2e.kuberay import KubeRay
from tests.e2e.scenarios import SCENARIOS
from tests.e2e.world import start_world


@dataclass
class Timeline:
    """Prints `  <seconds>  <status>  <step>  <note>` per step and keeps them for the summary."""

    rows: list[tuple[str, str, float, str]] = field(default_factory=list)
    checks: dict[str, bool] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)

    def __call__(self, step: str, status: str, seconds: float, note: str = "") -> None:
        self.rows.append((step, status, seconds, note))
        print(f"{seconds:8.1f}s  {status:<8} {step}{'  ' + note if note else ''}", flush=True)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        t0 = time.monotonic()
        try:
            yield
        except BaseException as exc:
            self.checks[name] = False
            self(name, "FAILED", time.monotonic() - t0, str(exc).splitlines()[0][:300] if str(exc) else "")
            raise
        self.checks[name] = True
        self(name, "ok", time.monotonic() - t0)

    def summary(self, outcome: str) -> None:
        total = time.monotonic() - self.started
        slowest = sorted(self.rows, key=lambda r: -r[2])[:3]
        print(
            f"\ne2e {outcome} in {total:.0f}s ({total / 60:.1f} min); slowest: "
            f"{', '.join(f'{r[0]} {r[2]:.0f}s' for r in slowest)}",
            flush=True,
        )
        passed = sum(self.checks.values())
        print(f"e2e: {passed} passed, {len(self.checks) - passed} failed", flush=True)


def docker_ready(docker: str) -> str | None:
    """None when the daemon answers; else one line saying what is wrong and what to do."""
    if not Path(docker).exists() and not shutil.which(docker):
        return f"{docker} not found: run scripts/install-docker.sh (installs docker.io and starts dockerd)"
    try:
        info = subprocess.run(
            [docker, "version", "--format", "{{.Server.Version}}"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return "docker did not answer in 20s: dockerd is hung; restart it (scripts/install-docker.sh)"
    if info.returncode != 0:
        return (
            f"docker daemon not reachable ({info.stderr.strip().splitlines()[-1] if info.stderr else '?'}): "
            "run scripts/install-docker.sh as root"
        )
    return None


def timed_build(t: Timeline, kind: str, base: str, tag: str) -> str:
    with t.step(f"build images/{kind}.Dockerfile"):
        return img.build_image(kind, base, tag)


def build_images(t: Timeline) -> img.Images:
    with t.step("build base (debootstrap bookworm, reused when present)"):
        rootfs = img.base_rootfs()
    with t.step("build stand-in bases (python:3.11-slim-bookworm, rayproject/ray)"):
        python_base, ray_base = img.stand_in_bases(rootfs)
    with (
        t.step("build images/pipeline.Dockerfile + images/ray.Dockerfile (in parallel)"),
        ThreadPoolExecutor(2) as pool,
    ):
        jobs = {
            kind: pool.submit(timed_build, t, kind, base, f"dreg-e2e/{kind}:local")
            for kind, base in (("pipeline", python_base), ("ray", ray_base))
        }
        pipeline, ray = jobs["pipeline"].result(), jobs["ray"].result()
    img.prune_superseded()
    built = img.Images(pipeline, ray)
    with t.step("image properties (python 3.11, uid 1000, bash+wget, no pip config baked in)"):
        img.check_properties(built)
    return built


def main() -> int:
    t = Timeline()
    problem = docker_ready(img.DOCKER)
    if problem:
        print(f"e2e: {problem}", file=sys.stderr)
        return 2
    keep = os.environ.get("E2E_KEEP")
    base = Path(tempfile.mkdtemp(prefix="dreg-e2e-"))
    outcome = "FAILED"
    try:
        built = build_images(t)
        with ExitStack() as stack:
            with t.step(
                "start services (git daemon, SeaweedFS S3, PostgreSQL+pgvector, sources) + scratch registry"
            ):
                world = start_world(stack, base, built)
            wanted = (
                os.environ.get("E2E_SCENARIOS", "").split(",") if os.environ.get("E2E_SCENARIOS") else None
            )
            for scenario in SCENARIOS:
                if wanted is None or scenario.__name__ in wanted:
                    scenario(world, t, run_workflow_factory(world, t))
        outcome = "passed"
        return 0
    except Exception as exc:  # noqa: BLE001  (one clear line, the summary, the logs' folder)
        print(f"\ne2e: {type(exc).__name__}: {exc}", file=sys.stderr)
        print(f"e2e: logs and scratch state kept in {base}", file=sys.stderr)
        keep = "1"
        return 1
    finally:
        remove_started()
        t.summary(outcome)
        if not keep:
            shutil.rmtree(base, ignore_errors=True)


def run_workflow_factory(world, t: Timeline) -> Callable[..., Workflow]:
    """`run(template, **arguments)`: a fresh workspace, the rendered template (a WorkflowTemplate, or the one a
    CronWorkflow submits), KubeRay for its RayJobs and this player again for the Workflows it creates."""
    backoff = float(os.environ.get("E2E_BACKOFF_SCALE", "0.1"))
    rendered = world.rendered()
    templates = {d["metadata"]["name"]: d for d in rendered if d.get("kind") == "WorkflowTemplate"}
    crons = {d["metadata"]["name"]: d for d in rendered if d.get("kind") == "CronWorkflow"}

    def play(doc: dict, arguments: dict[str, str], name: str = "") -> Workflow:
        template = doc["metadata"]["name"]
        runs = len(list(world.base.glob(f"runs/{template}-*")))
        home = world.base / "runs" / f"{template}-{runs}"
        cluster = world.cluster(home / "workspace", home / "logs")
        resources = Resources({"RayJob": KubeRay(cluster, t), "Workflow": ChildWorkflows(templates, play)})
        wf = Workflow(doc, arguments, cluster, resources, t, backoff_scale=backoff, name=name)
        t0 = time.monotonic()
        wf.run()
        args = " ".join(f"{k}={v}" for k, v in arguments.items())
        t(f"{wf.name if name else template} workflow ({args})", wf.phase.lower(), time.monotonic() - t0)
        return wf

    def run(template: str, **arguments: str) -> Workflow:
        if template in crons:
            doc, scheduled = cron_submission(crons[template], templates)
            return play(doc, {**scheduled, **arguments})
        return play(templates[template], arguments)

    return run


if __name__ == "__main__":
    sys.exit(main())
