"""Dataset cards: `data/<dataset>/README.md`, rendered from a release's metadata.json (same metadata → same bytes)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from steps import layout
from steps.kit.files import write_bytes
from steps.layout import pipeline_datasets
from steps.refs.pipelines import facts

GENERIC = {"description": "Curated files released with `dreg add`: no pipeline, the files are the dataset.",
           "license": "as agreed with the data's owner (not recorded)", "homepage": ""}


def about(dataset: str, root: Path | str = layout.CODE_ROOT) -> dict[str, str]:
    """Description, licence and homepage of `dataset` from its pipeline's dvc.yaml (generic for curated data)."""
    if dataset not in pipeline_datasets(root):
        return GENERIC
    f = facts(dataset, root)
    return {"description": f.description, "license": f.license, "homepage": f.homepage}


def responsible_ai(dataset: str, root: Path | str = layout.CODE_ROOT) -> dict[str, str]:
    """Limitations, biases, intended use, collection (and citation) of `dataset` from its dvc.yaml; empty for
    curated data."""
    return dict(facts(dataset, root).responsible_ai) if dataset in pipeline_datasets(root) else {}


def hub_tags(dataset: str, root: Path | str = layout.CODE_ROOT) -> dict[str, list[str]]:
    """The Hub tags of `dataset` (task categories, languages) from its dvc.yaml; empty for curated data."""
    return {k: list(v) for k, v in facts(dataset, root).hub_tags} if dataset in pipeline_datasets(root) else {}


HUB_LICENSES = {"MIT": "mit", "CC BY 4.0": "cc-by-4.0", "Apache-2.0": "apache-2.0", "CC0 1.0": "cc0-1.0"}
SIZE_CATEGORIES = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
                   (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M")]



def cell(value: Any) -> str:
    """A value as one markdown table cell (pipes escaped, lists and dicts as compact JSON)."""
    text = json.dumps(value, sort_keys=True) if isinstance(value, (list, dict)) else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def table(header: list[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    """A markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    return lines + ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]


def about_section(name: str, meta: dict[str, Any], root: Path | str) -> list[str]:
    """What the dataset is, where it comes from and under which licence."""
    info, kind = about(name, root), meta.get("lineage", {}).get("source", {}).get("kind", "-")
    lines = [info["description"], "", f"- **Licence:** {info['license']}", f"- **Source kind:** {kind}"]
    return lines + ([f"- **Homepage:** <{info['homepage']}>"] if info["homepage"] else [])


def schema_section(meta: dict[str, Any]) -> list[str]:
    """Features with dtypes, shapes and classes; then the files (or table) of the release."""
    schema = meta.get("schema", {})
    features = schema.get("features") or schema.get("columns") or {}
    rows = [[name, spec.get("dtype", "-") if isinstance(spec, dict) else spec,
             spec.get("shape", "") if isinstance(spec, dict) else "",
             spec.get("classes", "") if isinstance(spec, dict) else ""] for name, spec in sorted(features.items())]
    lines = table(["feature", "dtype", "shape", "classes"], rows) if rows else ["No feature schema recorded."]
    files = schema.get("files", {})
    if files:
        lines += ["", *table(["file", "path"], [file_row(k, v) for k, v in sorted(files.items())])]
    if schema.get("table"):
        lines += ["", f"Stored in the PostgreSQL table `{schema['table']}`."]
    return lines


def file_row(key: str, value: Any) -> list[str]:
    """(split or file, path) of a schema file: a pipeline maps a split to its path; curated data maps the path to
    that file's own schema (shown by its format, never as raw JSON)."""
    if isinstance(value, dict):
        return [str(value.get("format") or "file"), key]
    return [key, str(value)]


def splits_section(meta: dict[str, Any]) -> list[str]:
    """Splits and their sizes."""
    splits = meta.get("splits", {})
    rows = [[s, info.get("num_samples", "-")] for s, info in sorted(splits.items())]
    return table(["split", "samples"], rows) if rows else ["No splits recorded."]


def is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def stat_rows(metrics: dict[str, Any], prefix: str = "") -> list[list[Any]]:
    """Numeric metrics: a block of numbers (min/mean/max…) on one row, class counts as the number of classes."""
    rows: list[list[Any]] = []
    for key, value in sorted(metrics.items()):
        path = f"{prefix}.{key}" if prefix else key
        if key.endswith("_distribution") and isinstance(value, dict):
            rows.append([path, f"{len(value)} classes, {sum(v for v in value.values() if is_num(v))} rows"])
        elif isinstance(value, dict) and value and all(is_num(v) for v in value.values()):
            rows.append([path, ", ".join(f"{k} {v:.6g}" for k, v in value.items())])
        elif isinstance(value, dict):
            rows += stat_rows(value, path)
        elif is_num(value):
            rows.append([path, value])
    return rows


def stats_section(meta: dict[str, Any]) -> list[str]:
    """Key statistics: the numeric metrics of the release."""
    rows = stat_rows(meta.get("metrics", {}))
    return table(["statistic", "value"], rows) if rows else ["No statistics recorded."]


def prompt_section(meta: dict[str, Any]) -> list[str]:
    """The prompt version a vision-language dataset was built with."""
    prompt = meta.get("prompt")
    if not prompt:
        return []
    keys = ("prompt_name", "prompt_version", "alias", "sha256", "tracking_uri_kind")
    lines = ["## Prompt", "", *table(["field", "value"], [[k, prompt.get(k, "-")] for k in keys])]
    if prompt.get("template"):
        lines += ["", "```text", str(prompt["template"]).rstrip(), "```"]
    return lines + [""]


def source_rows(lineage: dict[str, Any]) -> list[list[Any]]:
    """Source files with their checksum (sha256, md5) or revision (tag)."""
    rows = []
    for f in lineage.get("source", {}).get("files", []):
        digest = f.get("sha256") or f.get("md5") or f.get("revision") or f.get("tag") or "-"
        rows.append([f.get("file") or f.get("dataset") or "-", f.get("url") or f.get("path") or "-", digest])
    return rows


def lineage_section(meta: dict[str, Any]) -> list[str]:
    """Sources, upstream releases, build identity and the params the release was built with."""
    lineage = meta.get("lineage", {})
    lines = table(["source", "location", "checksum / revision"], source_rows(lineage)) if source_rows(lineage) else [
        "No source files recorded."]
    upstream = lineage.get("upstream") or {}
    if upstream:
        lines += ["", *table(["upstream dataset", "tag"], sorted(upstream.items()))]
    ids = [["code commit", lineage.get("code_commit") or "-"], ["image", lineage.get("docker_image_tag") or "-"],
           ["workflow run", lineage.get("argo_workflow_uid") or "-"], ["built at", lineage.get("created_at") or "-"]]
    params = json.dumps(lineage.get("params", {}), indent=2, sort_keys=True)
    return lines + ["", *table(["build", "value"], ids), "", "Params:", "", "```json", params, "```"]


def first_file(meta: dict[str, Any], suffix: str) -> str | None:
    """The schema file whose path ends with `suffix`: the train split's if there is one, else the first by key."""
    files = sorted(meta.get("schema", {}).get("files", {}).items(), key=lambda kv: (kv[0] != "train", kv[0]))
    paths = [p if isinstance(p, str) else k for k, p in files]  # curated data: {path: that file's schema}
    return next((p for p in paths if p.endswith(suffix)), None)


def load_section(name: str, meta: dict[str, Any]) -> list[str]:
    """How to load the release, per consumer kind: pgvector, pandas, Ray Data/PyTorch, files (Qwen-VL), raw DVC."""
    header = ['REGISTRY = "https://github.com/<org>/data-registry.git"  # or a path / file:// URL of a clone or origin',
              'VERSION = "latest"  # pin a release for training: e.g. "1.0.0"']
    table_name = meta.get("schema", {}).get("table")
    blocks: list[tuple[str, str, list[str]]] = []
    if table_name:
        blocks.append(("pgvector (PostgreSQL)", "python", [
            "import psycopg", "", 'with psycopg.connect("postgresql://…") as conn:',
            f'    rows = conn.execute("SELECT id, content, metadata FROM {table_name} "',
            '                        "ORDER BY embedding <=> %s::vector LIMIT 5", (query_vector,)).fetchall()']))
    parquet, csv, annotations = first_file(meta, ".parquet"), first_file(meta, ".csv"), first_file(meta, ".json")
    if csv:
        blocks.append(("pandas / scikit-learn", "python", [
            "import pandas as pd", "from steps.client import get_url", "", *header,
            f'df = pd.read_csv(get_url("{name}", "{csv}", VERSION, repo=REGISTRY))']))
    if parquet:
        blocks.append(("pandas", "python", ["from steps.client import open_frame", "", *header,
                                            f'df = open_frame("{name}", "{parquet}", VERSION, repo=REGISTRY)']))
        blocks.append(("Ray Data / PyTorch", "python", [
            "from steps.client import read_ray", "", *header,
            f'ds = read_ray("{name}", "{parquet}", VERSION, repo=REGISTRY)  # works on Ray 2.60 (ray#65557)',
            "for row in ds.iter_rows():  # list columns (e.g. an image): np.array(row[column])", "    ..."]))
    if annotations:
        folder = annotations.rsplit("/", 1)[0]
        blocks.append(("files (Qwen-VL)", "python", [
            "import json", "from steps.client import download", "", *header,
            f'split = download("{name}", "{folder}", "{folder.rsplit("/", 1)[-1]}", VERSION, repo=REGISTRY)',
            'records = json.loads((split / "annotations.json").read_text())  # open split / "images" / r["image"]']))
    raw = parquet or csv or annotations or first_file(meta, "") or ""
    blocks.append(("raw files (DVC)", "bash", [
        f"dvc get https://github.com/<org>/data-registry.git data/{name}/{raw} --rev {name}-vX.Y.Z"]))
    lines: list[str] = []
    for title, lang, code in blocks:
        lines += [f"### {title}", "", f"```{lang}", *code, "```", ""]
    return lines


def size_category(rows: int) -> str:
    """The Hub's size category of a dataset with `rows` records."""
    return next((label for bound, label in SIZE_CATEGORIES if rows < bound), "n>100M")


def hub_feature(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    """One feature as the Hub's `dataset_info.features` entry (datasets' Value, ClassLabel, Array2D, list)."""
    dtype, classes = str(spec.get("dtype") or "string"), spec.get("classes")
    if dtype == "list" and isinstance(spec.get("from"), list):
        return {"name": name, "list": [{"name": "from", "dtype": "string"}, {"name": "value", "dtype": "string"}]}
    if isinstance(spec.get("shape"), list) and len(spec["shape"]) == 2:
        return {"name": name, "dtype": {"array2_d": {"shape": spec["shape"], "dtype": dtype}}}
    if classes and dtype.startswith(("int", "uint")) and all(isinstance(c, str) for c in classes):
        return {"name": name, "dtype": {"class_label": {"names": {str(i): c for i, c in enumerate(classes)}}}}
    return {"name": name, "dtype": "string" if dtype in ("str", "object") else dtype}


def front_matter(name: str, meta: dict[str, Any], root: Path | str = layout.CODE_ROOT) -> dict[str, Any]:
    """The card's Hugging Face–style YAML header: licence, tags, size, the split files and the features."""
    schema, splits = meta.get("schema") or {}, meta.get("splits") or {}
    files, features = schema.get("files") or {}, schema.get("features") or {}
    licence = about(name, root)["license"]
    out: dict[str, Any] = {"license": HUB_LICENSES.get(licence, "other"), "pretty_name": name, **hub_tags(name, root)}
    if out["license"] == "other":
        out["license_name"] = licence
    if splits:
        out["size_categories"] = [size_category(sum(int(s.get("num_samples") or 0) for s in splits.values()))]
    data_files = [{"split": split, "path": files[split]} for split in sorted(splits)
                  if isinstance(files.get(split), str)]
    if data_files:
        out["configs"] = [{"config_name": "default", "data_files": data_files}]
    columns = [hub_feature(n, spec) for n, spec in sorted(features.items())
               if isinstance(spec, dict) and spec.get("column", n) == n]
    if columns or splits:
        out["dataset_info"] = {"features": columns, "splits": [
            {"name": split, "num_examples": info.get("num_samples")} for split, info in sorted(splits.items())]}
    return out


def render_card(meta: dict[str, Any], root: Path | str = layout.CODE_ROOT) -> str:
    """The card's markdown: a pure function of the metadata and the pipeline's declared facts under `root`."""
    name = meta.get("dataset", {}).get("name", "dataset")
    sections = [
        [f"# {name}", "", *about_section(name, meta, root), ""],
        ["## Schema", "", *schema_section(meta), ""],
        ["## Splits", "", *splits_section(meta), ""],
        ["## Key statistics", "", *stats_section(meta), ""],
        prompt_section(meta),
        ["## Lineage", "", *lineage_section(meta), ""],
        ["## How to load", "", *load_section(name, meta)],
    ]
    header = yaml.safe_dump(front_matter(name, meta, root), sort_keys=False, allow_unicode=True, width=1000)
    body = "\n".join(line for section in sections for line in section).rstrip() + "\n"
    return f"---\n{header}---\n\n{body}"


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """A card's YAML front matter (empty when it has none) and its markdown body."""
    if not text.startswith("---\n"):
        return {}, text
    header, sep, body = text[4:].partition("\n---\n")
    return (yaml.safe_load(header) or {}, body.lstrip("\n")) if sep else ({}, text)


def write_card(dataset: str, root: Path) -> str | None:
    """Write `data/<dataset>/README.md` from its metadata.json (atomically); None when it has no card."""
    meta = root / layout.metadata_json(dataset)
    if not meta.exists():
        return None
    write_bytes(root / layout.card_md(dataset), render_card(json.loads(meta.read_text()), root).encode())
    return layout.card_md(dataset)
