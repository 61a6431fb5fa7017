"""Catalogue pages escape every text they show, and the plots are deterministic SVG."""

from __future__ import annotations

from steps.catalog import plots
from steps.catalog.build import card_html
from steps.catalog.lineage import lineage_svg
from steps.catalog.pages import dataset_page, index_page
from steps.catalog.source import DatasetInfo, ReleaseInfo
from steps.refs.versions import Version

HOSTILE = "<script>alert(1)</script>"
META = {"dataset": {"name": "evil"}, "schema": {"features": {HOSTILE: {"dtype": "string"}}},
        "splits": {HOSTILE: {"num_samples": 3}},
        "metrics": {"train": {"class_distribution": {HOSTILE: 2, "b": 1}, "text_length": {"mean": 4.0, "max": 9}}},
        "lineage": {"source": {"files": [{"file": HOSTILE, "sha256": "ab"}]}, "upstream": {}}}


def release(patch: int, meta: dict) -> ReleaseInfo:
    return ReleaseInfo(Version(1, 0, patch, "evil"), "2026-01-01 00:00", "patch", meta, None, 10, ["build"])


def test_pages_escape_text_from_metadata_and_cards() -> None:
    older = {**META, "splits": {HOSTILE: {"num_samples": 2}}}
    ds = DatasetInfo("evil", [release(1, META), release(0, older)])
    html = dataset_page(ds, card_html(ds), lineage_svg(ds.latest), {HOSTILE: "../plots/evil/x.svg"}) + index_page([ds])
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_plots_are_deterministic_svg() -> None:
    first = plots.class_balance(META)
    assert first is not None and first.startswith("<?xml") and first == plots.class_balance(META)
    assert plots.statistics(META) == plots.statistics(META) is not None
    assert plots.class_balance({"metrics": {}}) is None
