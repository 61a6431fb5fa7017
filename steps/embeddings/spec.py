"""Params of the embeddings pipeline (`pipelines/<dataset>/params.yaml`), validated before anything runs."""

from __future__ import annotations

import re

from pydantic import Field, SerializerFunctionWrapHandler, field_validator, model_serializer, model_validator

from dreg_client.grammar import shown
from steps.errors import DregError
from steps.kit.params import Params
from steps.refs.versions import parse_tag

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
PRECISIONS = ("fp32", "bf16", "fp16", "int8")  # int8: dynamic quantisation of the Linear layers (CPU)
PRECISION_CHOICES = (*PRECISIONS, "auto")  # auto: the fastest that keeps recall@10 >= 0.99 against fp32 (a probe)
STORAGES = ("vector", "halfvec")
IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def check_table_name(name: str) -> str:
    """A table name we accept: lower-case letters, digits, `_`; at most 63 chars; not a `pg_` name."""
    if not isinstance(name, str) or not IDENTIFIER.fullmatch(name) or name.startswith("pg_"):
        raise DregError(f"invalid table name {shown(str(name), 80)!r}",
                        "use lower-case letters, digits and _ (at most 63, not starting with a digit or pg_)")
    return name


class EmbedParams(Params):
    """What to embed (source tag, model and its precision, chunking) and where (table, HNSW index).

    `precision` unset: bf16 where the CPU has AVX-512 bf16 or AMX, fp16 on CUDA, fp32 otherwise; `auto`: measured
    on a small probe (see `steps.embeddings.model.choose_precision`). `storage`: the embedding column's type,
    `vector` (float32) or `halfvec` (float16, about half the index size)."""

    source_dataset: str = "opencloudhub-readmes-download"
    source_version: str
    model: str = DEFAULT_MODEL
    precision: str | None = None
    chunk_size: int = Field(1000, ge=64, le=20000)
    chunk_overlap: int = Field(150, ge=0)
    min_chunk_chars: int = Field(40, ge=1)
    max_noise_ratio: float = Field(0.5, gt=0, le=1)
    batch_size: int = Field(64, ge=1, le=4096)
    concurrency: int = Field(1, ge=1, le=256)
    table: str = "readme_embeddings"
    hnsw_m: int = Field(16, ge=2, le=100)
    hnsw_ef_construction: int = Field(64, ge=4, le=1000)
    build_memory_mb: int = Field(512, ge=64, le=65536)
    storage: str = "vector"

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> dict:
        """`storage` only when it is not the default, so that the params recorded in releases stay as they were."""
        data = handler(self)
        if data.get("storage") == "vector":
            data.pop("storage")
        return data

    @field_validator("storage")
    @classmethod
    def _storage(cls, value: str) -> str:
        if value not in STORAGES:
            raise ValueError(f"must be one of {', '.join(STORAGES)}")
        return value

    @field_validator("table")
    @classmethod
    def _table(cls, value: str) -> str:
        if not IDENTIFIER.fullmatch(value) or value.startswith("pg_"):
            raise ValueError("must be lower-case letters, digits and _ (at most 63, not starting with a digit or pg_)")
        return value

    @field_validator("model")
    @classmethod
    def _model(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must name a sentence-transformers model or a local folder")
        return value

    @field_validator("precision")
    @classmethod
    def _precision(cls, value: str | None) -> str | None:
        if value is not None and value not in PRECISION_CHOICES:
            raise ValueError(f"must be one of {', '.join(PRECISION_CHOICES)} (or unset: chosen for the hardware)")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> EmbedParams:
        if parse_tag(self.source_version, self.source_dataset) is None:
            raise ValueError(f"source_version must be a release tag {self.source_dataset}-vX.Y.Z")
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError("chunk_overlap must be smaller than chunk_size")
        if self.hnsw_ef_construction < 2 * self.hnsw_m:
            raise ValueError("hnsw_ef_construction must be at least 2 * hnsw_m (pgvector's rule)")
        return self


class AnalyzeParams(Params):
    """How the analyze stage measures HNSW recall against an exact scan."""

    recall_queries: int = Field(default=50, ge=1, le=10000)
    recall_k: int = Field(default=10, ge=1, le=1000)
    ef_search: int = Field(default=40, ge=1, le=1000)


class EmbeddingsParams(Params):
    embed: EmbedParams
    analyze: AnalyzeParams = AnalyzeParams()
