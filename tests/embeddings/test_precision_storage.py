"""`precision: auto` (the choice rule, with a fake probe), `storage: halfvec` (a round trip through the real
embedded PostgreSQL) and `search` embedding the query with the table's recorded model and precision."""

from __future__ import annotations

import json
import uuid

import numpy as np
import pytest

from steps.embeddings.model import AUTO_RECALL, choose_precision, precision_candidates
from steps.embeddings.spec import DEFAULT_MODEL, EmbedParams
from tests.support.embeddings import V1_TAG

pytestmark = pytest.mark.xdist_group("embeddings")

DOCS = [("secrets-vault", "Rotate the MinIO access keys every 90 days with mc admin."),
        ("bakery", "Feed the starter with flour and water, then bake the loaf at 230 degrees."),
        ("tides", "Tide tables list high and low water for each harbour."),
        ("kube", "Helm charts install the ingress controller into the cluster."),
        ("pg", "Vacuum the PostgreSQL tables so dead rows are reclaimed.")]


def fake_probe(figures: dict[str, tuple[float, float]]):
    seen: list[str] = []

    def probe(precision: str) -> tuple[float, float]:
        seen.append(precision)
        return figures[precision]

    return probe, seen


@pytest.mark.parametrize(("figures", "chosen"), [
    ({"fp32": (1.0, 1.0), "int8": (0.5, 0.995), "bf16": (0.4, 0.999)}, "bf16"),   # fastest that keeps recall
    ({"fp32": (1.0, 1.0), "int8": (0.5, 0.995), "bf16": (0.4, 0.98)}, "int8"),    # bf16 loses recall
    ({"fp32": (1.0, 1.0), "int8": (0.5, AUTO_RECALL - 0.001), "bf16": (1.2, 1.0)}, "fp32"),  # lossy / slower
    ({"fp32": (1.0, 1.0), "int8": (1.0, 1.0), "bf16": (1.0, 1.0)}, "fp32"),       # a tie keeps fp32
])
def test_auto_picks_the_fastest_backend_that_keeps_recall_and_never_a_slower_one(figures, chosen):
    probe, seen = fake_probe(figures)
    assert choose_precision(probe, ["fp32", "int8", "bf16"]) == chosen
    assert seen == ["fp32", "int8", "bf16"]  # each measured once, fp32 first


def test_auto_measures_bf16_only_where_the_cpu_flags_say_it_is_native():
    assert precision_candidates(frozenset({"avx2", "avx512f"})) == ["fp32", "int8"]
    assert precision_candidates(frozenset({"avx512_bf16"})) == ["fp32", "int8", "bf16"]
    assert precision_candidates(frozenset({"amx_bf16"})) == ["fp32", "int8", "bf16"]
    probe, seen = fake_probe({"fp32": (1.0, 1.0), "int8": (0.6, 0.999)})
    assert choose_precision(probe, precision_candidates(frozenset())) == "int8" and "bf16" not in seen


def test_storage_is_validated_and_left_out_of_the_recorded_params_by_default():
    default = EmbedParams(source_version=V1_TAG)
    assert default.storage == "vector" and "storage" not in default.model_dump(mode="json")
    assert EmbedParams(source_version=V1_TAG, storage="halfvec").model_dump(mode="json")["storage"] == "halfvec"
    assert EmbedParams(source_version=V1_TAG, precision="auto").precision == "auto"
    with pytest.raises(ValueError, match="vector, halfvec"):
        EmbedParams(source_version=V1_TAG, storage="bit")


@pytest.fixture(scope="module")
def doc_vectors() -> np.ndarray:
    from steps.embeddings.model import load_model, resolve_model

    return np.asarray(load_model(resolve_model(DEFAULT_MODEL)).encode([t for _, t in DOCS]), np.float32)


def write(conn, table: str, vectors: np.ndarray, storage: str, precision: str = "fp32", reuse: int = 0):
    """Stage DOCS (the first `reuse` without a vector: taken from the live table) and merge them into `table`."""
    from steps.embeddings.store import StagingWriter, VectorTable, merge

    StagingWriter(conn, vectors.shape[1]).write(
        (uuid.UUID(int=i), text, None if i < reuse else vec,
         json.dumps({"source_repo": repo, "content_sha256": str(i), "embedding_model": DEFAULT_MODEL,
                     "embedding_precision": precision}), str(i))
        for i, ((repo, text), vec) in enumerate(zip(DOCS, vectors, strict=True)))
    return merge(conn, VectorTable(table, vectors.shape[1], DEFAULT_MODEL, precision, storage=storage), {})


def test_halfvec_table_round_trip(pg, doc_vectors):
    from psycopg import sql

    from steps.embeddings.store import describe, index_name

    with db(pg) as conn:
        first = write(conn, "half_docs", doc_vectors, "halfvec")
        info = describe(conn, "half_docs")
        assert first.path == "full" and first.rows == len(DOCS)
        assert info.storage == "halfvec" and info.dim == 384 and info.index == {"m": 16, "ef_construction": 64}
        opclass = conn.execute("SELECT opc.opcname FROM pg_index i JOIN pg_opclass opc ON opc.oid = i.indclass[0]"
                               " JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = %s",
                               [index_name("half_docs")]).fetchone()[0]
        assert opclass == "halfvec_cosine_ops"
        stored = conn.execute(sql.SQL("SELECT embedding::vector FROM half_docs ORDER BY id")).fetchall()
        got = np.array([r[0].to_numpy() for r in stored])
        assert np.allclose(got, doc_vectors.astype(np.float16).astype(np.float32), atol=1e-7)
        again = write(conn, "half_docs", doc_vectors, "halfvec", reuse=2)  # same rows, two vectors reused
        assert (again.path, again.reused, again.inserted, again.deleted) == ("incremental", 2, 0, 0)
        back = write(conn, "half_docs", doc_vectors, "vector")  # a change of storage is a full replace
        assert back.path == "full" and describe(conn, "half_docs").storage == "vector"
        assert "storage" not in describe(conn, "half_docs").state


def db(pg):
    """A pipeline connection to the session's server (the `vector` extension created if missing)."""
    from pathlib import Path

    from steps.embeddings.db import connect, pg_target

    return connect(pg_target(Path(pg.pgdata), announce=False))


def exact_top(vectors: np.ndarray, query: np.ndarray, k: int) -> list[str]:
    order = np.argsort(-(vectors @ query / np.linalg.norm(vectors, axis=1) / np.linalg.norm(query)))[:k]
    return [DOCS[i][1] for i in order]


@pytest.mark.parametrize("storage", ["vector", "halfvec"])
def test_search_returns_the_exact_top_k_of_the_fp32_query_on_an_fp32_table(pg, doc_vectors, storage):
    from steps.embeddings.model import load_model, resolve_model
    from steps.embeddings.query import search, table_identity

    table = f"search_{storage}"
    query = "how do I rotate the MinIO keys?"
    with db(pg) as conn:
        write(conn, table, doc_vectors, storage)
        assert table_identity(conn, table) == (DEFAULT_MODEL, "fp32", storage)
        hits = search(conn, table, query, k=3)
    q = load_model(resolve_model(DEFAULT_MODEL)).encode([query])[0]
    assert [h.content for h in hits] == exact_top(doc_vectors, q, 3)
    assert hits[0].metadata["source_repo"] == "secrets-vault"


def test_search_embeds_the_query_at_the_tables_recorded_precision(pg, doc_vectors, monkeypatch):
    from steps.embeddings import query as q

    loaded: list[tuple[str, str]] = []

    class Fake:
        def encode(self, texts, **_):
            return doc_vectors[:1]

    def fake_model(model: str, precision: str):
        loaded.append((model, precision))
        return Fake()

    monkeypatch.setattr(q, "query_model", fake_model)
    with db(pg) as conn:
        write(conn, "search_int8", doc_vectors, "vector", precision="int8")
        hits = q.search(conn, "search_int8", "anything", k=1)
    assert loaded == [(DEFAULT_MODEL, "int8")] and hits[0].metadata["source_repo"] == "secrets-vault"
    assert q.query_precision("fp16") == "fp32" and q.query_precision("bf16") == "bf16"


def test_resolve_precision_auto_measures_on_the_cpu_and_int8_is_cpu_only(monkeypatch):
    from steps.embeddings import model
    from steps.errors import DregError

    monkeypatch.setattr(model, "auto_precision", lambda path: f"chosen for {path}")
    assert model.resolve_precision("auto", "cpu", "/models/m") == "chosen for /models/m"
    assert model.resolve_precision("auto", "cuda", "/models/m") == "fp16"
    assert model.resolve_precision("int8", "cpu") == "int8"
    with pytest.raises(DregError, match="int8 needs the CPU"):
        model.resolve_precision("int8", "cuda")


def test_int8_model_quantises_the_linear_layers_and_stays_near_fp32(doc_vectors):
    import torch

    from steps.embeddings.model import load_model, resolve_model

    int8 = load_model(resolve_model(DEFAULT_MODEL), "cpu", "int8")
    assert any(isinstance(m, torch.ao.nn.quantized.dynamic.Linear) for m in int8.modules())
    got = np.asarray(int8.encode([t for _, t in DOCS]), np.float32)
    cos = np.sum(got * doc_vectors, axis=1) / np.linalg.norm(got, axis=1) / np.linalg.norm(doc_vectors, axis=1)
    assert cos.min() > 0.85  # dynamic int8 is lossy on MiniLM: `auto` keeps it only if recall@10 holds
