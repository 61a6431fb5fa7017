"""A registry built as `make demo` builds it names its folders relative to itself (`.env.local`'s mirror,
`.dvc/config`'s local remote): moved elsewhere together with them, it still lists, downloads and rebuilds."""

from __future__ import annotations

import inspect
import shutil

from steps.dev import demo
from steps.dev.scaffold import create_registry
from tests.support.registry import cli_env, run_dreg


def test_a_moved_demo_registry_still_lists_gets_and_verifies(tmp_path):
    assert "create_registry(DEMO, allow_sample_data=True, movable=True)" in inspect.getsource(demo.main)
    reg = create_registry(tmp_path / "before" / ".demo", allow_sample_data=True, movable=True)  # as demo.main
    demo.use_sample_mirror(reg, reg.root.parent / "mirror")
    env = cli_env()
    ran = run_dreg(reg.root, "run", "wine-quality", "--push", env=env)
    assert ran.returncode == 0, ran.stderr
    for committed in (reg.root / ".env.local", reg.root / ".dvc" / "config"):
        assert str(tmp_path) not in committed.read_text(), committed.read_text()
    assert "url = ../../dvc-remote" in (reg.root / ".dvc" / "config").read_text()

    moved = tmp_path / "elsewhere" / "demo"
    moved.parent.mkdir()
    shutil.move(reg.root.parent, moved)
    shutil.rmtree(moved / "registry" / ".dvc" / "cache")  # what `get` reads must come from the moved DVC remote
    root = moved / "registry"
    listed = run_dreg(root, "list", env=env)
    assert listed.returncode == 0 and "wine-quality-v1.0.0" in listed.stdout, listed.stdout + listed.stderr
    got = run_dreg(root, "get", "wine-quality@1.0.0", "-o", str(tmp_path / "out"), env=env)
    assert got.returncode == 0, got.stderr
    assert any((tmp_path / "out").rglob("*.parquet")) or any((tmp_path / "out").rglob("*.csv")), got.stdout
    verified = run_dreg(root, "verify", "wine-quality@1.0.0", env=env)  # the rebuild downloads from ../mirror
    assert verified.returncode == 0 and "is reproducible" in verified.stdout, verified.stdout + verified.stderr
