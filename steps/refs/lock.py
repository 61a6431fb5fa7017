"""dvc.lock: the one reader of what a pipeline's last run recorded (its stages' outputs, params and deps)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from steps import layout
from steps.kit.files import load_yaml


def parse_lock(text: str | None) -> dict[str, Any]:
    """A dvc.lock (or `.dvc`) text as a mapping; {} for none, an empty file or a document that is not a mapping."""
    doc = load_yaml(text) if text else None
    return doc if isinstance(doc, dict) else {}


def read_lock(dataset: str, root: Path | str = ".") -> dict[str, Any]:
    """The work tree's `pipelines/<dataset>/dvc.lock`, parsed; {} when the pipeline has not run."""
    path = Path(root, layout.dvc_lock(dataset))
    return parse_lock(path.read_text()) if path.exists() else {}


def lock_stages(lock: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """{stage: its entry} of a parsed dvc.lock."""
    return lock.get("stages") or {}


def lock_outs(lock: dict[str, Any]) -> list[dict[str, Any]]:
    """Every output entry (path, md5/hash, size…) of a parsed dvc.lock, or of a `.dvc` file's `outs`."""
    outs = [o for stage in lock_stages(lock).values() for o in stage.get("outs") or []] + (lock.get("outs") or [])
    return [o for o in outs if isinstance(o, dict) and "path" in o]


def lock_outputs(lock_text: str | None) -> dict[str, str]:
    """{output path: hash} of every stage output recorded in a dvc.lock text."""
    return {o["path"]: o.get("md5") or o.get("hash") or "" for o in lock_outs(parse_lock(lock_text))}


def out_sizes(lock: dict[str, Any]) -> dict[str, int]:
    """`size` of every output in a parsed dvc.lock or `.dvc` document, by path."""
    return {o["path"]: o["size"] for o in lock_outs(lock) if isinstance(o.get("size"), int)}


def recorded_params(lock: dict[str, Any], params_file: str | None = None) -> list[dict[str, Any]]:
    """The params sections (`{key: value}` per params file and stage) a dvc.lock recorded; only those of
    `params_file` when given (code.yaml is a params file too)."""
    return [section for stage in lock_stages(lock).values()
            for path, section in (stage.get("params") or {}).items() if params_file is None or path == params_file]
