"""A rebuild into the same folder reads from git only the releases it has not read before (tags never move), and
gives the same pages as a full build."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from steps.catalog import source
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


def test_a_rebuild_reads_only_releases_it_has_not_seen(released: Released, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    read = counting(monkeypatch)
    out = tmp_path / "site"
    build_site(out, None, released.reg.root)
    assert sorted(read) == ["fashion-mnist-v1.0.0", "wine-quality-v1.0.0", "wine-quality-v1.1.0"]
    first = pages(out)

    read.clear()
    build_site(out, None, released.reg.root)
    assert read == []
    assert pages(out) == first

    known = json.loads((out / KNOWN).read_text())
    del known["wine-quality-v1.1.0"]  # as if it were released after the last build
    known["fashion-mnist-v1.0.0"]["commit"] = "0" * 40  # read at another commit: not trusted
    (out / KNOWN).write_text(json.dumps(known))
    read.clear()
    build_site(out, None, released.reg.root)
    assert sorted(read) == ["fashion-mnist-v1.0.0", "wine-quality-v1.1.0"]
    assert pages(out) == first


def test_an_unreadable_record_means_a_full_read(released: Released, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "site"
    out.mkdir()
    (out / KNOWN).write_text("{not json")
    read = counting(monkeypatch)
    build_site(out, None, released.reg.root)
    assert len(read) == 3
    assert "wine-quality-v1.1.0" in json.loads((out / KNOWN).read_text())
