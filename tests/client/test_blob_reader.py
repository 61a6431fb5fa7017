"""Git files at a release are read through one `git cat-file --batch` per repository: exact bytes, absent paths as
None, a folder as an error, and commits that arrive after the reader started (a cache repository fetches more)."""

from __future__ import annotations

from pathlib import Path

import pytest

import dreg_client
from dreg_client.git import BlobReader, git


def commit(root: Path, files: dict[str, bytes], message: str) -> str:
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    git("add", "-A", cwd=root)
    git("-c", "user.name=t", "-c", "user.email=t@localhost", "commit", "-q", "-m", message, cwd=root)
    return git("rev-parse", "HEAD", cwd=root).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    git("init", "-q", "-b", "main", str(tmp_path))
    return tmp_path


def test_one_process_reads_exact_bytes_at_many_commits(repo: Path) -> None:
    first = commit(repo, {"data/toy/metadata.json": b'{"v": 1}\r\n', "data/toy/blob.bin": bytes(range(256)) * 9},
                   "one")
    reader = BlobReader(repo)
    assert reader.read(first, "data/toy/metadata.json") == ("blob", b'{"v": 1}\r\n')
    pid = reader.proc.pid
    second = commit(repo, {"data/toy/metadata.json": b""}, "two")  # made after the reader started
    assert reader.read(second, "data/toy/metadata.json") == ("blob", b"")
    assert reader.read(first, "data/toy/blob.bin") == ("blob", bytes(range(256)) * 9)
    assert reader.read(first, "data/toy/metadata.json") == ("blob", b'{"v": 1}\r\n')
    assert reader.read(first, "no/such/file") == ("missing", None)
    assert reader.read(first, "data/toy") == ("tree", None)
    assert reader.proc.pid == pid
    reader.close()
    assert reader.proc is None


def test_read_file_through_a_handle(repo: Path) -> None:
    commit(repo, {"data/toy/metadata.json": b"{}\n", "data/toy/a b.txt": b"spaced\n"}, "one")
    git("tag", "toy-v1.0.0", cwd=repo)
    with dreg_client.Registry.open(repo) as reg:
        release = reg.resolve("toy@latest")
        assert reg.read_file(release, "data/toy/metadata.json") == b"{}\n"
        assert reg.read_text(release, "data/toy/a b.txt") == "spaced\n"
        assert reg.read_file(release, "data/toy/none.json") is None
        with pytest.raises(dreg_client.RegistryError, match="cannot read data/toy"):
            reg.read_file(release, "data/toy")
