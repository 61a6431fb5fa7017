"""Stock DVC reads a registry: each dvc.yaml declares its metadata.json as metrics, so `dvc metrics show/diff`
compare releases without dreg."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from steps import layout
from tests.support.registry import VENV_BIN, Released, git

pytestmark = pytest.mark.xdist_group("catalog")  # one sample registry per worker


def dvc_json(root: Path, *args: str, env: dict[str, str]) -> Any:
    """The `--json` output of a stock `dvc` command run in `root`."""
    out = subprocess.run([str(Path(VENV_BIN) / "dvc"), *args, "--json"], cwd=root, env=env, capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout)


def at(doc: Any, dotted: str) -> Any:
    """The value at a dotted path of a JSON document (how DVC names a metric)."""
    for key in dotted.split("."):
        doc = doc[key]
    return doc


def test_dvc_metrics_diff_compares_two_releases_of_a_dataset(released: Released) -> None:
    root, path = released.reg.root, layout.metadata_json("wine-quality")
    tags = ("wine-quality-v1.0.0", "wine-quality-v1.1.0")
    old, new = (json.loads(git(root, "show", f"{tag}:{path}")) for tag in tags)
    diff = dvc_json(root, "metrics", "diff", "wine-quality-v1.0.0", "wine-quality-v1.1.0", env=released.env)[path]
    train = diff["splits.train.num_samples"]  # v1.1.0 holds out 25% instead of 20%
    assert train["diff"] == train["new"] - train["old"] < 0
    for name, change in diff.items():
        assert (change["old"], change["new"]) == (at(old, name), at(new, name)) and change["old"] != change["new"]
    assert "dataset.name" not in diff


def test_dvc_metrics_show_lists_every_released_pipeline(released: Released) -> None:
    shown = dvc_json(released.reg.root, "metrics", "show", env=released.env)
    files = {f for rev in shown.values() for f in rev.get("data", {})}
    assert {layout.metadata_json("wine-quality"), layout.metadata_json("fashion-mnist")} <= files


def test_dvc_plots_diff_draws_a_dataset_at_two_releases(released: Released) -> None:
    """wine-quality's dvc.yaml declares its processed table as a plot: one point per wine at each release."""
    root, tags = released.reg.root, ("wine-quality-v1.0.0", "wine-quality-v1.1.0")
    plots = dvc_json(root, "plots", "diff", *tags, "--split", env=released.env)
    assert not plots.get("errors"), plots["errors"]
    (drawn,) = plots["data"][layout.data_file("wine-quality", "processed/wine-quality.csv")]
    assert drawn["revisions"] == list(tags)
    assert drawn["content"]["encoding"]["x"]["field"] == "alcohol"
    points = drawn["anchor_definitions"]["<DVC_METRIC_DATA>"]
    for tag in tags:
        splits = json.loads(git(root, "show", f"{tag}:{layout.metadata_json('wine-quality')}"))["splits"]
        assert sum(1 for p in points if p["rev"] == tag) == sum(s["num_samples"] for s in splits.values())
