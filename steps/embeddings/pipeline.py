"""The Ray Data pipeline: read documents by tag → chunk → embed on an actor pool (GPU when there is one)."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

import numpy as np

from steps.embeddings.chunking import ChunkConfig, chunk_markdown, decode_document
from steps.embeddings.source import SourceRef, read_documents

ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/opencloudhub/data-registry/embeddings")
READ_BATCH = 8
LENGTH_WINDOW = 4
OUTPUT_COLUMNS = ("file", "drop_reason", "document", "id", "content", "content_sha256", "metadata", "length")


def model_identity(model: str, precision: str) -> str:
    """What a vector depends on besides its text: the model, and its precision unless fp32 (the ids of fp32 tables
    stay as they were before precisions existed)."""
    return model if precision == "fp32" else f"{model}@{precision}"


def row_id(identity: str, source_file: str, content_sha256: str) -> str:
    """Deterministic row id: uuid5 of model identity (`model_identity`), source file and content hash."""
    return str(uuid.uuid5(ID_NAMESPACE, f"{identity}\n{source_file}\n{content_sha256}"))


def read_batch(batch: dict[str, np.ndarray], *, repo: str, dataset: str, tag: str) -> dict[str, np.ndarray]:
    """Add each document's bytes (`data`, None when the release lacks the file); the DVC filesystem is cached."""
    docs = read_documents(SourceRef(repo, dataset, tag), [str(f) for f in batch["file"]])
    data = np.empty(len(batch["file"]), dtype=object)
    data[:] = [docs[str(f)] for f in batch["file"]]
    return {**batch, "data": data}


def document_rows(entry: dict[str, Any], data: bytes | None, cfg: ChunkConfig, base: dict[str, Any]) -> list[dict]:
    """Output rows of one document: its chunks, and a row per dropped chunk or for a dropped document."""
    file = entry["file"]
    if data is None:
        return [_row(file, "missing", document=True)]
    if entry.get("sha256") and hashlib.sha256(data).hexdigest() != entry["sha256"]:
        return [_row(file, "checksum_mismatch", document=True)]
    decoded = decode_document(data)
    if decoded[0] is None:
        return [_row(file, decoded[1], document=True)]
    text = decoded[0]
    rows, index = [], 0
    for piece in chunk_markdown(text, cfg):
        if piece.drop_reason:
            rows.append(_row(file, piece.drop_reason, length=len(piece.content)))
            continue
        digest = piece.sha256
        identity = model_identity(base["embedding_model"], base["embedding_precision"])
        meta = {**base, "source_repo": entry["repo"], "source_file": file, "source_url": entry.get("url"),
                "chunk_index": index, **piece.sections, "content_sha256": digest}
        rows.append(_row(file, "", id=row_id(identity, file, digest), content=piece.content,
                         content_sha256=digest, metadata=json.dumps(meta, sort_keys=True), length=len(piece.content)))
        index += 1
    return rows if index else [*rows, _row(file, "no_usable_chunks", document=True)]


def _row(file: str, drop_reason: str, document: bool = False, **fields: Any) -> dict[str, Any]:
    return {"file": file, "drop_reason": drop_reason, "document": document, "id": "", "content": "",
            "content_sha256": "", "metadata": "", "length": 0, **fields}


def chunk_batch(batch: dict[str, np.ndarray], *, cfg: dict[str, Any], base: dict[str, Any]) -> dict[str, np.ndarray]:
    """Chunk every document of the batch into output rows (columns OUTPUT_COLUMNS)."""
    config = ChunkConfig(**cfg)
    keys = [k for k in batch if k != "data"]
    rows: list[dict] = []
    for i, data in enumerate(batch["data"]):
        entry = {k: (None if batch[k][i] is None else str(batch[k][i])) for k in keys}
        rows.extend(document_rows(entry, data, config, base))
    out = {c: np.empty(len(rows), dtype=object) for c in OUTPUT_COLUMNS}
    for c in OUTPUT_COLUMNS:
        out[c][:] = [r[c] for r in rows]
    out["document"] = out["document"].astype(bool)
    out["length"] = out["length"].astype(np.int64)
    return out


def length_batches(lengths: Sequence[int], batch_size: int) -> list[np.ndarray]:
    """Positions of the texts in model batches of similar token length, longest first: a batch is padded to its
    longest text, so grouping by length leaves little padding (a CPU bf16 forward pays for every padded token)."""
    order = np.argsort(-np.asarray(lengths, dtype=np.int64), kind="stable")
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


def encode_by_length(texts: Sequence[str], lengths: Sequence[int], batch_size: int,
                     encode: Callable[[list[str]], np.ndarray]) -> np.ndarray:
    """`encode` over batches of similar token length (`length_batches`); the vectors in the order of `texts`."""
    out: np.ndarray | None = None
    for positions in length_batches(lengths, batch_size):
        vectors = np.asarray(encode([texts[i] for i in positions]), dtype=np.float32)
        if out is None:
            out = np.zeros((len(texts), vectors.shape[1]), dtype=np.float32)
        out[positions] = vectors
    return out if out is not None else np.zeros((0, 0), dtype=np.float32)


def token_lengths(model: Any, texts: Sequence[str]) -> list[int]:
    """Token count of each text as the model sees it (its tokenizer, truncated at its maximum sequence length)."""
    ids = model.tokenizer(list(texts), truncation=True, max_length=model.max_seq_length,
                          return_attention_mask=False, return_token_type_ids=False)["input_ids"]
    return [len(i) for i in ids]


class Embedder:
    """Actor UDF: embeds the batch's chunks whose hash has no vector yet, at `precision`; loads the model on first
    need. Vectors leave as float32 whatever the precision of the weights."""

    def __init__(self, model_path: str, dim: int, known: frozenset[str], device: str, threads: int,
                 batch_size: int, precision: str = "fp32") -> None:
        self.model_path, self.dim, self.known, self.device, self.threads = model_path, dim, known, device, threads
        self.batch_size, self.precision = batch_size, precision
        self.model: Any = None  # a SentenceTransformer, loaded on first use

    def encode(self, texts: list[str]) -> np.ndarray:
        if self.model is None:
            import torch

            from steps.embeddings.model import load_model

            if self.device == "cpu":
                torch.set_num_threads(self.threads)
            self.model = load_model(self.model_path, self.device, self.precision)
        model = self.model
        return encode_by_length(texts, token_lengths(model, texts), self.batch_size, lambda batch: model.encode(
            batch, batch_size=len(batch), convert_to_numpy=True, show_progress_bar=False))

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        n = len(batch["id"])
        todo = [i for i in range(n) if not batch["drop_reason"][i] and batch["content_sha256"][i] not in self.known]
        vectors = np.zeros((n, self.dim), dtype=np.float32)
        if todo:
            vectors[todo] = self.encode([str(batch["content"][i]) for i in todo])
        embedded = np.zeros(n, dtype=bool)
        embedded[todo] = True
        return {**batch, "embedding": vectors, "embedded": embedded}


def embed_placement(concurrency: int) -> dict[str, Any]:
    """Actor resources and pool size: one GPU each, one actor per GPU the cluster has (at most `concurrency`:
    more would wait for a GPU for ever, fewer would leave GPUs idle); without GPUs `concurrency` actors on one
    CPU each (torch threads share the node)."""
    import ray

    gpus = int(ray.cluster_resources().get("GPU", 0))
    if gpus >= 1:
        return {"device": "cuda", "num_gpus": 1, "threads": 1, "actors": min(concurrency, gpus)}
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return {"device": "cpu", "num_gpus": 0, "threads": max(1, cpus // concurrency), "actors": concurrency}


class DocumentEmbedder(Embedder):
    """Actor UDF for CPU runs: reads and chunks its batch of documents, then embeds the chunks, in one actor (what
    Ray Data's fusion of the three stages did; a one-CPU Ray has no CPU left for separate read tasks)."""

    def __init__(self, read: dict[str, Any], chunk: dict[str, Any], **embedder: Any) -> None:
        super().__init__(**embedder)
        self.read, self.chunk = read, chunk

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return super().__call__(chunk_batch(read_batch(batch, **self.read), **self.chunk))


def embed_stage(ds, model_path: str, dim: int, known: frozenset[str], batch_size: int, concurrency: int,
                precision: str = "fp32", documents: dict[str, dict[str, Any]] | None = None):
    """`ds` (rows with id, drop_reason, content, content_sha256) through an actor pool of Embedders; each call gets
    LENGTH_WINDOW model batches, regrouped by token length (`encode_by_length`): less padding. With `documents` (read
    and chunk kwargs), `ds` holds documents instead: each call reads and chunks READ_BATCH of them, then embeds.
    Restarts are set explicitly (`actor_restarts`): Ray logs an error-level caution (ray#57733) for any
    restartable Ray Data actor, so in-process ones never restart."""
    import ray.data

    from steps.embeddings.ray_runtime import actor_restarts, restart_options_allowed

    place = embed_placement(concurrency)
    kwargs = {"model_path": model_path, "dim": dim, "known": known, "device": place["device"],
              "threads": place["threads"], "batch_size": batch_size, "precision": precision}
    udf, size = (DocumentEmbedder, READ_BATCH) if documents else (Embedder, batch_size * LENGTH_WINDOW)
    with restart_options_allowed():
        return ds.map_batches(
            udf, batch_size=size, batch_format="numpy", compute=ray.data.ActorPoolStrategy(size=place["actors"]),
            num_gpus=place["num_gpus"], num_cpus=1, max_restarts=actor_restarts(),
            fn_constructor_kwargs={**kwargs, **(documents or {})},
        )


def build_dataset(manifest: list[dict[str, Any]], ref: SourceRef, cfg: ChunkConfig, base: dict[str, Any],
                  model_path: str, dim: int, known: frozenset[str], batch_size: int, concurrency: int):
    """The lazy Ray Dataset of output rows plus `embedding` (float32, dim) and `embedded` (bool), embedded at
    `base["embedding_precision"]`. On CPU one actor stage reads, chunks and embeds; on GPU reading and chunking
    are CPU tasks ahead of the GPU actors."""
    import ray.data

    items = [{"file": e["file"], "repo": e["repo"], "url": e.get("url"), "sha256": e.get("sha256")} for e in manifest]
    ds: ray.data.Dataset = ray.data.from_items(items, override_num_blocks=max(1, min(len(items), 64)))
    read = {"repo": ref.repo, "dataset": ref.dataset, "tag": ref.tag}
    chunk = {"cfg": asdict(cfg), "base": base}
    precision = base["embedding_precision"]
    if embed_placement(concurrency)["num_gpus"] == 0:
        return embed_stage(ds, model_path, dim, known, batch_size, concurrency, precision,
                           documents={"read": read, "chunk": chunk})
    # Ray types the function as one-argument, though `fn_kwargs` fills its keyword-only parameters
    ds = ds.map_batches(read_batch, batch_size=READ_BATCH, batch_format="numpy",  # type: ignore[arg-type]
                        fn_kwargs=read)
    ds = ds.map_batches(chunk_batch, batch_size=READ_BATCH, batch_format="numpy",  # type: ignore[arg-type]
                        fn_kwargs=chunk)
    return embed_stage(ds, model_path, dim, known, batch_size, concurrency, precision)
