"""What changed between two versions' metadata: params, sources, counts, class shares, statistics, drift flags."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, TypeGuard

from steps import layout
from steps.errors import DregError
from steps.git import show_file
from steps.kit.schema import schema_changes
from steps.refs.versions import Version

DEFAULT_THRESHOLD_PCT = 5.0
DEFAULT_MIN_SHARE = 0.01  # a class share is flagged only when it moves at least 1 percentage point
DEFAULT_MIN_EFFECT = 0.1  # a statistic with a known std is flagged only when it moves at least 0.1 std
SECTIONS = {"schema": "schema (bump it needs)", "params": "params", "sources": "sources", "samples": "samples",
            "classes": "class share", "metrics": "metrics"}


@dataclass(frozen=True)
class Floors:
    """Minimum absolute changes a flag also needs: `share` for class shares (fraction points), `effect` for
    statistics whose std the metadata records (in std units)."""

    share: float = DEFAULT_MIN_SHARE
    effect: float = DEFAULT_MIN_EFFECT


@dataclass(frozen=True)
class Change:
    """One compared value: where it lives, both sides, relative change (numbers) and whether it is flagged."""

    section: str
    key: str
    old: Any
    new: Any
    rel: float | None = None
    flagged: bool = False


def load_metadata(v: Version) -> dict[str, Any]:
    """metadata.json as released in tag `v`."""
    text = show_file(v.tag, layout.metadata_json(v.dataset))
    if text is None:
        raise DregError(f"{v.tag} has no metadata.json", "only releases with metadata can be compared")
    return json.loads(text)


def flatten(doc: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts as {"a.b.c": leaf}; lists stay leaves."""
    if not isinstance(doc, dict):
        return {prefix: doc} if prefix else {}
    out: dict[str, Any] = {}
    for key, value in doc.items():
        out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return out


def is_number(x: Any) -> TypeGuard[int | float]:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def relative(old: float, new: float) -> float:
    """(new - old) / |old|; infinite when a zero becomes non-zero."""
    if old == new:
        return 0.0
    return (new - old) / abs(old) if old else math.copysign(math.inf, new)


def compare_values(section: str, old: dict[str, Any], new: dict[str, Any], threshold: float | None = None,
                   keep_equal: bool = False, effect: float = 0.0) -> list[Change]:
    """Changes between two flat mappings; with a threshold, numbers are measures: relative change, flagged above
    it when they also move at least `effect` times their std (where a sibling `std` is recorded)."""
    changes = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if a == b and not keep_equal:
            continue
        if threshold is not None and is_number(a) and is_number(b):
            rel = relative(float(a), float(b))
            floor = effect * std_scale(key, old, new)
            changes.append(Change(section, key, a, b, rel, abs(rel) > threshold and abs(b - a) >= floor))
        else:
            changes.append(Change(section, key, a, b, None, threshold is not None and a != b))
    return changes


def std_key(key: str) -> str | None:
    """The key of the std recorded beside the statistic `key` (`x.mean` → `x.std`, `train.pixel_mean` →
    `train.pixel_std`); None for a statistic without one."""
    head, _, last = key.rpartition(".")
    stat = last.rsplit("_", 1)
    if last in ("mean", "min", "max", "p50", "p95", "std"):
        return f"{head}.std" if head else "std"
    if len(stat) == 2 and stat[1] in ("mean", "min", "max", "std"):
        return f"{head}.{stat[0]}_std" if head else f"{stat[0]}_std"
    return None


def std_scale(key: str, old: dict[str, Any], new: dict[str, Any]) -> float:
    """The larger std of the two versions recorded beside `key` (0 when none: the relative threshold alone)."""
    name = std_key(key)
    stds = [side.get(name) for side in (old, new)] if name else []
    return max([abs(float(s)) for s in stds if is_number(s)], default=0.0)


PROMPT_KEYS = {"name": "prompt_name", "version": "prompt_version", "alias": "alias", "sha256": "sha256"}


def sources(meta: dict[str, Any]) -> dict[str, Any]:
    """Source checksums, source kind, upstream tags, the Hub commit and the prompt (if any), flat."""
    lineage = meta.get("lineage", {})
    files = {f"{f.get('file') or f.get('url')}.sha256": f.get("sha256") or f.get("md5")
             for f in lineage.get("source", {}).get("files", [])}
    recorded = meta.get("prompt") or {}  # what roco-radiology's process records (steps/datasets/roco_radiology.py)
    prompt = {f"prompt.{name}": recorded.get(key) for name, key in PROMPT_KEYS.items()} if recorded else {}
    upstream = {f"upstream.{k}": v for k, v in lineage.get("upstream", {}).items()}
    hub = {f"hub.{k}": v for k, v in lineage.get("hub", {}).items()}  # repo, path, ref and the commit read
    return {"source.kind": lineage.get("source", {}).get("kind"), **files, **upstream, **hub, **prompt}


def shares(distribution: dict[str, int]) -> dict[str, float]:
    total = sum(distribution.values()) or 1
    return {k: round(v / total, 6) for k, v in distribution.items()}


def is_distribution(part: str) -> bool:
    """Whether a metrics key names a block of counts per category (`class_distribution`,
    `wine_type_distribution`): compared as shares, never as raw counts."""
    return part.endswith("_distribution")


def class_distributions(meta: dict[str, Any]) -> dict[str, dict[str, int]]:
    """Every `class_distribution` block of the metrics, by the path above it (usually the split)."""
    return {k.removesuffix("class_distribution").rstrip(".") or "all": v
            for k, v in flatten_dicts(meta.get("metrics", {})).items() if k.split(".")[-1] == "class_distribution"}


def distributions(meta: dict[str, Any]) -> dict[str, dict[str, int]]:
    """Every `*_distribution` block of the metrics: the class distributions as `class_distributions`, any other
    by its own path (`train.wine_type_distribution`)."""
    others = {k: v for k, v in flatten_dicts(meta.get("metrics", {})).items()
              if is_distribution(k.split(".")[-1]) and k.split(".")[-1] != "class_distribution"}
    return {**class_distributions(meta), **others}


def sample_counts(meta: dict[str, Any]) -> dict[str, Any]:
    return {split: info.get("num_samples") for split, info in meta.get("splits", {}).items()}


def class_changes(old: dict[str, Any], new: dict[str, Any], threshold: float,
                  min_share: float = DEFAULT_MIN_SHARE) -> list[Change]:
    """Per split and class: the class's share of the split; flagged when it moves more than `threshold` (relative)
    and at least `min_share` (absolute: 0.00123 → 0.00131 is +6.5% of a class almost absent, not drift)."""
    a, b = distributions(old), distributions(new)
    changes = []
    for split in sorted(set(a) | set(b)):
        sa, sb = shares(a.get(split, {})), shares(b.get(split, {}))
        for cls in sorted(set(sa) | set(sb)):
            if cls not in sa or cls not in sb:
                changes.append(Change("classes", f"{split}.{cls}", sa.get(cls), sb.get(cls), None, True))
            elif sa[cls] != sb[cls]:
                rel = relative(sa[cls], sb[cls])
                moved = abs(rel) > threshold and abs(sb[cls] - sa[cls]) >= min_share - 1e-12
                changes.append(Change("classes", f"{split}.{cls}", sa[cls], sb[cls], rel, moved))
    return changes


def flatten_dicts(doc: dict[str, Any], prefix: str = "") -> dict[str, dict[str, Any]]:
    """Every nested dict of `doc` by its dotted path (to find `class_distribution` blocks)."""
    out: dict[str, dict[str, Any]] = {}
    for key, value in doc.items():
        if isinstance(value, dict):
            path = f"{prefix}.{key}" if prefix else str(key)
            out[path] = value
            out.update(flatten_dicts(value, path))
    return out


def numeric_metrics(meta: dict[str, Any]) -> dict[str, Any]:
    """Metric leaves that are not counts of a distribution."""
    return {k: v for k, v in flatten(meta.get("metrics", {})).items()
            if not any(is_distribution(part) for part in k.split("."))}


def schema_diff(old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    """Schema changes (the release gate's comparison), keyed `<where> (<bump it needs>)`; breaking ones flagged."""
    return [Change("schema", f"{c.where} ({c.bump})", c.old, c.new, flagged=c.bump == "major")
            for c in schema_changes(old.get("schema"), new.get("schema"))]


def diff_metadata(old: dict[str, Any], new: dict[str, Any], threshold: float,
                  floors: Floors | None = None) -> list[Change]:
    """All changes between two metadata documents, section by section; a measure is flagged above `threshold`
    (relative) and its absolute `floors`."""
    floors = floors or Floors()
    lineage_old, lineage_new = old.get("lineage", {}), new.get("lineage", {})
    return [
        *schema_diff(old, new),
        *compare_values("params", flatten(lineage_old.get("params", {})), flatten(lineage_new.get("params", {}))),
        *compare_values("sources", sources(old), sources(new)),
        *compare_values("samples", sample_counts(old), sample_counts(new), threshold, keep_equal=True),
        *class_changes(old, new, threshold, floors.share),
        *compare_values("metrics", numeric_metrics(old), numeric_metrics(new), threshold, effect=floors.effect),
    ]
