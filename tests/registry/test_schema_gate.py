"""The schema gate: each schema mutation is classified with the bump its consumers need, an unchanged schema needs
none, and a release whose bump is too small stops before anything is pushed or tagged."""

from __future__ import annotations

import copy
import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from steps.errors import DregError
from steps.inspect.diff import diff_metadata
from steps.kit.schema import needed_bump, schema_changes
from steps.release.sequence import check_schema_bump
from tests.support.registry import commit_all, tags

WINE = {
    "features": {
        "alcohol": {"dtype": "float64"},
        "pH": {"dtype": "float64"},
        "wine_type": {"dtype": "int64", "classes": ["red", "white"], "encoding": {"0": "red", "1": "white"}},
        "quality": {"dtype": "int64", "classes": [3, 4, 5, 6, 7, 8]},
    },
    "files": {"csv": "processed/wine-quality.csv", "train": "processed/train/train.parquet"},
}
FASHION = {
    "features": {
        "image": {"dtype": "uint8", "shape": [784], "arrow": "fixed_size_list<uint8>[784]"},
        "label": {"dtype": "uint8", "classes": ["T-shirt/top", "Trouser", "Pullover"]},
    },
    "files": {"train": "processed/train/train.parquet", "val": "processed/val/val.parquet"},
}


def mutate(base: dict[str, Any], change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    new = copy.deepcopy(base)
    change(new)
    return new


def rename(doc: dict[str, Any], old: str, new: str) -> None:
    doc["features"][new] = doc["features"].pop(old)


MUTATIONS = [
    # (name, base, mutation, bump needed)
    ("wine_type strings → ints", {**WINE, "features": {**WINE["features"], "wine_type": {"dtype": "string"}}},
     lambda d: d["features"].update(wine_type=copy.deepcopy(WINE["features"]["wine_type"])), "major"),
    ("flat 784 → 28×28", FASHION,
     lambda d: d["features"]["image"].update(shape=[28, 28], arrow="fixed_size_list<fixed_size_list<uint8>[28]>[28]"),
     "major"),
    ("column removed", WINE, lambda d: d["features"].pop("pH"), "major"),
    ("column renamed", WINE, lambda d: rename(d, "pH", "ph"), "major"),
    ("dtype changed", WINE, lambda d: d["features"]["alcohol"].update(dtype="float32"), "major"),
    ("class encoding swapped", WINE,
     lambda d: d["features"]["wine_type"].update(encoding={"0": "white", "1": "red"}), "major"),
    ("label set shrunk", WINE, lambda d: d["features"]["quality"].update(classes=[4, 5, 6, 7, 8]), "major"),
    ("classes reordered", FASHION,
     lambda d: d["features"]["label"].update(classes=["Trouser", "T-shirt/top", "Pullover"]), "major"),
    ("file removed", WINE, lambda d: d["files"].pop("csv"), "major"),
    ("file moved", FASHION, lambda d: d["files"].update(val="processed/valid/val.parquet"), "major"),
    ("column added", WINE, lambda d: d["features"].update(sugar={"dtype": "float64"}), "minor"),
    ("file added", FASHION, lambda d: d["files"].update(test="processed/test/test.parquet"), "minor"),
    ("class appended", FASHION,
     lambda d: d["features"]["label"].update(classes=["T-shirt/top", "Trouser", "Pullover", "Dress"]), "minor"),
    ("description only", WINE, lambda d: d["features"]["pH"].update(description="acidity"), "patch"),
    ("unchanged", FASHION, lambda d: None, "patch"),
]


@pytest.mark.parametrize(("name", "base", "change", "bump"), MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_each_mutation_needs_its_bump(name, base, change, bump):
    changes = schema_changes(base, mutate(base, change))
    assert needed_bump(changes) == bump, [str(c) for c in changes]
    assert (not changes) == (bump == "patch"), name


def test_an_unchanged_real_schema_has_no_change():
    assert schema_changes(WINE, copy.deepcopy(WINE)) == []
    assert schema_changes(FASHION, json.loads(json.dumps(FASHION))) == []


def test_diff_shows_the_same_comparison_with_breaks_flagged():
    new = mutate(FASHION, lambda d: d["features"]["image"].update(shape=[28, 28]))
    rows = [c for c in diff_metadata({"schema": FASHION}, {"schema": new}, 0.05) if c.section == "schema"]
    assert [(c.key, c.old, c.new, c.flagged) for c in rows] == \
        [("features.image.shape (major)", [784], [28, 28], True)]


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args], cwd=root, check=True,
                   capture_output=True)


@pytest.fixture
def released(tmp_path: Path) -> Path:
    """A git repo whose `toy-v1.0.0` tag holds metadata with the fashion schema."""
    meta = tmp_path / "data/toy/metadata.json"
    meta.parent.mkdir(parents=True)
    meta.write_text(json.dumps({"schema": FASHION}))
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-qm", "release")
    git(tmp_path, "tag", "-a", "toy-v1.0.0", "-m", "toy v1.0.0")
    return tmp_path


def test_a_breaking_change_under_minor_stops_naming_each_change(released):
    new = mutate(FASHION, lambda d: (d["features"]["image"].update(shape=[28, 28]), d["files"].pop("val")))
    (released / "data/toy/metadata.json").write_text(json.dumps({"schema": new}))
    with pytest.raises(DregError) as caught:
        check_schema_bump("toy", "minor", released)
    text = str(caught.value)
    assert "needs a major bump" in text and "features.image.shape" in text and "files.val" in text
    check_schema_bump("toy", "major", released)  # the right bump releases


def test_an_addition_needs_minor_and_an_unchanged_schema_any_bump(released):
    new = mutate(FASHION, lambda d: d["files"].update(test="processed/test/test.parquet"))
    (released / "data/toy/metadata.json").write_text(json.dumps({"schema": new}))
    with pytest.raises(DregError, match="needs a minor bump"):
        check_schema_bump("toy", "patch", released)
    check_schema_bump("toy", "minor", released)
    (released / "data/toy/metadata.json").write_text(json.dumps({"schema": FASHION}))
    check_schema_bump("toy", "patch", released)


def test_dreg_run_with_too_small_a_bump_pushes_and_tags_nothing(registry, dreg):
    """The real break our consumers met (wine_type ints → strings in the schema): `--bump minor` stops before any
    push, naming the change; `--bump major` releases v2.0.0."""
    assert dreg("run", "wine-quality", "--push").returncode == 0
    code = registry.root / "steps/datasets/wine_quality.py"
    code.write_text(code.read_text().replace('"wine_type": {"dtype": "int64",', '"wine_type": {"dtype": "string",'))
    commit_all(registry.root, "wine_type as strings")
    before = sorted(p.name for p in registry.remote.rglob("*") if p.is_file())
    proc = dreg("run", "wine-quality", "--push", "--bump", "minor")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "features.wine_type.dtype" in proc.stderr and "needs a major bump" in proc.stderr, proc.stderr
    assert tags(registry.origin) == tags(registry.root) == ["wine-quality-v1.0.0"]
    assert sorted(p.name for p in registry.remote.rglob("*") if p.is_file()) == before
    assert dreg("run", "wine-quality", "--push", "--bump", "major").returncode == 0
    assert tags(registry.origin) == ["wine-quality-v1.0.0", "wine-quality-v2.0.0"]
