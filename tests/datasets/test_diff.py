"""`dreg diff`: params, sources, sample counts, class shares and statistics between two versions, with flags."""

from __future__ import annotations

import json

from steps.dev.scaffold import update_params
from steps.inspect.diff import Floors, diff_metadata
from tests.support.registry import commit_all


def metadata(pixel_mean: float, train: int, classes: dict[str, int], sha: str = "a" * 64, seed: int = 42) -> dict:
    return {
        "splits": {"train": {"num_samples": train}},
        "metrics": {"train": {"pixel_mean": pixel_mean, "class_distribution": classes}},
        "lineage": {"params": {"process": {"seed": seed}}, "upstream": {},
                    "source": {"kind": "url", "files": [{"file": "x.gz", "sha256": sha}]}},
    }


def test_changes_above_the_threshold_are_flagged():
    old = metadata(0.30, 1000, {"a": 500, "b": 500})
    new = metadata(0.318, 1030, {"a": 450, "b": 550}, sha="b" * 64, seed=7)
    changes = {(c.section, c.key): c for c in diff_metadata(old, new, threshold=0.05)}
    assert changes[("metrics", "train.pixel_mean")].flagged  # +6%
    assert abs(changes[("metrics", "train.pixel_mean")].rel - 0.06) < 1e-9
    assert not changes[("samples", "train")].flagged  # +3%
    assert changes[("classes", "train.a")].flagged and changes[("classes", "train.b")].flagged  # share 0.5 → 0.45/0.55
    assert (changes[("params", "process.seed")].old, changes[("params", "process.seed")].new) == (42, 7)
    assert changes[("sources", "x.gz.sha256")].new == "b" * 64
    relaxed = {(c.section, c.key): c for c in diff_metadata(old, new, threshold=0.10)}
    assert not relaxed[("metrics", "train.pixel_mean")].flagged and not relaxed[("classes", "train.a")].flagged
    assert not any(c.section == "metrics" for c in diff_metadata(old, old, threshold=0.05))


def test_a_new_prompt_version_is_a_source_change():
    """The prompt as roco-radiology records it (`prompt_name`, `prompt_version`, …) shows up among the sources."""
    old, new = metadata(0.3, 10, {"a": 5}), metadata(0.3, 10, {"a": 5})
    old["prompt"] = {"prompt_name": "radiology-caption", "prompt_version": 1, "alias": "production", "sha256": "1"}
    new["prompt"] = {**old["prompt"], "prompt_version": 2, "sha256": "2"}
    changes = {(c.section, c.key): (c.old, c.new) for c in diff_metadata(old, new, threshold=0.05)}
    assert changes[("sources", "prompt.version")] == (1, 2) and changes[("sources", "prompt.sha256")] == ("1", "2")
    assert ("sources", "prompt.name") not in changes  # unchanged


def test_a_class_share_needs_an_absolute_move_to_be_flagged():
    """0.00123 → 0.00131 is +6.5% of a class that is almost absent, not drift; 0.50 → 0.45 is."""
    old = metadata(0.30, 100_000, {"rare": 123, "a": 49_877, "b": 50_000})
    new = metadata(0.30, 100_000, {"rare": 131, "a": 44_869, "b": 55_000})
    changes = {(c.section, c.key): c for c in diff_metadata(old, new, threshold=0.05)}
    rare = changes[("classes", "train.rare")]
    assert (rare.old, rare.new) == (0.00123, 0.00131) and rare.rel > 0.05 and not rare.flagged
    assert changes[("classes", "train.a")].flagged and changes[("classes", "train.b")].flagged  # ±10%, 5 points
    strict = {(c.section, c.key): c for c in diff_metadata(old, new, 0.05, Floors(share=0.0))}
    assert strict[("classes", "train.rare")].flagged


def test_a_statistic_with_a_std_needs_a_move_of_a_tenth_of_it():
    """A feature mean 0.050 → 0.053 (+6%) with std 0.1 moved 0.03 std: not flagged; 0.050 → 0.080 (0.3 std) is."""
    def features(mean: float, std: float = 0.1) -> dict:
        meta = metadata(0.30, 1000, {"a": 500, "b": 500})
        meta["metrics"]["features"] = {"chlorides": {"mean": mean, "std": std, "min": 0.01, "max": 0.6}}
        meta["metrics"]["train"]["wine_type_distribution"] = {"red": 250, "white": 750}
        return meta

    changes = {c.key: c for c in diff_metadata(features(0.050), features(0.053), 0.05) if c.section == "metrics"}
    assert changes["features.chlorides.mean"].rel > 0.05 and not changes["features.chlorides.mean"].flagged
    assert {c.key: c for c in diff_metadata(features(0.050), features(0.080), 0.05)}[
        "features.chlorides.mean"].flagged
    assert {c.key: c for c in diff_metadata(features(0.050), features(0.053), 0.05, Floors(effect=0.0))}[
        "features.chlorides.mean"].flagged
    moved = features(0.050)
    moved["metrics"]["train"]["wine_type_distribution"] = {"red": 252, "white": 768}  # counts +2%/+2.4%, shares ~0
    keys = {(c.section, c.key) for c in diff_metadata(features(0.050), moved, 0.01)}
    assert ("classes", "train.wine_type_distribution.red") in keys  # compared as a share, never as a count
    assert not any("wine_type_distribution" in key for section, key in keys if section == "metrics")
    assert not any(c.flagged for c in diff_metadata(features(0.050), moved, 0.01))


def test_diff_between_two_emotion_releases(registry, dreg):
    assert dreg("run", "emotion").returncode == 0
    update_params(registry.root, "emotion", {"process": {"sample_fraction": 0.5}})
    commit_all(registry.root, "emotion: half the data")
    result = dreg("run", "emotion")
    assert result.returncode == 0, result.stderr
    meta = json.loads((registry.root / "data/emotion/metadata.json").read_text())
    assert abs(sum(s["num_samples"] for s in meta["splits"].values()) - 200) <= 13
    assert all(len(meta["metrics"][s]["class_distribution"]) == 13 for s in ("train", "val"))

    out = dreg("diff", "emotion@1.0.0", "emotion@latest", "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert (doc["from"], doc["to"], doc["threshold"]) == ("emotion-v1.0.0", "emotion-v1.0.1", 0.05)
    changes = {(c["section"], c["key"]): c for c in doc["changes"]}
    assert (changes[("params", "process.sample_fraction")]["old"],
            changes[("params", "process.sample_fraction")]["new"]) == (1.0, 0.5)
    train = changes[("samples", "train")]
    assert train["flagged"] and -0.55 < train["rel"] < -0.45
    assert not any(section == "sources" for section, _ in changes)
    relaxed = json.loads(dreg("diff", "emotion@1.0.0", "emotion@1.0.1", "--json", "--threshold", "60").stdout)
    assert not {c["key"]: c for c in relaxed["changes"] if c["section"] == "samples"}["train"]["flagged"]

    table = dreg("diff", "emotion@1.0.0", "emotion@1.0.1")
    assert table.returncode == 0 and "FLAG" in table.stdout and "emotion-v1.0.1" in table.stdout
    unknown = dreg("diff", "emotion@1.0.0", "emotion@9.9.9")
    assert unknown.returncode == 1 and "emotion has no version 9.9.9" in unknown.stderr
