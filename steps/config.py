"""Runtime configuration from the environment and `.env.<profile>` files (pydantic-settings)."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from steps.errors import DregError
from steps.git import check_ref_name

Profile = Literal["local", "docker", "cluster"]


class Settings(BaseSettings):
    """Non-secret settings; `.env.<DREG_PROFILE>` supplies defaults, the environment overrides them."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    profile: Profile = Field("local", alias="DREG_PROFILE",
        description="which `.env.<profile>` file supplies defaults: `local`, `docker` or `cluster`")
    dvc_remote: str = Field("local", alias="DVC_REMOTE",
        description="the DVC remote releases push to: `local` (a folder) or `minio` (S3)")
    local_remote_url: str | None = Field(None, alias="DVC_LOCAL_REMOTE_URL",
        description="folder of the `local` DVC remote")
    s3_remote_url: str | None = Field(None, alias="DVC_S3_URL",
        description="bucket URL of the `minio` DVC remote (`s3://...`)")
    s3_endpoint_url: str | None = Field(None, alias="DVC_S3_ENDPOINT_URL",
        description="S3 endpoint of the `minio` DVC remote")
    mirror: str | None = Field(None, alias="DREG_MIRROR",
        description="folder or base URL serving sources offline as `<mirror>/<dataset>/<file name>`")
    download_retries: int = Field(4, ge=1, alias="DREG_DOWNLOAD_RETRIES",
        description="attempts per source download")
    download_backoff_s: float = Field(1.0, ge=0, alias="DREG_DOWNLOAD_BACKOFF",
        description="seconds of the first wait between download attempts (exponential)")
    git_remote: str = Field("origin", alias="DREG_GIT_REMOTE",
        description="git remote that releases push to and read origin tags from")
    release_branch: str = Field("main", alias="DREG_RELEASE_BRANCH",
        description="branch that release commits go to")
    mlflow_tracking_uri: str | None = Field(None, alias="MLFLOW_TRACKING_URI",
        description="MLflow tracking server of the prompts sources")
    mlflow_timeout_s: float = Field(10.0, gt=0, le=600, alias="DREG_MLFLOW_TIMEOUT",
        description="seconds each MLflow request may take; a server answering 5xx fails at once")
    pgvector_host: str | None = Field(None, alias="PGVECTOR_HOST",
        description="PostgreSQL + pgvector server of the embeddings (unset: an embedded server under `.dreg/`)")
    pgvector_port: int = Field(5432, alias="PGVECTOR_PORT",
        description="port of the pgvector server")
    pgvector_user: str = Field("postgres", alias="PGVECTOR_USER",
        description="user on the pgvector server")
    pgvector_database: str = Field("postgres", alias="PGVECTOR_DATABASE",
        description="database on the pgvector server")
    ray_address: str | None = Field(None, alias="RAY_ADDRESS",
        description="Ray cluster to join (unset: an in-process Ray)")
    docker_image_tag: str | None = Field(None, alias="DOCKER_IMAGE_TAG",
        description="image tag recorded in lineage")
    argo_workflow_uid: str | None = Field(None, alias="ARGO_WORKFLOW_UID",
        description="Argo workflow uid recorded in lineage")
    scratch: Path | None = Field(None, alias="DREG_SCRATCH",
        description="folder for every side effect of a throwaway rebuild (`dreg verify` sets it)")
    pgdata: Path | None = Field(None, alias="DREG_PGDATA",
        description="data folder of the embedded PostgreSQL server")
    registry_url: str | None = Field(None, alias="DREG_REGISTRY_URL",
        description="registry the embeddings stage reads its source release from (default: this repo)")
    ray_num_cpus: int | None = Field(None, ge=1, alias="DREG_RAY_NUM_CPUS",
        description="CPUs of an in-process Ray (default: all)")
    ray_object_store_mb: int = Field(256, ge=64, alias="DREG_RAY_OBJECT_STORE_MB",
        description="object store size of an in-process Ray, in MiB")
    ray_actor_restarts: int | None = Field(None, ge=0, alias="DREG_RAY_ACTOR_RESTARTS",
        description="restarts of an embedder actor (default: 0 in-process, 3 on a cluster)")
    hub_timeout_s: float = Field(3.0, gt=0, alias="DREG_HUB_TIMEOUT",
        description="seconds the model hub may take to say whether a model exists")

    @field_validator("dvc_remote", "git_remote", "release_branch")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        """Names that reach git/DVC arguments: never an option, a space or a shell character."""
        try:
            return check_ref_name(value, "name")
        except DregError:
            raise ValueError("use letters, digits, '.', '_', '-' and '/' only (no leading '-')") from None


class Credentials(BaseSettings):
    """Secrets: read from the process environment only, never from a file in git."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True, env_file=None)

    pgvector_password: SecretStr | None = Field(None, alias="PGVECTOR_PASSWORD",
        description="password on the pgvector server")
    github_token: SecretStr | None = Field(None, alias="GITHUB_TOKEN",
        description="GitHub token of the GitHub sources (raises the API rate limit)")
    mlflow_tracking_token: SecretStr | None = Field(None, alias="MLFLOW_TRACKING_TOKEN",
        description="token for the MLflow tracking server")


def profile_env_file(root: Path | None = None) -> Path:
    """The `.env.<profile>` file that applies (profile from `DREG_PROFILE`, default `local`)."""
    profile = os.environ.get("DREG_PROFILE", "local")
    return (root or Path.cwd()) / f".env.{profile}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings for this process: `registry_settings` of the working directory's registry, read once."""
    return registry_settings()


def registry_settings(root: Path | None = None) -> Settings:
    """Environment first, then the profile's `.env` file of the registry at `root` (default: the working
    directory's), its relative paths read from the file's folder (a moved or cloned registry keeps working)."""
    env_file = profile_env_file(root)
    return file_paths_resolved(checked(Settings, _env_file=env_file), env_file)


FILE_PATH_SETTINGS = ("mirror", "local_remote_url", "pgdata")  # folders a registry's `.env` file may name


def file_paths_resolved(settings: Settings, env_file: Path) -> Settings:
    """`settings` with each relative folder in FILE_PATH_SETTINGS that `env_file` (not the environment) supplied
    made absolute against the file's folder; URLs and absolute paths unchanged."""
    if not env_file.is_file():
        return settings
    from dotenv import dotenv_values

    from_file = dotenv_values(env_file)
    updates: dict[str, Any] = {}
    for name in FILE_PATH_SETTINGS:
        alias = Settings.model_fields[name].alias or name
        value = from_file.get(alias)
        if value and alias not in os.environ and "://" not in value and not Path(value).is_absolute():
            path = (env_file.parent / value).resolve()
            updates[name] = path if name == "pgdata" else str(path)
    return settings.model_copy(update=updates)


def checked(model: type[BaseSettings], **kwargs: Any) -> Any:
    """Build a settings model; a bad value becomes one DregError line naming the variable, never its value."""
    try:
        return model(**kwargs)
    except UnicodeDecodeError as exc:
        env_file = kwargs.get("_env_file")
        raise DregError(f"settings file {env_file} is not UTF-8 text (byte {exc.start})",
                        "save it as UTF-8 `KEY=value` lines, or remove it") from None
    except ValidationError as exc:
        err = exc.errors()[0]
        field = str(err["loc"][0]) if err["loc"] else "?"
        info = model.model_fields.get(field)
        name = (info.alias if info and info.alias else field)
        raise DregError(f"invalid setting {name}: {err['msg'][:120]}",
                        f"fix {name} in the environment or .env file") from None


@lru_cache(maxsize=1)
def get_credentials() -> Credentials:
    """Credentials for this process, from the environment only."""
    return checked(Credentials)


def dvc_config(settings: Settings | None = None, explicit: bool = False) -> dict[str, Any]:
    """DVC config overrides from settings: default remote, local folder URL, S3 URL and endpoint. `explicit`: only
    what the environment sets (another registry's own config chooses otherwise; this checkout's profile is not its)."""
    s = settings or (checked(Settings) if explicit else get_settings())
    remote: dict[str, dict[str, str]] = {}
    if s.local_remote_url:
        remote["local"] = {"url": s.local_remote_url}
    minio = {k: v for k, v in (("url", s.s3_remote_url), ("endpointurl", s.s3_endpoint_url)) if v}
    if minio:
        remote["minio"] = minio
    core = {"remote": s.dvc_remote} if not explicit or "dvc_remote" in s.model_fields_set else {}
    return {**({"core": core} if core else {}), **({"remote": remote} if remote else {})}
