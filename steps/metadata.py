"""The metadata writer: `data/<dataset>/metadata.json`, the consumer contract plus lineage."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from steps.atomic import write_json
from steps.config import get_settings
from steps.gitinfo import head_commit

VOLATILE_LINEAGE_FIELDS = ("created_at", "code_commit", "docker_image_tag", "argo_workflow_uid", "run")


def metadata_path(dataset: str, root: Path | None = None) -> Path:
    return (root or Path.cwd()) / "data" / dataset / "metadata.json"


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
    path = metadata_path(dataset, root)
    write_json(path, doc)
    return path


def read_sources(path: Path) -> list[dict[str, Any]]:
    """Source records written by a download stage (`sources.json` beside the raw files)."""
    return json.loads(path.read_text())["sources"]


def stable_view(metadata: dict[str, Any]) -> dict[str, Any]:
    """Metadata without volatile lineage fields: what must match between two builds of one version."""
    doc = json.loads(json.dumps(metadata))
    for key in VOLATILE_LINEAGE_FIELDS:
        doc.get("lineage", {}).pop(key, None)
    return doc
