"""A training job tells the causes apart: each failure raises its own exported exception (and `dreg` prints one line
naming the real cause), never "no such file" for a broken remote."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import dreg_client
from tests.client.conftest import Toy
from tests.support.registry import VENV_BIN

PROBE = """
import json, sys
import dreg_client
kind, repo, ref, path = sys.argv[1:5]
remote = sys.argv[5] if len(sys.argv) > 5 else None
try:
    if kind == "load":
        dreg_client.load(ref, split=path, repo=repo, remote=remote)
    else:
        dreg_client.read_bytes(ref, path, repo=repo, remote=remote)
    print(json.dumps({"error": None}))
except dreg_client.RegistryError as exc:
    print(json.dumps({"error": type(exc).__name__, "text": str(exc),
                      "bases": [c.__name__ for c in type(exc).__mro__]}))
"""


def probe(toy: Toy, *args: str, **env: str) -> dict:
    """Run one client call in a fresh process with `env` added; the exception class it raised, if any."""
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], env={**toy.env, **env}, capture_output=True,
                          text=True, cwd=toy.root.parent, check=False, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.splitlines()[-1])


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_every_client_exception_is_exported_under_one_base():
    for name in ("BadReference", "DatasetNotFound", "VersionNotFound", "PathNotFound", "RemoteUnavailable",
                 "RemoteNotConfigured", "CredentialsMissing", "IntegrityError", "ObjectMissing"):
        assert issubclass(getattr(dreg_client, name), dreg_client.RegistryError), name


def test_the_happy_path_reads_from_s3(toy_s3):
    assert probe(toy_s3, "load", str(toy_s3.origin), "toy@1.0.0", "train") == {"error": None}


@pytest.mark.parametrize(("ref", "path", "expected"), [
    ("tyo@1.0.0", "processed/train/train.parquet", "DatasetNotFound"),
    ("toy@2.0.0", "processed/train/train.parquet", "VersionNotFound"),
    ("toy@prod", "processed/train/train.parquet", "VersionNotFound"),
    ("toy@1.0.0", "processed/test/test.parquet", "PathNotFound"),
    ("toy@1.0.0", "../../.dvc/config", "BadReference"),
    ("Toy@@1", "processed/train/train.parquet", "BadReference"),
])
def test_reference_and_path_mistakes(toy_local, ref, path, expected):
    assert probe(toy_local, "read", str(toy_local.origin), ref, path)["error"] == expected


def test_an_unreachable_endpoint_is_remote_unavailable(toy_s3):
    got = probe(toy_s3, "read", str(toy_s3.origin), "toy@1.0.0", "processed/val/val.parquet",
                AWS_ENDPOINT_URL=f"http://127.0.0.1:{closed_port()}", AWS_MAX_ATTEMPTS="1", AWS_RETRY_MODE="standard")
    assert got["error"] == "RemoteUnavailable", got


def test_missing_credentials_are_credentials_missing(toy_s3):
    env = {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""}
    got = probe(toy_s3, "read", str(toy_s3.origin), "toy@1.0.0", "processed/val/val.parquet", **env)
    assert got["error"] == "CredentialsMissing", got
    assert "RemoteUnavailable" in got["bases"]


def test_a_wrong_remote_name_is_remote_not_configured(toy_local):
    got = probe(toy_local, "read", str(toy_local.origin), "toy@1.0.0", "processed/val/val.parquet", "nosuchremote")
    assert got["error"] == "RemoteNotConfigured", got


def test_an_unreachable_git_host_is_remote_unavailable(toy_local, tmp_path):
    got = probe(toy_local, "read", str(tmp_path / "no-such-origin.git"), "toy@1.0.0", "processed/val/val.parquet")
    assert got["error"] == "RemoteUnavailable", got


def test_a_missing_object_is_object_missing_not_no_such_file(tmp_path_factory):
    from tests.client.conftest import clean_env, make_toy

    base = tmp_path_factory.mktemp("toy-missing")
    toy = make_toy(base, str(base / "dvc-remote"), clean_env(DREG_CACHE_DIR=str(base / "cache")))
    with dreg_client.Registry.open(toy.root) as reg:
        md5 = reg.files(reg.resolve("toy"), "processed/val/val.parquet")[0].md5
    victim = next(p for p in Path(toy.remote_url).rglob("*") if p.is_file() and md5[2:] in p.name)
    victim.unlink()
    got = probe(toy, "read", str(toy.origin), "toy@1.0.0", "processed/val/val.parquet")
    assert got["error"] == "ObjectMissing", got


def test_a_corrupted_object_is_an_integrity_error(tmp_path_factory):
    from tests.client.conftest import clean_env, make_toy

    base = tmp_path_factory.mktemp("toy-corrupt")
    toy = make_toy(base, str(base / "dvc-remote"), clean_env(DREG_CACHE_DIR=str(base / "cache")))
    with dreg_client.Registry.open(toy.root) as reg:
        md5 = reg.files(reg.resolve("toy"), "processed/val/val.parquet")[0].md5
    victim = next(p for p in Path(toy.remote_url).rglob("*") if p.is_file() and md5[2:] in p.name)
    victim.chmod(0o644)
    victim.write_bytes(b"PAR1 not the released bytes")
    got = probe(toy, "load", str(toy.origin), "toy@1.0.0", "val")
    assert got["error"] == "IntegrityError", got


def test_the_cli_prints_one_line_naming_the_cause(toy_s3, tmp_path):
    env = {**toy_s3.env, "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "",
           "PATH": f"{VENV_BIN}:{toy_s3.env.get('PATH', '')}"}
    proc = subprocess.run([f"{VENV_BIN}/dreg", "get", "toy@1.0.0", "processed/val", "--repo", str(toy_s3.origin),
                           "-o", str(tmp_path / "out")], env=env, capture_output=True, text=True, check=False,
                          timeout=300)
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and "credentials" in proc.stderr, proc.stderr
    assert not (tmp_path / "out" / "val").exists()
