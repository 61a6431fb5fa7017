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


def numbers(doc: Any, prefix: str = "") -> dict[str, float]:
    """The numeric leaves of a JSON document by dotted path (how DVC flattens metrics)."""
    if isinstance(doc, dict):
        return {k: v for key, value in doc.items() for k, v in numbers(value, f"{prefix}{key}.").items()}
    is_number = isinstance(doc, (int, float)) and not isinstance(doc, bool)
    return {prefix[:-1]: doc} if is_number else {}


def test_dvc_metrics_diff_compares_two_releases_of_a_dataset(released: Released) -> None:
    root, path = released.reg.root, layout.metadata_json("wine-quality")
    old, new = (json.loads(git(root, "show", f"{tag}:{path}")) for tag in ("wine-quality-v1.0.0", "wine-quality-v1.1.0"))
    diff = dvc_json(root, "metrics", "diff", "wine-quality-v1.0.0", "wine-quality-v1.1.0", env=released.env)[path]
    changed = {k: (v, numbers(new)[k]) for k, v in numbers(old).items() if numbers(new).get(k) != v}
    assert "splits.train.num_samples" in changed, "v1.1.0 holds out 25% instead of 20%"
    assert {k: (d["old"], d["new"]) for k, d in diff.items()} == changed


def test_dvc_metrics_show_lists_every_released_pipeline(released: Released) -> None:
    shown = dvc_json(released.reg.root, "metrics", "show", env=released.env)
    files = {f for rev in shown.values() for f in rev.get("data", {})}
    assert {layout.metadata_json("wine-quality"), layout.metadata_json("fashion-mnist")} <= files
