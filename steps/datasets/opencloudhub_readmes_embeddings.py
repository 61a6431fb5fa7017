"""opencloudhub-readmes-embeddings: the readmes release chunked, embedded and kept in PostgreSQL + pgvector.

The release is metadata + lock: the vectors live in the table named by `embed.table`.
"""

from __future__ import annotations

from pathlib import Path

from steps.embeddings.spec import EmbeddingsParams
from steps.kit.params import load_params
from steps.kit.stage import run_stage_main

DATASET = "opencloudhub-readmes-embeddings"


def params() -> EmbeddingsParams:
    return load_params(DATASET, EmbeddingsParams)


def embed() -> None:
    """Chunk and embed the source release on Ray; replace the table's set atomically; write embed_report.json."""
    from steps.embeddings.job import run_embed

    run_embed(DATASET, params().embed, Path.cwd())


def analyze() -> None:
    """Check the table against the report, measure HNSW recall, write metadata.json."""
    from steps.embeddings.analyze import run_analyze

    run_analyze(DATASET, params(), Path.cwd())


if __name__ == "__main__":
    run_stage_main(DATASET, embed, analyze)
