"""The embed run: source tag → Ray pipeline → staged rows → atomic replace, plus its deterministic report."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from steps import layout
from steps.config import get_settings
from steps.embeddings.chunking import ChunkConfig
from steps.embeddings.source import SourceRef, read_manifest
from steps.embeddings.spec import EmbedParams
from steps.errors import DregError
from steps.kit.files import write_json
from steps.kit.stage import console, err_console

WRITE_BATCH = 256


def report_path(dataset: str, root: Path) -> Path:
    return root / layout.data_file(dataset, "embed_report.json")


@dataclass
class Tally:
    """What flowed out of the pipeline: per-file chunk counts, drop reasons, chunk lengths, ids."""

    chunks: Counter = field(default_factory=Counter)
    doc_drops: dict[str, str] = field(default_factory=dict)
    chunk_drops: Counter = field(default_factory=Counter)
    lengths: list[int] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    embedded: int = 0

    @property
    def documents(self) -> int:
        """Documents the pipeline has reached so far (with chunks out, or dropped)."""
        return len(self.chunks.keys() | self.doc_drops.keys())

    def add(self, batch: dict[str, np.ndarray]) -> list[tuple]:
        """Count a batch and return its kept rows as staging tuples (embedding None = reuse)."""
        import uuid

        rows = []
        for i, reason in enumerate(batch["drop_reason"]):
            file = str(batch["file"][i])
            if reason:
                if batch["document"][i]:
                    self.doc_drops[file] = str(reason)
                else:
                    self.chunk_drops[str(reason)] += 1
                continue
            self.chunks[file] += 1
            self.lengths.append(int(batch["length"][i]))
            self.ids.append(str(batch["id"][i]))
            fresh = bool(batch["embedded"][i])
            self.embedded += fresh
            rows.append((uuid.UUID(str(batch["id"][i])), str(batch["content"][i]),
                         batch["embedding"][i] if fresh else None, str(batch["metadata"][i]),
                         str(batch["content_sha256"][i])))
        return rows


def length_stats(lengths: list[int]) -> dict[str, float | int]:
    """min/max/mean/p50/p95 of chunk lengths in characters."""
    if not lengths:
        return {"min": 0, "max": 0, "mean": 0.0, "p50": 0.0, "p95": 0.0}
    a = np.asarray(lengths)
    return {"min": int(a.min()), "max": int(a.max()), "mean": round(float(a.mean()), 2),
            "p50": float(np.percentile(a, 50)), "p95": float(np.percentile(a, 95))}


def build_report(params: EmbedParams, manifest: list[dict[str, Any]], tally: Tally, dim: int,
                 source_kind: str, precision: str) -> dict[str, Any]:
    """The embed stage's output: deterministic for given inputs (no timings, no run counts)."""
    from steps.embeddings.store import OPCLASS, set_digest

    files = [{"file": e["file"], "repo": e["repo"], "url": e.get("url"), "sha256": e.get("sha256"),
              "chunks": tally.chunks.get(e["file"], 0), "dropped": tally.doc_drops.get(e["file"])} for e in manifest]
    return {
        "source": {"dataset": params.source_dataset, "tag": params.source_version, "kind": source_kind},
        "model": {"name": params.model, "dim": dim, "precision": precision},
        "table": params.table,
        "index": {"method": "hnsw", "opclass": OPCLASS, "m": params.hnsw_m,
                  "ef_construction": params.hnsw_ef_construction},
        "documents": {"total": len(manifest), "with_chunks": sum(1 for f in files if f["chunks"]),
                      "dropped": dict(sorted(Counter(tally.doc_drops.values()).items()))},
        "chunks": {"written": len(tally.ids), "dropped": dict(sorted(tally.chunk_drops.items())),
                   "length_chars": length_stats(tally.lengths)},
        "files": files,
        "ids_sha256": set_digest(tally.ids),
    }


def source_kind(ref: SourceRef) -> str:
    """`sample` when the source release was built from generated sample data, else `dataset`."""
    import json

    from steps.embeddings.source import open_fs

    try:
        with open_fs(ref).open(layout.metadata_json(ref.dataset), "rb") as f:
            kind = json.loads(f.read()).get("lineage", {}).get("source", {}).get("kind")
    except Exception:  # noqa: BLE001  (a release without metadata.json)
        return "dataset"
    return "sample" if kind == "sample" else "dataset"


@contextmanager
def progress_line(documents: int) -> Iterator[Callable[[Tally], None]]:
    """A live line on a terminal while the pipeline runs (documents reached, chunks kept); nothing in logs."""
    columns = (TextColumn("embedding"), BarColumn(), MofNCompleteColumn(),
               TextColumn("documents, {task.fields[chunks]} chunks"))
    with Progress(*columns, console=err_console, transient=True, disable=not err_console.is_terminal) as progress:
        task = progress.add_task("embed", total=documents, chunks=0)
        yield lambda tally: progress.update(task, completed=tally.documents, chunks=len(tally.ids))


@contextmanager
def failures_as_dreg_errors(conn, table: str) -> Iterator[None]:
    """PostgreSQL and Ray failures during a run become one-line DregErrors (the previous set is intact)."""
    import psycopg
    import ray.exceptions

    try:
        yield
    except psycopg.Error as exc:
        what = "connection lost" if conn.broken or conn.closed else "error"
        raise DregError(f"PostgreSQL {what} while writing {table}: {str(exc).strip().splitlines()[0]}",
                        "the previous set is intact; rerun the stage") from None
    except ray.exceptions.RayError as exc:
        cause = getattr(exc, "cause", None)
        if isinstance(cause, DregError):
            raise DregError(cause.message, cause.hint) from None
        raise DregError(f"Ray pipeline failed: {str(cause or exc).strip().splitlines()[0]}",
                        "see the worker error above; the previous set is intact") from None


def run_embed(dataset: str, params: EmbedParams, root: Path, source_repo: str | None = None) -> dict[str, Any]:
    """Embed the source release into the table (incremental, atomic); write and return the report.

    Source tags are read from `source_repo`, else `DREG_REGISTRY_URL`, else the registry at `root`."""
    from steps.embeddings.db import connect, pg_target
    from steps.embeddings.model import model_dimension, resolve_model, resolve_precision
    from steps.embeddings.pipeline import build_dataset, embed_placement
    from steps.embeddings.ray_runtime import ray_session
    from steps.embeddings.store import StagingWriter, VectorTable, describe, known_hashes, merge

    started = time.monotonic()
    settings = get_settings()
    ref = SourceRef(source_repo or settings.registry_url or str(root), params.source_dataset,
                    params.source_version)
    manifest = read_manifest(ref)
    model_path = resolve_model(params.model)
    dim = model_dimension(model_path)
    target = pg_target(root)
    conn = connect(target)
    try:
        with failures_as_dreg_errors(conn, params.table):
            info = describe(conn, params.table)
            if info is not None and info.dim != dim:
                raise DregError(f"table {params.table} holds {info.dim}-dimensional vectors; {params.model} makes "
                                f"{dim}", "write this model's vectors to another `table` (the old one is left as is)")
            writer, tally = StagingWriter(conn, dim), Tally()
            cfg = ChunkConfig(params.chunk_size, params.chunk_overlap, params.min_chunk_chars, params.max_noise_ratio)
            with ray_session():
                precision = resolve_precision(params.precision, embed_placement(params.concurrency)["device"],
                                              model_path)
                base = {"dvc_data_version": params.source_version, "embedding_model": params.model,
                        "embedding_precision": precision, "docker_image": settings.docker_image_tag,
                        "argo_workflow_uid": settings.argo_workflow_uid}
                ds = build_dataset(manifest, ref, cfg, base, model_path, dim,
                                   known_hashes(conn, params.table, params.model, precision), params.batch_size,
                                   params.concurrency)
                with progress_line(len(manifest)) as show:
                    for batch in ds.iter_batches(batch_size=WRITE_BATCH, batch_format="numpy"):
                        writer.write(tally.add(batch))
                        show(tally)
            run = {"embedded": tally.embedded, "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
                   "docker_image": settings.docker_image_tag, "argo_workflow_uid": settings.argo_workflow_uid}
            spec = VectorTable(params.table, dim, params.model, precision, params.hnsw_m, params.hnsw_ef_construction,
                               params.build_memory_mb, params.storage)
            result = merge(conn, spec, {"dataset": dataset, "source": params.source_version, "run": run})
    finally:
        conn.close()
    report = build_report(params, manifest, tally, dim, source_kind(ref), precision)
    write_json(report_path(dataset, root), report)
    console.print(
        f"{params.table}: {result.rows} rows from {ref.tag} ({target.where}); embedded {tally.embedded}, "
        f"reused {result.reused} ({precision}); {result.path} write: inserted {result.inserted}, updated "
        f"{result.updated}, deleted {result.deleted}; "
        f"{time.monotonic() - started:.1f}s")
    return report
