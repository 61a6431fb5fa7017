"""The real `dreg` CLI on a scratch registry with the embedded server: run → publish, forced rerun, search."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from steps.dev.scaffold import update_params
from tests.support.corpus import V1
from tests.support.embeddings import (
    DATASET,
    SOURCE,
    TEST_PARAMS,
    V1_TAG,
    auto_precision,
    expected_rows,
    ray_log_lines,
)
from tests.support.registry import cli_env, commit_all, run_dreg, tags

pytestmark = pytest.mark.xdist_group("embeddings")  # one pgserver and one Ray per worker

ENV = {"HF_HUB_OFFLINE": "1", "DREG_RAY_NUM_CPUS": "2", "DREG_RAY_OBJECT_STORE_MB": "200", "COLUMNS": "240"}


@pytest.fixture(scope="module")
def published(sources) -> Iterator[dict[str, Any]]:
    """`dreg run` of the embeddings pipeline on v1.0.0, with no PGVECTOR_HOST (embedded server in .dreg/pgdata)."""
    from steps.embeddings.pgserver import stop_embedded

    root = sources.root
    update_params(root, DATASET, {"embed": {**TEST_PARAMS, "source_version": V1_TAG, "table": "cli_readmes"}})
    commit_all(root, "embed the v1.0.0 readmes")
    run = run_dreg(root, "run", DATASET, env=cli_env(**ENV))
    yield {"root": root, "run": run}
    stop_embedded(root / ".dreg" / "pgdata")


def test_dreg_run_embeds_into_the_embedded_server_and_publishes(published):
    root, run = published["root"], published["run"]
    assert run.returncode == 0, run.stderr[-3000:]
    assert f"{DATASET}-v1.0.0" in tags(root)
    assert f"data in {root / '.dreg' / 'pgdata'}" in run.stderr and "connect: psql" in run.stderr
    meta = json.loads((root / "data" / DATASET / "metadata.json").read_text())
    report = json.loads((root / "data" / DATASET / "embed_report.json").read_text())
    rows = len(expected_rows(V1))
    assert meta["metrics"]["table"] == {"rows": rows, "rows_equal_chunks_written": True}
    assert report["chunks"]["written"] == rows and meta["metrics"]["chunks"] == report["chunks"]
    assert meta["metrics"]["model"] == {"name": "sentence-transformers/all-MiniLM-L6-v2", "dim": 384,
                                        "precision": auto_precision()}
    assert meta["metrics"]["index"] == {"m": 16, "ef_construction": 64}
    recall = meta["metrics"]["hnsw_recall"]
    assert recall["index_used"] and recall["queries"] == min(rows, 50) and recall["recall"] >= 0.9
    assert meta["lineage"]["upstream"] == {SOURCE: V1_TAG}
    assert meta["lineage"]["run"]["embedded"] == rows and meta["lineage"]["run"]["reused"] == 0
    assert meta["schema"]["consumer"]["langchain_postgres.PGVectorStore"]["metadata_json_column"] == "metadata"
    ignored = subprocess.run(["git", "check-ignore", "-q", ".dreg/pgdata"], cwd=root, check=False).returncode
    assert ignored == 0


def test_a_normal_embedding_run_prints_no_ray_warnings_or_errors(published):
    run = published["run"]
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Ray: started in-process" in run.stderr  # the local path, not a cluster connection
    assert ray_log_lines(run.stderr) == []


def test_forced_embed_reuses_every_vector_and_makes_no_new_release(published):
    root = published["root"]
    before = tags(root)
    forced = run_dreg(root, "stage", DATASET, "embed", "--force", env=cli_env(**ENV))
    assert forced.returncode == 0, forced.stderr[-3000:]
    assert ray_log_lines(forced.stderr) == []
    assert f"embedded 0, reused {len(expected_rows(V1))}" in " ".join(forced.stdout.split())
    again = run_dreg(root, "run", DATASET, env=cli_env(**ENV))
    assert again.returncode == 0, again.stderr[-3000:]
    assert "nothing changed" in again.stdout and tags(root) == before


def test_a_one_cpu_ray_reads_chunks_and_embeds_in_one_actor_without_starving(published):
    """Reading and chunking fuse with the embedder: on one CPU, separate read tasks would wait for ever."""
    env = cli_env(**{**ENV, "DREG_RAY_NUM_CPUS": "1"})
    run = run_dreg(published["root"], "stage", DATASET, "embed", "--force", env=env, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "(1 CPUs, 0 GPUs)" in run.stderr
    assert f"embedded 0, reused {len(expected_rows(V1))}" in " ".join(run.stdout.split())
    assert ray_log_lines(run.stderr) == []


def test_dreg_search_ranks_the_planted_chunk_first(published):
    result = run_dreg(published["root"], "search", "how do I rotate the MinIO access keys?", "--k", "3",
                      env=cli_env(**ENV))
    assert result.returncode == 0, result.stderr[-3000:]
    ranked = [line for line in result.stdout.splitlines() if line.startswith(("│ 1 ", "│ 2 ", "│ 3 "))]
    assert len(ranked) == 3, result.stdout
    assert "secrets-vault" in ranked[0] and "Rotating MinIO" in ranked[0], result.stdout


def test_hostile_table_name_in_params_stops_the_cli_before_anything_runs(published):
    root = published["root"]
    update_params(root, DATASET, {"embed": {"table": "cli_readmes; DROP TABLE cli_readmes"}})
    try:
        result = run_dreg(root, "stage", DATASET, "embed", env=cli_env(**ENV))
    finally:
        subprocess.run(["git", "checkout", "--", f"pipelines/{DATASET}/params.yaml"], cwd=root, check=True)
    assert result.returncode == 1
    assert "embed.table" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    search = run_dreg(root, "search", "minio keys", "--k", "1", env=cli_env(**ENV))
    assert search.returncode == 0 and "secrets-vault" in search.stdout
