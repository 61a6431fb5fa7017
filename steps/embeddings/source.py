"""The source release: its manifest and documents, read by tag through DVC (streamed, no checkout)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from dreg_client import Registry
from steps import layout
from steps.config import dvc_config
from steps.errors import DregError

MANIFEST_KEYS = ("repo", "file")


@dataclass(frozen=True)
class SourceRef:
    """A release of the readmes dataset: registry (path or git URL), dataset name and tag."""

    repo: str
    dataset: str
    tag: str

    @property
    def raw_dir(self) -> str:
        return layout.data_file(self.dataset, "raw")

    def path(self, name: str) -> str:
        return f"{self.raw_dir}/{name}"


def open_fs(ref: SourceRef):
    """A DVCFileSystem on the registry at the tag; files stream from the DVC remote or the local cache."""
    return _fs(ref.repo, ref.tag, json.dumps(dvc_config(), sort_keys=True))


@lru_cache(maxsize=4)
def _fs(repo: str, tag: str, config: str):
    """One filesystem per (registry, tag, remote config) and process, through the one handle: a tag never moves."""
    reg = _registry(repo, config)
    return reg.fs(reg.resolve(tag))


@lru_cache(maxsize=4)
def _registry(repo: str, config: str) -> Registry:
    """The source registry, opened once per process."""
    return Registry.open(repo, config=json.loads(config))


def check_tag(ref: SourceRef) -> None:
    """DregError unless the registry has the tag (listing the dataset's tags it does have)."""
    tags = list(Registry.open(ref.repo).refs)
    if ref.tag not in tags:
        known = sorted(t for t in tags if t.startswith(f"{ref.dataset}-v"))
        raise DregError(f"{ref.repo} has no tag {ref.tag}",
                        f"set embed.source_version to a published tag ({', '.join(known[-3:]) or 'none yet'})")


def parse_manifest(text: str | bytes, where: str) -> list[dict[str, Any]]:
    """The manifest's file entries, each with at least `repo` and `file` (a plain name inside raw/)."""
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise DregError(f"{where} is not valid JSON: {exc}", "the source release is broken; republish it") from None
    files = doc.get("files") if isinstance(doc, dict) else None
    if not isinstance(files, list):
        raise DregError(f"{where} has no `files` list", "the source release is broken; republish it")
    for entry in files:
        if not isinstance(entry, dict) or any(not isinstance(entry.get(k), str) or not entry[k] for k in MANIFEST_KEYS):
            raise DregError(f"{where}: bad entry {str(entry)[:120]}", "each entry needs `repo` and `file`")
        if "/" in entry["file"] or entry["file"].startswith("."):
            raise DregError(f"{where}: file {entry['file']!r} is not a plain name", "entries name files in raw/")
    if len({e["file"] for e in files}) != len(files):
        raise DregError(f"{where} lists a file twice", "the source release is broken; republish it")
    return sorted(files, key=lambda e: e["file"])


def read_manifest(ref: SourceRef) -> list[dict[str, Any]]:
    """Check the tag, then read and validate `raw/manifest.json` of the release."""
    check_tag(ref)
    where = f"{ref.tag}:{ref.path('manifest.json')}"
    try:
        fs = open_fs(ref)
        with fs.open(ref.path("manifest.json"), "rb") as f:
            return parse_manifest(f.read(), where)
    except FileNotFoundError:
        raise DregError(f"{where} not found", f"is {ref.tag} a release of {ref.dataset}?") from None
    except DregError:
        raise
    except Exception as exc:  # noqa: BLE001  (DVC: remote unreachable, missing objects, bad config)
        raise DregError(f"cannot read {where}: {str(exc).splitlines()[0]}",
                        "check the DVC remote (DVC_REMOTE and its URL) and DREG_REGISTRY_URL") from None


def read_documents(ref: SourceRef, names: list[str]) -> dict[str, bytes | None]:
    """Bytes of each named file of the release (None for one the release lacks), through one filesystem."""
    fs = open_fs(ref)
    out: dict[str, bytes | None] = {}
    for name in names:
        try:
            with fs.open(ref.path(name), "rb") as f:
                out[name] = f.read()
        except FileNotFoundError:
            out[name] = None
    return out
