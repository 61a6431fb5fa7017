"""Settings of the embeddings pipeline that the core `Settings` does not carry."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from steps.config import profile_env_file


class EmbeddingSettings(BaseSettings):
    """Embedded database folder, where source tags are read from, and local Ray sizing."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    pgdata: Path | None = Field(None, alias="DREG_PGDATA")
    registry_url: str | None = Field(None, alias="DREG_REGISTRY_URL")
    ray_num_cpus: int | None = Field(None, ge=1, alias="DREG_RAY_NUM_CPUS")
    ray_object_store_mb: int = Field(256, ge=64, alias="DREG_RAY_OBJECT_STORE_MB")
    hub_timeout_s: float = Field(3.0, gt=0, alias="DREG_HUB_TIMEOUT")


@lru_cache(maxsize=1)
def get_embedding_settings() -> EmbeddingSettings:
    """Settings for this process: environment first, then the profile's `.env` file."""
    return EmbeddingSettings(_env_file=profile_env_file())
