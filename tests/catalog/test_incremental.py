"""A rebuild into the same folder reads from git only the releases it has not read before (tags never move), and
the data previews only of latest releases it has not previewed, and gives the same pages as a full build."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from steps.catalog import build, source
from steps.catalog.build import KNOWN, build_site
from tests.support.registry import Released

pytestmark = pytest.mark.xdist_group("catalog")  # one sample registry per worker


def pages(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def counting(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The tags whose contents the next build reads from git."""
    read: list[str] = []
    real = source.release_contents

    def spy(reg, release):
        read.append(release.tag)
        return real(reg, release)

    monkeypatch.setattr(source, "release_contents", spy)
    return read


def previewing(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The releases whose first rows the next build reads through the registry."""
    read: list[str] = []
    real = build.read_preview

    def spy(reg, release, meta, out):
        read.append(release.tag)
        return real(reg, release, meta, out)

    monkeypatch.setattr(build, "read_preview", spy)
    return read


ALL = ["fashion-mnist-v1.0.0", "opencloudhub-readmes-rag-evaluation-v1.0.0", "roco-radiology-v1.0.0",
       "wine-quality-v1.0.0", "wine-quality-v1.1.0"]
LATEST = [t for t in ALL if t != "wine-quality-v1.0.0"]


def test_a_rebuild_reads_only_releases_it_has_not_seen(released: Released, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    read, previewed = counting(monkeypatch), previewing(monkeypatch)
    out = tmp_path / "site"
    build_site(out, None, released.reg.root)
    assert sorted(read) == ALL and sorted(previewed) == LATEST
    first = pages(out)
    assert any(name.startswith("previews/fashion-mnist/1.0.0/") and name.endswith(".png") for name in first)

    read.clear()
    previewed.clear()
    build_site(out, None, released.reg.root)
    assert read == [] and previewed == []
    assert pages(out) == first

    known = json.loads((out / KNOWN).read_text())
    del known["wine-quality-v1.1.0"]  # as if it were released after the last build
    known["fashion-mnist-v1.0.0"]["commit"] = "0" * 40  # read at another commit: not trusted
    (out / KNOWN).write_text(json.dumps(known))
    next((out / "previews" / "roco-radiology").rglob("*.png")).unlink()  # a thumbnail lost: previewed again
    read.clear()
    build_site(out, None, released.reg.root)
    assert sorted(read) == ["fashion-mnist-v1.0.0", "wine-quality-v1.1.0"]
    assert sorted(previewed) == ["fashion-mnist-v1.0.0", "roco-radiology-v1.0.0", "wine-quality-v1.1.0"]
    assert pages(out) == first


def test_an_unreadable_record_means_a_full_read(released: Released, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "site"
    out.mkdir()
    (out / KNOWN).write_text("{not json")
    read = counting(monkeypatch)
    build_site(out, None, released.reg.root)
    assert len(read) == len(ALL)
    assert "wine-quality-v1.1.0" in json.loads((out / KNOWN).read_text())
