"""wine-quality as the scikit-learn trainer reads it: get_url + pd.read_csv, every column but `quality` a feature."""

from __future__ import annotations

import io

import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from dreg_client import get_url, open_frame, read_metadata
from steps.dev.samples import wine_files

pytestmark = pytest.mark.xdist_group("contracts")  # one released registry per worker


def source_rows() -> pd.DataFrame:
    """The generated UCI CSVs the release was built from, red (0) then white (1)."""
    files = wine_files()
    return pd.concat([pd.read_csv(io.BytesIO(files[f"winequality-{c}.csv"]), sep=";").assign(wine_type=i)
                      for i, c in enumerate(("red", "white"))], ignore_index=True)


def test_sklearn_trainer_reads_numeric_features(released_all, registry_address, outside):
    frame = pd.read_csv(get_url("wine-quality", "processed/wine-quality.csv", "1.0.0", repo=registry_address))
    meta = read_metadata("wine-quality", "1.0.0", repo=registry_address)
    assert meta["dataset"]["name"] == "wine-quality"

    features, target = frame.drop(columns=["quality"]), frame["quality"]
    assert all(pd.api.types.is_numeric_dtype(features[c]) for c in features.columns)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=200)).fit(features, target)
    assert model.predict(features.head(5)).shape == (5,)

    assert sorted(frame["wine_type"].unique()) == [0, 1]
    assert meta["schema"]["features"]["wine_type"]["classes"] == ["red", "white"]
    source = source_rows()
    unique = source.drop_duplicates()
    assert frame.groupby("wine_type").size().to_dict() == unique.groupby("wine_type").size().to_dict()


def test_duplicates_are_reported_and_no_row_crosses_splits(released_all, registry_address, outside):
    meta = read_metadata("wine-quality", "1.0.0", repo=registry_address)
    source = source_rows()
    expected = int(source.duplicated().sum())
    assert expected > 0
    assert meta["metrics"]["duplicates"] == {"rows": len(source), "duplicate_rows": expected,
                                             "unique_rows": len(source) - expected, "dropped_before_split": True,
                                             "val_rows_in_train": 0}
    train = open_frame("wine-quality", "processed/train/train.parquet", "1.0.0", repo=registry_address)
    val = open_frame("wine-quality", "processed/val/val.parquet", "1.0.0", repo=registry_address)
    assert len(val.merge(train)) == 0
    assert len(train) + len(val) == len(source) - expected
