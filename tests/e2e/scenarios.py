"""The e2e scenarios: each runs a rendered WorkflowTemplate in containers and checks what a user relies on."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from tests.e2e.world import DVC, NIGHTLY, World, twin
from tests.support.registry import cli_env, run_dreg, tags

IDENTITY = {
    "GIT_AUTHOR_NAME": "data-registry-bot",
    "GIT_AUTHOR_EMAIL": "bot@localhost",
    "GIT_COMMITTER_NAME": "data-registry-bot",
    "GIT_COMMITTER_EMAIL": "bot@localhost",
}
EMBEDDINGS = "opencloudhub-readmes-embeddings"


class ScenarioFailed(AssertionError):
    """A check of a scenario did not hold."""


def check(ok: bool, message: str) -> None:
    if not ok:
        raise ScenarioFailed(message)


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


def release_view(repo: Path, dataset: str, tag: str) -> dict[str, Any]:
    """What a release consists of: output hashes, metadata without volatile lineage, the files it changed."""
    lock = yaml.safe_load(git(repo, "show", f"{tag}:pipelines/{dataset}/dvc.lock"))
    metadata_path = f"data/{dataset}/metadata.json"
    outs = {
        o["path"]: o.get("md5")
        for stage in lock["stages"].values()
        for o in stage.get("outs", [])
        if o["path"] != metadata_path
    }
    meta = json.loads(git(repo, "show", f"{tag}:{metadata_path}"))
    lineage = meta.pop("lineage", {})
    stable = {k: v for k, v in lineage.items() if k in ("source", "params", "code_commit", "upstream")}
    changed = sorted(git(repo, "show", "--name-only", "--format=", f"{tag}^{{commit}}").split())
    return {"outs": outs, "metadata": meta, "lineage": stable, "files": changed}


def new_tags(origin: Path, before: list[str], dataset: str) -> list[str]:
    return [t for t in tags(origin) if t not in before and t.startswith(f"{dataset}-v")]


def data_on_remote(world: World, tag: str, dataset: str) -> None:
    """A fresh clone of origin at `tag` pulls every output of the release from the S3 remote."""
    clone = world.base / f"verify-{tag}"
    git(world.base, "clone", "-q", "--branch", tag, str(world.reg.origin), str(clone))
    env = {**os.environ, **world.aws_env(), "DVC_NO_ANALYTICS": "1"}
    for args in (
        ["remote", "modify", "--local", "minio", "url", world.s3_url],
        ["remote", "modify", "--local", "minio", "endpointurl", world.s3.url],
        ["pull", "-q", "-r", "minio", f"pipelines/{dataset}/dvc.yaml"],
        ["status", f"pipelines/{dataset}/dvc.yaml"],
    ):
        proc = subprocess.run([DVC, *args], cwd=clone, env=env, capture_output=True, text=True, check=False)
        check(proc.returncode == 0, f"dvc {args[0]} at {tag}: {(proc.stderr or proc.stdout).strip()[-300:]}")
    status = subprocess.run(
        [DVC, "status", "--json", f"pipelines/{dataset}/dvc.yaml"],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    check(json.loads(status or "{}") == {}, f"{tag}: pulled data differs from its dvc.lock: {status[:300]}")


def local_release(world: World, origin: Path, dataset: str, **env: str) -> str:
    """`dreg run DATASET --push` on the host (local profile) into `origin`; the tag it made."""
    clone = world.base / f"local-{dataset}"
    git(world.base, "clone", "-q", str(origin), str(clone))
    before = tags(origin)
    result = run_dreg(clone, "run", dataset, "--push", env=cli_env(**IDENTITY, **env))
    check(
        result.returncode == 0, f"local dreg run {dataset}: {(result.stderr or result.stdout).strip()[-400:]}"
    )
    made = new_tags(origin, before, dataset)
    check(len(made) == 1, f"local dreg run {dataset} made tags {made}")
    return made[0]


def timed(t: Any, name: str) -> Any:
    return t.step(name)


def wine_quality(world: World, t: Any, run: Callable[..., Any]) -> None:
    """Rendered wine-quality workflow → a tag on origin, its data on the S3 remote, the same as `dreg run`."""
    dataset = "wine-quality"
    twin_origin = twin(world, dataset)
    before = tags(world.reg.origin)
    wf = run(dataset, git_rev="main")
    with timed(t, f"{dataset}: workflow succeeded and tagged origin once"):
        failed = [f"{n.name}: {n.message} (log {n.log})" for n in wf.nodes if n.phase != "Succeeded"]
        check(wf.phase == "Succeeded" and not failed, f"workflow {wf.phase}: {failed}")
        made = new_tags(world.reg.origin, before, dataset)
        check(made == [f"{dataset}-v1.0.0"], f"new tags on origin: {made}")
    with timed(t, f"{dataset}: release data pulls from the S3 remote in a fresh clone"):
        data_on_remote(world, made[0], dataset)
    with timed(t, f"{dataset}: local `dreg run` releases the same outputs (hashes, metadata, files)"):
        tag = local_release(world, twin_origin, dataset, DVC_LOCAL_REMOTE_URL=str(world.base / "twin-remote"))
        cluster, local = (
            release_view(world.reg.origin, dataset, made[0]),
            release_view(twin_origin, dataset, tag),
        )
        check(
            cluster["outs"] and all(cluster["outs"].values()),
            f"release without output hashes: {cluster['outs']}",
        )
        check(cluster == local, f"container release differs from local: {cluster} != {local}")


def nightly(world: World, t: Any, run: Callable[..., Any]) -> None:
    """The CronWorkflow as its schedule would fire it: data-pipelines fans out one Workflow per dataset (a
    resource template creating a Workflow from the dataset's template), each played to its end."""
    before = tags(world.reg.origin)
    wf = run("data-pipelines-nightly")
    with timed(t, f"data-pipelines-nightly: the fan-out ran {', '.join(NIGHTLY)} as child workflows"):
        failed = [f"{n.name}: {n.message}" for n in wf.nodes if n.phase != "Succeeded"]
        check(wf.phase == "Succeeded" and not failed, f"fan-out {wf.phase}: {failed}")
        children = wf.resources.handlers["Workflow"].played
        ran = sorted(c.doc["metadata"]["name"] for c in children)
        check(ran == sorted(NIGHTLY), f"child workflows {ran}, expected {sorted(NIGHTLY)}")
        check(all(c.phase == "Succeeded" and c.parameters["is_automated"] == "true" for c in children),
              f"children: {[(c.name, c.phase, c.parameters.get('is_automated')) for c in children]}")
    with timed(t, "data-pipelines-nightly: unchanged data makes no new release"):
        check(tags(world.reg.origin) == before, f"new tags: {sorted(set(tags(world.reg.origin)) - set(before))}")


def bad_revision(world: World, t: Any, run: Callable[..., Any]) -> None:
    """A revision that does not exist: checkout is retried per its retryStrategy, the workflow fails, no tag."""
    dataset = "wine-quality"
    before = tags(world.reg.origin)
    wf = run(dataset, git_rev="no-such-revision")
    with timed(t, f"{dataset} (bad git_rev): failed after the retries, later tasks omitted, nothing tagged"):
        checkout = [n for n in wf.nodes if n.name.endswith("/checkout")]
        template = {x["name"]: x for x in wf.doc["spec"]["templates"]}["checkout"]
        limit = int(template.get("retryStrategy", {}).get("limit", 0))
        check(wf.phase == "Failed", f"workflow {wf.phase}")
        check(
            len(checkout) == 1 and checkout[0].tries == limit + 1,
            f"checkout tries: {[n.tries for n in checkout]}",
        )
        check(len(wf.nodes) == 1, f"tasks after a failed checkout ran: {[n.name for n in wf.nodes]}")
        check(tags(world.reg.origin) == before, "a failed workflow changed origin's tags")


def table_rows(world: World, database: str, table: str) -> dict[str, str]:
    import psycopg

    with psycopg.connect(world.pg.uri(database)) as conn:
        return {str(i): c for i, c in conn.execute(f'SELECT id, md5(content) FROM "{table}"').fetchall()}


def embeddings(world: World, t: Any, run: Callable[..., Any]) -> None:
    """readmes release → RayJob embed on CPU workers → import → analyze → publish, into PostgreSQL+pgvector."""
    import psycopg

    twin_origin = twin(world, EMBEDDINGS)
    before = tags(world.reg.origin)
    wf = run(EMBEDDINGS, compute_profile="cpu-small")
    with timed(t, f"{EMBEDDINGS}: workflow succeeded (RayJob on CPU workers) and tagged origin once"):
        failed = [f"{n.name}: {n.message} (log {n.log})" for n in wf.nodes if n.phase != "Succeeded"]
        check(wf.phase == "Succeeded" and not failed, f"workflow {wf.phase}: {failed}")
        made = new_tags(world.reg.origin, before, EMBEDDINGS)
        check(made == [f"{EMBEDDINGS}-v1.0.0"], f"new tags on origin: {made}")
    params = yaml.safe_load((world.reg.root / "pipelines" / EMBEDDINGS / "params.yaml").read_text())
    table = params["embed"]["table"]
    with timed(t, f"{EMBEDDINGS}: vectors are in PostgreSQL, release data pulls from the S3 remote"):
        cluster_rows = table_rows(world, "postgres", table)
        check(len(cluster_rows) > 0, f"table {table} is empty")
        data_on_remote(world, made[0], EMBEDDINGS)
    with timed(t, f"{EMBEDDINGS}: local `dreg run` releases the same outputs and the same rows"):
        with psycopg.connect(world.pg.uri(), autocommit=True) as conn:
            conn.execute("CREATE DATABASE local")
        tag = local_release(
            world,
            twin_origin,
            EMBEDDINGS,
            PGVECTOR_HOST=world.pg.host,
            PGVECTOR_PORT=str(world.pg.port),
            PGVECTOR_USER=world.pg.user,
            PGVECTOR_PASSWORD=world.pg.password,
            PGVECTOR_DATABASE="local",
            HF_HUB_OFFLINE="1",
        )
        cluster, local = (
            release_view(world.reg.origin, EMBEDDINGS, made[0]),
            release_view(twin_origin, EMBEDDINGS, tag),
        )
        check(cluster == local, f"container release differs from local: {cluster} != {local}")
        check(
            table_rows(world, "local", table) == cluster_rows,
            "local and container runs stored different rows",
        )


SCENARIOS = [wine_quality, nightly, bad_revision, embeddings]
