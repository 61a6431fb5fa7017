"""The metadata writer: `data/<dataset>/metadata.json`, the consumer contract plus lineage."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from steps import layout
from steps.config import get_settings
from steps.git import head_commit
from steps.kit.files import write_json

VOLATILE_LINEAGE_FIELDS = ("created_at", "code_commit", "docker_image_tag", "argo_workflow_uid", "run")


def build_lineage(
    sources: list[dict[str, Any]], params: dict[str, Any], upstream: dict[str, str] | None = None, **extra: Any
) -> dict[str, Any]:
    """The lineage block: sources with checksums, params, code commit, image, workflow run, upstream tags."""
    settings = get_settings()
    kinds = sorted({str(s.get("kind", "url")) for s in sources}) or ["none"]
    return {
        "source": {"kind": "sample" if "sample" in kinds else kinds[0], "files": sources},
        "params": params,
        "code_commit": head_commit(),
        "docker_image_tag": settings.docker_image_tag,
        "argo_workflow_uid": settings.argo_workflow_uid,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "upstream": upstream or {},
        **extra,
    }


def write_metadata(
    dataset: str,
    *,
    schema: dict[str, Any],
    splits: dict[str, dict[str, Any]],
    metrics: dict[str, Any],
    lineage: dict[str, Any],
    extra: dict[str, Any] | None = None,
    root: Path | None = None,
) -> Path:
    """Write the dataset's metadata.json atomically and return its path."""
    doc = {
        "dataset": {"name": dataset},
        "schema": schema,
        "splits": splits,
        "metrics": metrics,
        "lineage": lineage,
        **(extra or {}),
    }
    path = (root or Path.cwd()) / layout.metadata_json(dataset)
    write_json(path, doc)
    return path


def write_sources(dataset: str, sources: list[dict[str, Any]]) -> None:
    """Record what a download stage fetched (URLs, checksums) in `data/<dataset>/raw/sources.json`."""
    write_json(layout.sources_json(dataset), {"sources": sources})


def read_sources(dataset: str) -> list[dict[str, Any]]:
    """The source records the dataset's download stage wrote."""
    return json.loads(Path(layout.sources_json(dataset)).read_text())["sources"]


def source_lineage(dataset: str, params: BaseModel, **extra: Any) -> dict[str, Any]:
    """The lineage block of a pipeline from its recorded sources and its validated params."""
    return build_lineage(read_sources(dataset), params.model_dump(mode="json"), **extra)


def stable_view(metadata: dict[str, Any]) -> dict[str, Any]:
    """Metadata without volatile lineage fields: what must match between two builds of one version."""
    doc = json.loads(json.dumps(metadata))
    for key in VOLATILE_LINEAGE_FIELDS:
        doc.get("lineage", {}).pop(key, None)
    return doc
