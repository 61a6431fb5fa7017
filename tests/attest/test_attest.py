"""Signed release attestations: every reader refuses a tampered, replayed, foreign-signed or (under require_signed)
unsigned release, writes nothing, and reads every genuine release. One signed registry for the module; each
tampering happens in its own mirror of the origin (the DVC remote is shared and restored)."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path

import pytest

from dreg_client import AttestationError, IntegrityError, download, load, read_metadata
from dreg_client import attest as client_attest
from steps.release.attest import generate_key
from tests.support.registry import Released, cli_env, git, local_registry, run_dreg, tags
from tests.support.servers import SourceServer

V1, V2 = "wine-quality-v1.0.0", "wine-quality-v1.1.0"
ENVELOPE = "data/wine-quality/attestation.dsse.json"
META = "data/wine-quality/metadata.json"


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The publisher's key pair and a stranger's."""
    base = tmp_path_factory.mktemp("keys")
    generate_key(base / "pub/signing.key", base / "pub/signing.pub.pem")
    generate_key(base / "other/signing.key", base / "other/signing.pub.pem")
    return {"private": base / "pub/signing.key", "public": base / "pub/signing.pub.pem",
            "other": base / "other/signing.key", "other_public": base / "other/signing.pub.pem"}


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory, source_server: SourceServer, keys: dict[str, Path]) -> Released:
    """wine-quality v1.0.0 and v1.1.0, both signed and pushed to origin."""
    base = tmp_path_factory.mktemp("attest")
    released = Released(local_registry(base, source_server),
                        cli_env(DREG_CACHE_DIR=str(base / "dreg-cache"), DREG_SIGNING_KEY=str(keys["private"])))
    released.dreg("run", "wine-quality", "--push")
    params = released.reg.root / "pipelines/wine-quality/params.yaml"
    params.write_text(params.read_text().replace("seed: 42", "seed: 43"))
    released.dreg("run", "wine-quality", "--push", "--bump", "minor")
    assert tags(released.reg.origin) == [V1, V2]
    return released


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh client cache per test (a tampered mirror is never read from another test's cache)."""
    monkeypatch.setenv("DREG_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("DREG_TRUSTED_KEYS", raising=False)
    monkeypatch.delenv("DREG_REQUIRE_SIGNED", raising=False)
    return tmp_path / "cache"


def mirror(signed: Released, tmp_path: Path) -> tuple[Path, Path]:
    """(a bare mirror of origin, a work clone of it) to tamper with."""
    bare, work = tmp_path / "mirror.git", tmp_path / "work"
    subprocess.run(["git", "clone", "-q", "--mirror", str(signed.reg.origin), str(bare)], check=True)
    subprocess.run(["git", "clone", "-q", str(bare), str(work)], check=True)
    git(work, "config", "user.email", "mallory@example.org")
    git(work, "config", "user.name", "mallory")
    return bare, work


def retag(work: Path, tag: str, commit: str = "HEAD") -> None:
    """Move `tag` onto `commit` and force-push it to the mirror."""
    git(work, "tag", "-f", "-a", tag, "-m", "moved", commit)
    git(work, "push", "-q", "-f", "origin", f"refs/tags/{tag}")


def refuses(repo: Path, out: Path, ref: str = "wine-quality@1.1.0", metadata: bool = True,
            **policy: object) -> AttestationError:
    """The error every reader raises for `ref` (load, download and, when the fault is in git, read_metadata, which
    reads no data), with nothing written to `out`."""
    errors = []
    readers = [lambda: load(ref, split="train", repo=repo, **policy),
               lambda: download(ref, "", out / "got", repo=repo, **policy)]
    if metadata:
        readers.append(lambda: read_metadata(ref, repo=repo, **policy))
    for read in readers:
        with pytest.raises(AttestationError) as caught:
            read()
        errors.append(caught.value)
    assert not (out / "got").exists()
    return errors[0]


def test_genuine_releases_verify_with_the_pinned_key_and_the_cli(signed, keys, cache, tmp_path):
    for ref in ("wine-quality@1.0.0", "wine-quality@1.1.0"):
        frame = load(ref, split="train", repo=signed.reg.origin, trusted_keys=str(keys["public"]),
                     require_signed=True)
        assert len(frame) > 0
    envelope = json.loads(git(signed.reg.origin, "show", f"{V2}:{ENVELOPE}"))
    statement = json.loads(base64.b64decode(envelope["payload"]))
    names = {s["name"] for s in statement["subject"]}
    assert {META, "pipelines/wine-quality/dvc.lock"} <= names
    assert any(s["digest"].get("md5") and s["digest"].get("sha256") for s in statement["subject"])
    assert statement["predicate"]["tag"] == V2 and statement["predicate"]["lineage"]
    assert "attestation" in git(signed.reg.origin, "tag", "-l", "--format=%(contents)", V2)
    env = cli_env(DREG_CACHE_DIR=str(cache))
    ok = run_dreg(tmp_path, "attest", "verify", "wine-quality@1.1.0", "--repo", str(signed.reg.origin),
                  "--key", str(keys["public"]), env=env)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "verified" in ok.stdout
    got = run_dreg(tmp_path, "get", "wine-quality@1.0.0", "--repo", str(signed.reg.origin), "-o", str(tmp_path / "o"),
                   env={**env, "DREG_TRUSTED_KEYS": str(keys["public"]), "DREG_REQUIRE_SIGNED": "1"})
    assert got.returncode == 0, got.stdout + got.stderr


def test_unpinned_reader_uses_the_published_key_with_a_warning(signed, cache, tmp_path):
    with pytest.warns(UserWarning, match="published key"):
        assert len(load("wine-quality@1.1.0", split="train", repo=signed.reg.origin)) > 0
    proc = run_dreg(tmp_path, "ls", "wine-quality@1.1.0", "--repo", str(signed.reg.origin),
                    env=cli_env(DREG_CACHE_DIR=str(cache)))
    assert proc.returncode == 0, proc.stderr
    assert next(line for line in proc.stderr.splitlines() if "published key" in line).startswith("warning: ")


def test_a_flipped_byte_in_a_remote_object_is_refused(signed, keys, cache, tmp_path):
    objects = sorted(p for p in signed.reg.remote.rglob("*") if p.is_file() and not p.name.endswith(".dir"))
    victim = max(objects, key=lambda p: p.stat().st_size)
    original = victim.read_bytes()
    try:
        victim.chmod(0o644)
        victim.write_bytes(original[:100] + bytes([original[100] ^ 1]) + original[101:])
        for ref in ("wine-quality@1.0.0", "wine-quality@1.1.0"):
            with pytest.raises(IntegrityError):
                download(ref, "", tmp_path / "out" / "got", repo=signed.reg.origin, trusted_keys=str(keys["public"]))
        assert not (tmp_path / "out" / "got").exists()
    finally:
        victim.write_bytes(original)


def test_altered_metadata_with_the_tag_moved_onto_it_is_refused(signed, keys, cache, tmp_path):
    bare, work = mirror(signed, tmp_path)
    git(work, "checkout", "-q", V2)
    meta = json.loads((work / META).read_text())
    meta["description"] = "tampered"
    (work / META).write_text(json.dumps(meta))
    git(work, "commit", "-q", "-am", "tamper")
    retag(work, V2)
    err = refuses(bare, tmp_path / "out", trusted_keys=str(keys["public"]))
    assert "metadata.json" in str(err)


def test_the_tag_moved_to_another_releases_commit_is_refused(signed, keys, cache, tmp_path):
    bare, work = mirror(signed, tmp_path)
    retag(work, V2, V1 + "^{commit}")
    err = refuses(bare, tmp_path / "out", trusted_keys=str(keys["public"]))
    assert V1 in str(err) and "replayed" in str(err)


def test_an_attestation_signed_by_an_unknown_key_is_refused(signed, keys, cache, tmp_path, monkeypatch):
    bare, work = mirror(signed, tmp_path)
    git(work, "checkout", "-q", V2)
    monkeypatch.setenv("DREG_SIGNING_KEY", str(keys["other"]))
    resign(work, lambda stmt: stmt)
    retag(work, V2)
    err = refuses(bare, tmp_path / "out", trusted_keys=str(keys["public"]))
    assert "not signed by a trusted key" in str(err)


def test_a_missing_subject_is_refused(signed, keys, cache, tmp_path, monkeypatch):
    bare, work = mirror(signed, tmp_path)
    git(work, "checkout", "-q", V2)
    monkeypatch.setenv("DREG_SIGNING_KEY", str(keys["private"]))

    def drop_a_data_file(stmt: dict) -> dict:
        stmt["subject"] = [s for s in stmt["subject"] if not s["name"].endswith("train.parquet")]
        return stmt

    resign(work, drop_a_data_file)
    retag(work, V2)
    err = refuses(bare, tmp_path / "out", metadata=False, trusted_keys=str(keys["public"]))
    assert "train.parquet" in str(err)


def test_an_older_attestation_replayed_under_a_newer_tag_is_refused(signed, keys, cache, tmp_path):
    bare, work = mirror(signed, tmp_path)
    git(work, "checkout", "-q", V2)
    (work / ENVELOPE).write_text(git(work, "show", f"{V1}:{ENVELOPE}"))
    git(work, "commit", "-q", "-am", "replay")
    retag(work, V2)
    err = refuses(bare, tmp_path / "out", trusted_keys=str(keys["public"]))
    assert "replayed" in str(err)


def test_an_unsigned_release_is_refused_under_require_signed_and_read_otherwise(signed, cache, tmp_path):
    bare, work = mirror(signed, tmp_path)
    git(work, "checkout", "-q", V2)
    git(work, "rm", "-q", ENVELOPE)
    git(work, "commit", "-q", "-m", "strip the attestation")
    retag(work, V2)
    err = refuses(bare, tmp_path / "out", require_signed=True)
    assert "not signed" in str(err)
    assert len(load("wine-quality@1.1.0", split="train", repo=bare)) > 0  # no policy: read, no claim
    proc = run_dreg(tmp_path, "attest", "verify", "wine-quality@1.1.0", "--repo", str(bare),
                    env=cli_env(DREG_CACHE_DIR=str(cache)))
    assert proc.returncode != 0 and "not signed" in proc.stdout + proc.stderr


def test_cli_get_refuses_and_writes_nothing(signed, keys, cache, tmp_path):
    bare, work = mirror(signed, tmp_path)
    retag(work, V2, V1 + "^{commit}")
    out = tmp_path / "o"
    out.mkdir()
    env = cli_env(DREG_CACHE_DIR=str(cache), DREG_TRUSTED_KEYS=str(keys["public"]))
    for args in (("get", "wine-quality@1.1.0", "-o", str(out)), ("ls", "wine-quality@1.1.0"),
                 ("attest", "verify", "wine-quality@1.1.0")):
        proc = run_dreg(tmp_path, *args, "--repo", str(bare), env=env)
        assert proc.returncode != 0, args
        assert "replayed" in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    assert list(out.iterdir()) == []


def resign(work: Path, change) -> None:
    """Rewrite the work tree's attestation: its statement through `change`, signed with `$DREG_SIGNING_KEY`;
    commit it."""
    from securesystemslib.dsse import Envelope
    from securesystemslib.signer import CryptoSigner

    from steps.release.attest import signing_key

    env = json.loads((work / ENVELOPE).read_text())
    stmt = change(json.loads(base64.b64decode(env["payload"])))
    envelope = Envelope(json.dumps(stmt).encode(), client_attest.PAYLOAD_TYPE, {})
    envelope.sign(CryptoSigner(signing_key()))
    (work / ENVELOPE).write_text(json.dumps(envelope.to_dict()))
    git(work, "commit", "-q", "-am", "re-sign")


def test_no_trusted_key_file_is_one_clear_error(signed, cache, tmp_path):
    with pytest.raises(Exception, match="cannot read trusted key"):
        load("wine-quality@1.1.0", split="train", repo=signed.reg.origin, trusted_keys=str(tmp_path / "none.pem"))
