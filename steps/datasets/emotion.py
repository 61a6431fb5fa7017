"""emotion: `boltuix/emotions-dataset` sentences with emotion labels, a stratified train/val split and quality gates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import Field, field_validator

from steps import layout
from steps.errors import DregError
from steps.kit.download import fetch
from steps.kit.metadata import read_sources, source_lineage, write_metadata, write_sources
from steps.kit.params import Params, load_params
from steps.kit.stage import run_stage_main
from steps.kit.tables import class_counts, split_indices, write_parquet
from steps.sources.hub import HubFile, hub_lineage, pinned

DATASET = "emotion"
DATA = Path(layout.data_dir(DATASET))
RAW, PROCESSED = DATA / "raw", DATA / "processed"
SPLITS = ("train", "val")
SCHEMA = pa.schema([("text", pa.string()), ("label", pa.string()), ("label_id", pa.int64())])


class Download(HubFile):
    sha256: str | None = None
    text_column: str = "Sentence"
    label_column: str = "Label"


class Process(Params):
    labels: list[str] = Field(min_length=2)
    sample_fraction: float = Field(1.0, gt=0, le=1)
    val_fraction: float = Field(gt=0, lt=1)
    seed: int

    @field_validator("labels")
    @classmethod
    def _unique(cls, labels: list[str]) -> list[str]:
        if len(set(labels)) != len(labels):
            raise ValueError("labels must be unique")
        return labels


class EmotionParams(Params):
    download: Download
    process: Process


def params() -> EmotionParams:
    return load_params(DATASET, EmotionParams)


def classes(p: Process) -> list[str]:
    """Class names in label-id order (sorted, so ids are stable whatever order params list them in)."""
    return sorted(p.labels)


def download() -> None:
    """Fetch the dataset's parquet file at the pinned commit; record its source (URL, commit, ref, checksums)."""
    d = params().download
    commit = pinned(DATASET, d).commit or d.revision
    source = fetch(d.url(commit), RAW / Path(d.path).name, dataset=DATASET, sha256=d.sha256)
    write_sources(DATASET, [{**source, "revision": commit, "ref": d.revision}])


def read_source(path: Path, d: Download) -> pd.DataFrame:
    """The source table as `text`, `label` columns (labels stripped and lower-cased)."""
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise DregError(f"{path}: not a parquet file ({exc})", "re-run the download stage") from None
    missing = [c for c in (d.text_column, d.label_column) if c not in table.column_names]
    if missing:
        raise DregError(f"{path}: missing columns {missing} (has {table.column_names})",
                        "set download.text_column / label_column in params.yaml")
    frame = table.select([d.text_column, d.label_column]).to_pandas()
    frame.columns = ["text", "label"]
    frame["label"] = frame["label"].astype("string").str.strip().str.lower()
    return frame


def check_quality(frame: pd.DataFrame, known: list[str]) -> None:
    """Gate: no empty texts and no labels outside `known`."""
    empty = int(frame["text"].isna().sum() + (frame["text"].dropna().astype(str).str.strip() == "").sum())
    if empty:
        raise DregError(f"{DATASET}: {empty} empty text(s) in the source", "clean the source or filter it upstream")
    unknown = sorted(set(frame["label"].dropna()) - set(known)) + (["<missing>"] if frame["label"].isna().any() else [])
    if unknown:
        raise DregError(f"{DATASET}: unknown label(s) {unknown[:10]}", "add them to process.labels in params.yaml")


def check_splits(splits: dict[str, pd.DataFrame], known: list[str]) -> None:
    """Gate: every class appears in every split."""
    for name, frame in splits.items():
        absent = sorted(set(known) - set(frame["label"]))
        if absent:
            raise DregError(f"{DATASET}: class(es) {absent} missing from the {name} split",
                            "raise process.sample_fraction or val_fraction, or drop the class from process.labels")


def process() -> None:
    """Gate the source, sample `sample_fraction` per class, and write a stratified seeded train/val split."""
    p = params()
    names = classes(p.process)
    sources = read_sources(DATASET)
    frame = read_source(RAW / sources[0]["file"], p.download)
    check_quality(frame, names)
    if p.process.sample_fraction < 1:
        keep, _ = split_indices(len(frame), 1 - p.process.sample_fraction, p.process.seed, stratify=frame["label"])
        frame = frame.iloc[keep].reset_index(drop=True)
    frame["label_id"] = frame["label"].map({name: i for i, name in enumerate(names)}).astype("int64")
    train, val = split_indices(len(frame), p.process.val_fraction, p.process.seed, stratify=frame["label"])
    splits = {"train": frame.iloc[train], "val": frame.iloc[val]}
    check_splits(splits, names)
    for split, part in splits.items():
        table = pa.Table.from_pandas(part.reset_index(drop=True), schema=SCHEMA, preserve_index=False)
        write_parquet(table, PROCESSED / split / f"{split}.parquet")


def length_stats(values: np.ndarray) -> dict[str, float]:
    """mean, p50, p95, max of text lengths."""
    v = np.asarray(values, dtype=np.float64)
    if not v.size:
        return {"mean": 0.0, "p50": 0.0, "p95": 0.0, "max": 0.0}
    return {"mean": round(float(v.mean()), 4), "p50": float(np.percentile(v, 50)),
            "p95": round(float(np.percentile(v, 95)), 4), "max": float(v.max())}


def split_metrics(frame: pd.DataFrame) -> dict[str, Any]:
    """Class distribution, text length (characters, whitespace tokens), duplicate and empty counts of one split."""
    text = frame["text"].astype(str)
    return {
        "class_distribution": class_counts(frame["label"].to_numpy()),
        "text_length_chars": length_stats(text.str.len().to_numpy()),
        "text_length_tokens": length_stats(text.str.split().map(len).to_numpy()),
        "duplicate_texts": int(text.duplicated().sum()),
        "empty_texts": int((text.str.strip() == "").sum()),
    }


def analyze() -> None:
    """Classes, label map, per-split distributions and text statistics into metadata.json."""
    p = params()
    names = classes(p.process)
    splits = {s: pd.read_parquet(PROCESSED / s / f"{s}.parquet") for s in SPLITS}
    check_splits(splits, names)
    metrics: dict[str, Any] = {s: split_metrics(f) for s, f in splits.items()}
    metrics["val_texts_in_train"] = int(splits["val"]["text"].isin(set(splits["train"]["text"])).sum())
    write_metadata(
        DATASET,
        schema={
            "features": {
                "text": {"dtype": "string"},
                "label": {"dtype": "string", "column": "label", "classes": names},
                "label_id": {"dtype": "int64", "range": [0, len(names) - 1]},
            },
            "files": {s: f"processed/{s}/{s}.parquet" for s in SPLITS},
        },
        splits={s: {"num_samples": len(f)} for s, f in splits.items()},
        metrics=metrics,
        lineage=source_lineage(DATASET, p, hub=hub_lineage(p.download, read_sources(DATASET)[0])),
        extra={"label_map": {str(i): name for i, name in enumerate(names)}},
    )


if __name__ == "__main__":
    run_stage_main(DATASET, download, process, analyze)
