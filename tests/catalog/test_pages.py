"""Catalogue pages escape every text they show, and the plots are deterministic SVG."""

from __future__ import annotations

import io
import json
from pathlib import Path

from steps.catalog import plots
from steps.catalog.build import card_html
from steps.catalog.lineage import lineage_svg
from steps.catalog.pages import dataset_page, index_page
from steps.catalog.preview import TEXT, complete, read_preview, text_cell
from steps.catalog.source import DatasetInfo, ReleaseInfo
from steps.refs.handle import Release
from steps.refs.versions import Version
from steps.release.card import render_card

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
    assert HOSTILE not in html and "&lt;script&gt;" in html
    assert html.count("<script") == 1  # the index's filter, nothing from the metadata


def test_prompt_lineage_names_the_prompt_and_its_version() -> None:
    meta = {**META, "prompt": {"prompt_name": "radiology-caption", "prompt_version": 3, "alias": "production"}}
    svg = lineage_svg(release(0, meta))
    assert "prompt radiology-caption v3 @production" in svg and "None" not in svg


def test_curated_card_shows_file_paths_not_their_json_schema() -> None:
    meta = {"dataset": {"name": "my-questions"}, "schema": {"files": {
        "questions.csv": {"format": "csv", "columns": {"question": {"dtype": "string"}}}}}}
    text = render_card(meta)
    assert "| csv | questions.csv |" in text and '{"columns"' not in text


def test_stages_show_on_index_and_page_and_croissant_is_embedded_safely() -> None:
    croissant = json.dumps({"@type": "sc:Dataset", "name": "evil", "description": "</script><b>x</b>"})
    latest = ReleaseInfo(Version(1, 0, 1, "evil"), "2026-01-01 00:00", "patch", META, None, 10, ["build"], croissant)
    ds = DatasetInfo("evil", [latest, release(0, META)], {"prod": "1.0.0", "staging": "1.0.1"})
    page = dataset_page(ds, card_html(ds, "/srv/registry.git"), lineage_svg(ds.latest), {}, {}, "/srv/registry.git")
    assert '<span class="stage stage-prod" title="in stage prod">prod 1.0.0</span>' in page
    assert '<span class="stage stage-staging" title="in stage staging">staging 1.0.1</span>' in index_page([ds])
    ld = page.split('<script type="application/ld+json">', 1)[1].split("</script>", 1)[0]
    assert json.loads(ld)["description"] == "</script><b>x</b>" and "</" not in ld
    assert "REGISTRY = &quot;/srv/registry.git&quot;" in page and "&lt;org&gt;" not in page


def test_preview_text_is_shortened_with_the_full_text_as_tooltip() -> None:
    cell = text_cell("word " * 100)
    assert len(cell["text"]) == TEXT and cell["text"].endswith("…") and cell["title"] == "word " * 100
    talk = text_cell([{"from": "human", "value": "Describe"}, {"from": "gpt", "value": "A chest X-ray"}])
    assert talk == {"text": "human: Describe | gpt: A chest X-ray", "title": ""}
    long = text_cell([{"from": "human", "value": "<image> " + "Describe it. " * 20}, {"from": "gpt", "value": "Chest"}])
    assert long["text"].endswith("… | gpt: Chest") and long["title"].startswith("human: <image> Describe it.")


def test_plots_are_deterministic_svg() -> None:
    first = plots.class_balance(META)
    assert first is not None and first.startswith("<?xml") and first == plots.class_balance(META)
    assert plots.statistics(META) == plots.statistics(META) is not None
    assert plots.class_balance({"metrics": {}}) is None


class DownRegistry:
    """A registry handle whose DVC remote cannot be reached."""

    def fs(self, release: Release) -> None:
        raise OSError("remote down")

    def read_data(self, release: Release, path: str) -> bytes:
        raise OSError("remote down")


def test_an_unreadable_split_is_shown_as_such_and_read_again_next_build(tmp_path: Path) -> None:
    meta = {"splits": {"train": {"num_samples": 5}, "val": {"num_samples": 2}},
            "schema": {"files": {"train": "processed/train/train.parquet", "val": "processed/val/a.json"}}}
    release = Release("wine-quality", "1.0.0", "wine-quality-v1.0.0", "0" * 40)
    got = read_preview(DownRegistry(), release, meta, tmp_path)  # type: ignore[arg-type]
    assert list(got) == ["train", "val"]
    assert got["train"] == {"file": "processed/train/train.parquet", "error": "OSError: remote down"}
    assert not complete(got, tmp_path)
    ds = DatasetInfo("wine-quality", [ReleaseInfo(Version(1, 0, 0, "wine-quality"), "2026-01-01 00:00", "initial",
                                                  meta, None, 10, ["build"])])
    page = dataset_page(ds, "", "", {}, got, "/srv/registry.git")
    assert page.count("Preview unavailable: OSError: remote down") == 2


class OneFileRegistry:
    """A registry handle whose every file is the same bytes (what a split file would hold)."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def fs(self, release: Release) -> OneFileRegistry:
        return self

    def open(self, path: str, mode: str = "rb") -> io.BytesIO:
        return io.BytesIO(self.data)


def test_the_preview_reads_twenty_rows_across_small_row_groups(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(pa.table({"x": list(range(50)), "s": ["t" * 300] * 50}), buf, row_group_size=8)
    meta = {"splits": {"train": {}}, "schema": {"files": {"train": "processed/train/train.parquet"}}}
    release = Release("wine-quality", "1.0.0", "wine-quality-v1.0.0", "0" * 40)
    got = read_preview(OneFileRegistry(buf.getvalue()), release, meta, tmp_path)  # type: ignore[arg-type]
    assert got["train"]["columns"] == ["x", "s"] and len(got["train"]["rows"]) == 20
    assert [row[0]["text"] for row in got["train"]["rows"]] == [str(i) for i in range(20)]
    assert got["train"]["rows"][0][1] == {"text": "t" * (TEXT - 1) + "…", "title": "t" * 300}
    assert complete(got, tmp_path)
