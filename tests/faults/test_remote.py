"""DVC remote faults: unreachable, an interrupted push, and an object corrupted after its release."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess

import pytest
from dvc.api import DVCFileSystem

from steps.errors import DregError
from steps.inspect.verify import read_verified
from tests.faults.support import DATASET, Invariants, clone, converge, dreg, ref_map
from tests.support.registry import cli_env


def test_unreachable_remote_tags_nothing_then_converges(registry, tmp_path, fault):
    """DVC remote unreachable during the data push."""
    aside = registry.remote.with_name("remote-aside")
    registry.remote.rename(aside)
    registry.remote.write_text("not a folder")
    try:
        failed = dreg(registry.root, "run", DATASET, "--push")
    finally:
        registry.remote.unlink()
        aside.rename(registry.remote)
    assert failed.returncode == 1 and "push to DVC remote 'local' failed" in failed.stderr
    assert ref_map(registry.root) == {} and ref_map(registry.origin) == {}
    inv = Invariants.snapshot(registry)
    fault.tries = converge(registry.root)
    inv.check(tmp_path / "after", published=registry.root)


def test_interrupted_data_push_is_completed_by_the_rerun(registry, tmp_path, fault):
    """kill -9 mid data push (an object never arrived)."""
    assert dreg(registry.root, "run", DATASET, "--push", fault="data-pushed").returncode == -signal.SIGKILL
    next(p for p in (registry.remote / "files").rglob("*") if p.is_file() and p.suffix != ".dir").unlink()
    inv = Invariants.snapshot(registry)
    fault.tries = converge(registry.root)
    inv.check(tmp_path / "after", published=registry.root)


def corrupt_one_parquet(registry) -> tuple[str, str]:
    """Overwrite 8 bytes of a released parquet object in the remote (same size); its (path, md5)."""
    manifest = json.loads(next((registry.remote / "files").rglob("*.dir")).read_text())
    for dirobj in (registry.remote / "files").rglob("*.dir"):
        manifest = json.loads(dirobj.read_text())
        entry = next((e for e in manifest if e["relpath"].endswith(".parquet")), None)
        if entry:
            obj = registry.remote / "files" / "md5" / entry["md5"][:2] / entry["md5"][2:]
            data = bytearray(obj.read_bytes())
            data[64:72] = b"\x00CORRUPT" if data[64:72] != b"\x00CORRUPT" else b"\x01CORRUPT"
            obj.chmod(0o644)
            obj.write_bytes(bytes(data))
            return entry["relpath"], entry["md5"]
    raise AssertionError("no parquet object in the remote")


def test_corrupted_remote_object_is_detected_everywhere(registry, tmp_path, fault):
    """An object overwritten in the DVC remote (same size)."""
    fault.tries = converge(registry.root)
    relpath, md5 = corrupt_one_parquet(registry)
    audit = dreg(registry.root, "verify", "--remote-only", "--all")
    assert audit.returncode == 1 and f"corrupted data/{DATASET}/processed/{relpath}" in audit.stdout
    with pytest.raises(AssertionError, match="corrupted"):
        Invariants.snapshot(registry).check(tmp_path / "audit")
    reader = clone(registry, tmp_path / "reader", "reader")
    fs = DVCFileSystem(str(reader), rev=f"{DATASET}-v1.0.0")
    with pytest.raises(DregError, match="does not match its released md5"):
        read_verified(fs, f"data/{DATASET}/processed/{relpath}", relpath)
    pulled = subprocess.run(["dvc", "pull", "-q"], cwd=reader, env=cli_env(), capture_output=True, text=True,
                            check=False)
    assert pulled.returncode != 0  # `verify = true`: a bad download is refused, not kept
    shutil.rmtree(tmp_path / "reader")
    good = registry.root / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]
    shutil.copyfile(good, registry.remote / "files" / "md5" / md5[:2] / md5[2:])  # the repair: the clean cache's copy
    assert dreg(registry.root, "verify", "--remote-only", "--all").returncode == 0
    Invariants.snapshot(registry).check(tmp_path / "repaired", published=registry.root)
