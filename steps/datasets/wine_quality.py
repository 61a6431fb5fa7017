"""wine-quality: UCI red and white wine CSVs merged into one table with a numeric `wine_type` column.

Consumer contract: every column except `quality` is numeric; `wine_type` is 0 for red and 1 for white (names in
`metadata.schema.features.wine_type.classes`). Exact duplicate rows are reported and, by default, dropped
before the split so no row appears in both train and val.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
from pydantic import Field, HttpUrl, model_validator

from steps import layout
from steps.errors import DregError
from steps.kit.download import fetch
from steps.kit.files import atomic_path
from steps.kit.metadata import read_sources, source_lineage, write_metadata, write_sources
from steps.kit.params import Params, load_params
from steps.kit.stage import run_stage_main
from steps.kit.tables import class_counts, numeric_stats, split_indices, write_parquet

DATASET = "wine-quality"
DATA = Path(layout.data_dir(DATASET))
RAW, PROCESSED = DATA / "raw", DATA / "processed"
FEATURES = [
    "fixed acidity", "volatile acidity", "citric acid", "residual sugar", "chlorides",
    "free sulfur dioxide", "total sulfur dioxide", "density", "pH", "sulphates", "alcohol",
]
LABEL = "quality"
WINE_TYPES = ["red", "white"]  # wine_type code = index (the platform's original encoding)


class Source(Params):
    url: HttpUrl
    sha256: str | None = None


class Download(Params):
    sources: dict[str, Source] = Field(min_length=1)

    @model_validator(mode="after")
    def _known_types(self) -> Download:
        unknown = sorted(set(self.sources) - set(WINE_TYPES))
        if unknown:
            raise ValueError(f"unknown wine type(s) {unknown}: sources are keyed by {WINE_TYPES}")
        return self


class Process(Params):
    val_fraction: float = Field(gt=0, lt=1)
    seed: int
    drop_duplicates: bool = True


class WineParams(Params):
    download: Download
    process: Process


def params() -> WineParams:
    return load_params(DATASET, WineParams)


def download() -> None:
    """Fetch each wine-type CSV and record its source (URL, checksums) in raw/sources.json."""
    sources = [
        {"wine_type": wine_type, **fetch(str(src.url), RAW / f"{wine_type}.csv", dataset=DATASET, sha256=src.sha256)}
        for wine_type, src in params().download.sources.items()
    ]
    write_sources(DATASET, sources)


def read_wine_csv(path: Path, wine_type: str) -> pd.DataFrame:
    """Read one UCI wine CSV (semicolon-separated) and check its columns."""
    frame = pd.read_csv(path, sep=";")
    missing = [c for c in [*FEATURES, LABEL] if c not in frame.columns]
    if missing:
        raise DregError(f"{path}: missing columns {missing}", "is this the UCI semicolon-separated wine CSV?")
    if not all(pd.api.types.is_numeric_dtype(frame[c]) for c in [*FEATURES, LABEL]) or frame.isna().any().any():
        raise DregError(f"{path}: non-numeric or empty values", "the source file is malformed")
    return frame[[*FEATURES, LABEL]].assign(wine_type=WINE_TYPES.index(wine_type))


def duplicate_report(frame: pd.DataFrame) -> dict[str, int]:
    """Exact duplicate rows (all columns, wine_type included) of the merged table."""
    dup = frame.duplicated()
    return {"rows": len(frame), "duplicate_rows": int(dup.sum()), "unique_rows": int((~dup).sum())}


def merged() -> pd.DataFrame:
    """Red and white rows in one table, in source order."""
    return pd.concat([read_wine_csv(RAW / s["file"], s["wine_type"]) for s in read_sources(DATASET)],
                     ignore_index=True)


def process() -> None:
    """Merge red and white into processed/wine-quality.csv (de-duplicated unless `drop_duplicates: false`) and a
    seeded, stratified train/val parquet split of it."""
    p = params().process
    frame = merged()
    if p.drop_duplicates:
        frame = frame.drop_duplicates(ignore_index=True)
    with atomic_path(PROCESSED / "wine-quality.csv") as tmp:
        frame.to_csv(tmp, index=False)
    train, val = split_indices(len(frame), p.val_fraction, p.seed, stratify=frame[LABEL])
    for split, idx in (("train", train), ("val", val)):
        table = pa.Table.from_pandas(frame.iloc[idx].reset_index(drop=True), preserve_index=False)
        write_parquet(table, PROCESSED / split / f"{split}.parquet")


def analyze() -> None:
    """Feature statistics, class distribution, duplicates and lineage into metadata.json."""
    p = params()
    splits = {s: pd.read_parquet(PROCESSED / s / f"{s}.parquet") for s in ("train", "val")}
    full = pd.concat(splits.values(), ignore_index=True)
    classes = sorted(int(q) for q in full[LABEL].unique())
    schema = {
        "features": {
            **{c: {"dtype": "float64"} for c in FEATURES},
            "wine_type": {"dtype": "int64", "classes": WINE_TYPES,
                          "encoding": {str(i): name for i, name in enumerate(WINE_TYPES)}},
            LABEL: {"dtype": "int64", "classes": classes},
            "label": {"column": LABEL, "classes": classes},
        },
        "files": {"csv": "processed/wine-quality.csv", "train": "processed/train/train.parquet",
                  "val": "processed/val/val.parquet"},
    }
    metrics = {
        "features": {c: numeric_stats(full[c].to_numpy()) for c in FEATURES},
        **{s: {"class_distribution": class_counts(f[LABEL]),
               "wine_type_distribution": class_counts(f["wine_type"].map(WINE_TYPES.__getitem__))}
           for s, f in splits.items()},
        "duplicates": {**duplicate_report(merged()), "dropped_before_split": p.process.drop_duplicates,
                       "val_rows_in_train": int(splits["val"].merge(splits["train"].drop_duplicates()).shape[0])},
    }
    write_metadata(
        DATASET,
        schema=schema,
        splits={s: {"num_samples": len(f)} for s, f in splits.items()},
        metrics=metrics,
        lineage=source_lineage(DATASET, p),
    )


if __name__ == "__main__":
    run_stage_main(DATASET, download, process, analyze)
