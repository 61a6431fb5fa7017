"""`dreg diff`: params, sources, sample counts, class shares and statistics between two versions, with flags."""

from __future__ import annotations

import json

from steps.dev.scaffold import update_params
from steps.inspect.diff import diff_metadata
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
