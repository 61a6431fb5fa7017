"""An unpinned source (no checksum) is re-checked on every run: unchanged → kept, changed or truncated → fetched
again with the new size and validators in its record (what `dreg diff` shows)."""

from __future__ import annotations

import os

from steps import layout
from steps.kit.download import fetch
from steps.kit.files import write_json
from tests.support.servers import serve_sources


def write_source(root):
    (root / "demo").mkdir(parents=True)
    (root / "demo" / "table.csv").write_text("a,b\n" + "1,2\n" * 500)
    return {}


def test_unpinned_source_change_is_noticed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    dest = tmp_path / layout.data_file("demo", "raw/table.csv")
    with serve_sources(tmp_path / "srv", write_source) as server:
        url = server.file_url("demo", "table.csv")
        first = fetch(url, dest, dataset="demo")
        assert first["bytes"] == first["remote_bytes"] and "last_modified" in first
        write_json(layout.sources_json("demo"), {"sources": [first]})
        mtime = dest.stat().st_mtime_ns
        assert fetch(url, dest, dataset="demo") == first and dest.stat().st_mtime_ns == mtime  # unchanged: kept
        source = server.root / "demo" / "table.csv"
        source.write_text("a,b\n1,2\n")  # truncated upstream
        os.utime(source, (1, 1))
        second = fetch(url, dest, dataset="demo")
        assert second["bytes"] == len("a,b\n1,2\n") and second["sha256"] != first["sha256"]
        assert second["last_modified"] != first["last_modified"] and dest.read_text() == "a,b\n1,2\n"
