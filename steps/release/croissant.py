"""Croissant 1.0 (MLCommons) descriptions of a release: `data/<dataset>/croissant.json`, built from its
metadata.json and the digests of its output files (same metadata and files → same bytes)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from steps import layout
from steps.kit.files import write_bytes
from steps.refs.handle import Registry, Release
from steps.release.card import about, responsible_ai

CONFORMS_TO = "http://mlcommons.org/croissant/1.0"
CR_TERMS = [
    "citeAs", "column", "equivalentProperty", "extract", "field", "fileProperty", "fileObject", "fileSet", "format",
    "includes", "isLiveDataset", "jsonPath", "key", "md5", "parentField", "path", "recordSet", "references", "regex",
    "repeated", "replace", "samplingRate", "separator", "source", "subField", "transform",
]
CONTEXT: dict[str, Any] = {
    "@language": "en", "@vocab": "https://schema.org/", "sc": "https://schema.org/",
    "cr": "http://mlcommons.org/croissant/", "rai": "http://mlcommons.org/croissant/RAI/",
    "dct": "http://purl.org/dc/terms/", "conformsTo": "dct:conformsTo",
    "data": {"@id": "cr:data", "@type": "@json"}, "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "examples": {"@id": "cr:examples", "@type": "@json"}, **{term: f"cr:{term}" for term in CR_TERMS},
}
ENCODING = {".parquet": "application/x-parquet", ".csv": "text/csv", ".json": "application/json",
            ".jsonl": "application/jsonlines"}
DATA_TYPES = {"float": "sc:Float", "int": "sc:Integer", "uint": "sc:Integer", "bool": "sc:Boolean",
              "string": "sc:Text", "str": "sc:Text", "date": "sc:Date"}
RAI_KEYS = {"limitations": "rai:dataLimitations", "biases": "rai:dataBiases",
            "intended_use": "rai:dataUseCases", "collection": "rai:dataCollection"}
Digests = dict[str, tuple[str, int]]  # file path under data/<dataset>/ → (sha256, size in bytes)


def sha256_and_size(chunks: Iterable[bytes]) -> tuple[str, int]:
    """sha256 (hex) and byte count of a stream of chunks."""
    digest, size = hashlib.sha256(), 0
    for chunk in chunks:
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def file_chunks(path: Path, size: int = 1 << 20) -> Iterable[bytes]:
    """A file's bytes in chunks."""
    with path.open("rb") as fh:
        while chunk := fh.read(size):
            yield chunk


def output_files(meta: dict[str, Any]) -> list[str]:
    """The single files a release describes (schema `files`: parquet, csv, JSON annotations), sorted."""
    files = (meta.get("schema") or {}).get("files") or {}
    return sorted({p for p in files.values() if isinstance(p, str) and not p.endswith("/")})


def workspace_digests(dataset: str, meta: dict[str, Any], root: Path) -> Digests:
    """Digests of the release's files as they lie in the workspace (what a release commits)."""
    folder = root / layout.data_dir(dataset)
    return {p: sha256_and_size(file_chunks(folder / p)) for p in output_files(meta) if (folder / p).is_file()}


def read_digests(meta: dict[str, Any], read: Callable[[str], bytes]) -> Digests:
    """Digests of the release's files read through `read(path under data/<dataset>/)` (an old release)."""
    return {p: sha256_and_size([read(p)]) for p in output_files(meta)}


def file_id(path: str) -> str:
    """The `@id` of a file: its path under the dataset folder."""
    return path


def node_id(*parts: str) -> str:
    """An `@id` from names (Croissant ids take no whitespace: spaces become underscores)."""
    return "/".join(part.replace(" ", "_") for part in parts)


def named_dtype(features: dict[str, Any], column: str | None) -> Any:
    """The dtype of the feature that `column` names (None when it names none)."""
    return (features.get(column) or {}).get("dtype") if column is not None else None


def data_type(spec: dict[str, Any], features: dict[str, Any]) -> str:
    """The Croissant dataType of a feature: from its dtype, the dtype of the column it names, or its classes."""
    dtype = str(spec.get("dtype") or named_dtype(features, spec.get("column")) or "")
    if not dtype and spec.get("classes"):
        dtype = "int" if all(isinstance(c, int) for c in spec["classes"]) else "string"
    return next((t for prefix, t in DATA_TYPES.items() if dtype.startswith(prefix)), "sc:Text")


def file_objects(dataset: str, tag: str, digests: Digests) -> list[dict[str, Any]]:
    """One FileObject per output file: sha256, size, encoding format and its path in the release."""
    return [{"@type": "cr:FileObject", "@id": file_id(path), "name": file_id(path),
             "description": f"data/{dataset}/{path} at {tag}", "contentUrl": path,
             "encodingFormat": ENCODING.get(Path(path).suffix, "application/octet-stream"),
             "sha256": sha256, "contentSize": f"{size} B"}
            for path, (sha256, size) in sorted(digests.items())]


def file_sets(meta: dict[str, Any]) -> list[dict[str, Any]]:
    """One FileSet per folder of files (e.g. a split's images)."""
    folders = (meta.get("schema") or {}).get("images") or {}
    return [{"@type": "cr:FileSet", "@id": f"{split}-images", "name": f"{split}-images",
             "description": f"the {split} split's image files", "encodingFormat": "image/jpeg",
             "includes": f"{folder.rstrip('/')}/*.jpg"} for split, folder in sorted(folders.items())]


def field_source(path: str, column: str, json_path: str | None = None) -> dict[str, Any]:
    """Where a field's values come from: a column of a table, or a path into each record of a JSON list."""
    extract = {"jsonPath": f"$[*].{json_path or column}"} if path.endswith(".json") else {"column": column}
    return {"fileObject": {"@id": file_id(path)}, "extract": extract}


def feature_fields(split: str, path: str, name: str, spec: dict[str, Any],
                   features: dict[str, Any]) -> list[dict[str, Any]]:
    """The Fields of one feature: one; for a conversation (a list of turns by `from` roles) a text per role."""
    if spec.get("dtype") == "list" and isinstance(spec.get("from"), list) and path.endswith(".json"):
        return [{"@type": "cr:Field", "@id": node_id(split, f"{name}.{role}"), "name": f"{name}.{role}",
                 "dataType": "sc:Text", "description": f"turn {i} ({role}): {spec.get(role, '')}",
                 "source": field_source(path, name, f"{name}[{i}].value")}
                for i, role in enumerate(spec["from"])]
    field: dict[str, Any] = {"@type": "cr:Field", "@id": node_id(split, name), "name": name,
                             "dataType": data_type(spec, features),
                             "source": field_source(path, spec.get("column") or name)}
    if spec.get("description") or spec.get("shape"):
        field["description"] = spec.get("description") or f"shape {spec['shape']}, {spec.get('layout', '')}"
    return [field]


def fields(split: str, path: str, features: dict[str, Any]) -> list[dict[str, Any]]:
    """The Fields of a split's RecordSet, from the schema's features."""
    return [f for name, spec in sorted(features.items())
            for f in feature_fields(split, path, name, spec if isinstance(spec, dict) else {"dtype": spec},
                                    features)]


def enumerations(features: dict[str, Any]) -> list[dict[str, Any]]:
    """One `sc:Enumeration` RecordSet per feature with classes, its values inline."""
    out = []
    for name, spec in sorted(features.items()):
        classes = spec.get("classes") if isinstance(spec, dict) else None
        if not classes:
            continue
        rid = node_id(f"{name}-classes")
        kind = "sc:Integer" if all(isinstance(c, int) for c in classes) else "sc:Text"
        out.append({"@type": "cr:RecordSet", "@id": rid, "name": rid, "dataType": "sc:Enumeration",
                    "description": f"the classes of `{name}`", "key": {"@id": f"{rid}/name"},
                    "field": [{"@type": "cr:Field", "@id": f"{rid}/name", "name": "name", "dataType": kind}],
                    "data": [{f"{rid}/name": c} for c in classes]})
    return out


def record_sets(meta: dict[str, Any]) -> list[dict[str, Any]]:
    """One RecordSet per split (over the split's file), then the class enumerations."""
    schema = meta.get("schema") or {}
    features, files = schema.get("features") or {}, schema.get("files") or {}
    out = []
    for split, info in sorted((meta.get("splits") or {}).items()):
        path = files.get(split)
        if not isinstance(path, str) or not features:
            continue
        out.append({"@type": "cr:RecordSet", "@id": split, "name": split,
                    "description": f"the {split} split: {info.get('num_samples', '?')} records",
                    "field": fields(split, path, features)})
    return out + enumerations(features)


def build_croissant(meta: dict[str, Any], tag: str, digests: Digests) -> dict[str, Any]:
    """The Croissant 1.0 JSON-LD of the release `tag`: a pure function of its metadata and file digests."""
    dataset = meta.get("dataset", {}).get("name", "dataset")
    info, rai = about(dataset), responsible_ai(dataset)
    doc: dict[str, Any] = {
        "@context": CONTEXT, "@type": "sc:Dataset", "@id": tag, "conformsTo": CONFORMS_TO, "name": dataset,
        "description": info["description"], "license": info["license"], "version": tag.rsplit("-v", 1)[-1],
        "citeAs": rai.get("citation") or f"{dataset} ({tag}), data-registry release",
        "datePublished": (meta.get("lineage") or {}).get("created_at"),
        "distribution": file_objects(dataset, tag, digests) + file_sets(meta),
        "recordSet": record_sets(meta),
    }
    if info.get("homepage"):
        doc["url"] = info["homepage"]
    doc.update({key: rai[name] for name, key in RAI_KEYS.items() if rai.get(name)})
    return {k: v for k, v in doc.items() if v is not None}


def render_croissant(meta: dict[str, Any], tag: str, digests: Digests) -> str:
    """The croissant.json text (sorted keys, two-space indent)."""
    doc = build_croissant(meta, tag, digests)
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_croissant(dataset: str, tag: str, root: Path) -> str | None:
    """Write `data/<dataset>/croissant.json` of the release `tag` from the workspace; None without metadata."""
    meta_path = root / layout.metadata_json(dataset)
    if not meta_path.exists():
        return None
    meta = json.loads(meta_path.read_text())
    path = layout.croissant_json(dataset)
    write_bytes(root / path, render_croissant(meta, tag, workspace_digests(dataset, meta, root)).encode())
    return path


def release_croissant(reg: Registry, release: Release, meta: dict[str, Any]) -> str:
    """The croissant.json of a published release, rebuilt from its metadata and md5-checked data files."""
    return render_croissant(meta, release.tag, read_digests(meta, lambda path: reg.read_data(release, path)))
