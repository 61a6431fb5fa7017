"""System test: a real Ray head (`ray start --head` on 127.0.0.1) runs the entrypoint submitted through the Jobs API."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from psycopg import sql

from steps.dev.scaffold import PROJECT_ROOT
from tests.support.corpus import V2
from tests.support.embeddings import DATASET, TEST_PARAMS, V2_TAG, expected_rows
from tests.support.registry import VENV_BIN
from tests.support.servers import free_port

pytestmark = pytest.mark.xdist_group("embeddings")  # one pgserver and one Ray per worker


PORTS = ("dashboard-agent-listen-port", "dashboard-agent-grpc-port", "runtime-env-agent-port", "metrics-export-port",
         "node-manager-port", "object-manager-port", "ray-client-server-port")


@pytest.fixture
def ray_head(tmp_path: Path) -> Iterator[str]:
    """A Ray head with the Jobs API on 127.0.0.1 only (token auth off), on its own ports so that it can run beside
    the session's in-process Ray; stopped with SIGTERM (only the one we started)."""
    from ray.job_submission import JobSubmissionClient

    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S": "0",
           "PATH": VENV_BIN + os.pathsep + os.environ["PATH"]}
    dashboard, temp = free_port(), tempfile.mkdtemp(prefix="rayh", dir="/tmp")
    log = (tmp_path / "ray-head.log").open("w")
    head = subprocess.Popen(
        [str(Path(VENV_BIN) / "ray"), "start", "--head", "--block", "--node-ip-address=127.0.0.1",
         f"--port={free_port()}", "--dashboard-host=127.0.0.1", f"--dashboard-port={dashboard}", "--num-cpus=2",
         *(f"--{name}={free_port()}" for name in PORTS),
         "--object-store-memory=200000000", "--include-dashboard=true", "--disable-usage-stats", f"--temp-dir={temp}"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{dashboard}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                JobSubmissionClient(url)
                break
            except Exception:  # noqa: BLE001  (not up yet)
                assert head.poll() is None and time.monotonic() < deadline, (tmp_path / "ray-head.log").read_text()
                time.sleep(1)
        yield url
    finally:
        head.send_signal(signal.SIGTERM)
        try:
            head.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
        log.close()


@pytest.mark.system
def test_entrypoint_submitted_as_a_ray_job_fills_the_table(ray_head, pg, sources, tmp_path):
    from ray.job_submission import JobStatus, JobSubmissionClient

    url = ray_head
    work = tmp_path / "job"
    params = work / "pipelines" / DATASET / "params.yaml"
    params.parent.mkdir(parents=True)
    params.write_text(yaml.safe_dump({"embed": {**TEST_PARAMS, "source_version": V2_TAG, "table": "ray_job"}}))
    client = JobSubmissionClient(url)
    submit = {
        "entrypoint": f"cd {work} && {sys.executable} -m steps.datasets.opencloudhub_readmes_embeddings embed",
        "runtime_env": {"env_vars": {
            "PGVECTOR_HOST": pg.socket_dir, "PGVECTOR_USER": "postgres", "PGVECTOR_DATABASE": "postgres",
            "HF_HUB_OFFLINE": "1", "DREG_REGISTRY_URL": str(sources.origin), "PYTHONPATH": str(PROJECT_ROOT),
            "DVC_NO_ANALYTICS": "1"}},
    }
    deadline = time.monotonic() + 60
    while True:
        try:
            job = client.submit_job(**submit)
            break
        except RuntimeError as exc:  # the job agent comes up a little after the dashboard
            assert "No available agent" in str(exc) and time.monotonic() < deadline, exc
            time.sleep(1)
    deadline = time.monotonic() + 240
    while not (status := client.get_job_status(job)).is_terminal() and time.monotonic() < deadline:
        time.sleep(1)
    logs = client.get_job_logs(job)
    assert status == JobStatus.SUCCEEDED, logs[-3000:]
    assert "Ray: connected to the Ray cluster at" in logs
    with pg.connect() as conn:
        ids = {str(r[0]) for r in conn.execute(sql.SQL("SELECT id FROM {}").format(sql.Identifier("ray_job")))}
    assert ids == set(expected_rows(V2))
    assert (work / "data" / DATASET / "embed_report.json").exists()
