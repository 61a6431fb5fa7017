"""A release commits its card; the card never by itself makes a new release."""

from __future__ import annotations

import json

import pytest

from steps import layout
from steps.release.card import render_card
from tests.support.registry import Released, git

pytestmark = pytest.mark.xdist_group("catalog")  # one sample registry per worker


def test_release_commits_the_card_and_a_rerun_makes_no_new_tag(released: Released) -> None:
    root = released.reg.root
    for tag, dataset in (("wine-quality-v1.0.0", "wine-quality"), ("wine-quality-v1.1.0", "wine-quality"),
                         ("fashion-mnist-v1.0.0", "fashion-mnist")):
        meta = json.loads(git(root, "show", f"{tag}:{layout.metadata_json(dataset)}"))
        assert git(root, "show", f"{tag}:{layout.card_md(dataset)}") == render_card(meta)
    before = released.tags()
    out = released.dreg("run", "wine-quality")
    assert "nothing changed" in out.stdout
    assert released.tags() == before
    assert [t for t in before if "-v" in t] == ["fashion-mnist-v1.0.0", "opencloudhub-readmes-rag-evaluation-v1.0.0",
                                                "roco-radiology-v1.0.0", "wine-quality-v1.0.0", "wine-quality-v1.1.0"]
    assert git(root, "status", "--porcelain", "--", layout.data_dir("wine-quality")) == ""
