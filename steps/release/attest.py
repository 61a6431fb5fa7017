"""Sign a release: an in-toto Statement about every file it commits and holds in DVC, in a DSSE envelope signed with
the publisher's ed25519 key (`$DREG_SIGNING_KEY`: PEM text or a PEM file's path, from a Secret; never logged).

Readers check it in `dreg_client` (see `dreg_client.attest`); the public key is published at `keys/<keyid>.pub.pem`
for readers that pin none.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from dreg_client import attest
from steps import layout
from steps.errors import DregError
from steps.git import git, head_commit
from steps.refs.versions import Version

SIGNING_KEY_ENV = "DREG_SIGNING_KEY"
CHUNK = 1 << 20


def signing_key() -> Any | None:
    """The publisher's ed25519 private key from `$DREG_SIGNING_KEY` (None when unset: the release is unsigned)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    spec = os.environ.get(SIGNING_KEY_ENV, "").strip()
    if not spec:
        return None
    try:
        pem = spec.encode() if attest.PEM_BEGIN in spec else Path(spec).expanduser().read_bytes()
        key = load_pem_private_key(pem, password=None)
    except (OSError, ValueError, TypeError):
        raise DregError(f"${SIGNING_KEY_ENV} is not a readable unencrypted PEM private key (nor a path to one)",
                        "set it to the publisher's ed25519 key (`dreg attest keygen`), or unset it") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise DregError(f"${SIGNING_KEY_ENV} is not an ed25519 key", "generate one with `dreg attest keygen`")
    return key


def public_pem(key: Any) -> bytes:
    """The PEM public key of an ed25519 private key."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)


def data_subjects(dataset: str, root: Path) -> dict[str, dict[str, str]]:
    """{path: {md5, sha256}} of every DVC-tracked file of `dataset` in the workspace, as DVC lists it; the
    workspace copy must have the md5 DVC records."""
    from dvc.api import DVCFileSystem

    from steps.release.dvc import open_repo

    repo = open_repo(root)
    try:
        fs = DVCFileSystem(repo=repo)
        found = fs.find(layout.data_dir(dataset), detail=True) if fs.isdir(layout.data_dir(dataset)) else {}
        subjects = {}
        for name, info in sorted(found.items()):
            md5 = info.get("md5") or (info.get("dvc_info") or {}).get("md5")  # the workspace nests DVC's view
            if info.get("type") == "directory" or not md5:
                continue
            with open(root / name, "rb") as f:
                got = attest.digests_of(iter(lambda: f.read(CHUNK), b""))
            if got.md5 != md5:
                raise DregError(f"{name} differs from the md5 DVC records: cannot sign it",
                                f"run `dreg run {dataset}` again")
            subjects[name] = {"md5": got.md5, "sha256": got.sha256}
        return subjects
    finally:
        repo.close()


def git_subjects(paths: list[str], root: Path) -> dict[str, dict[str, str]]:
    """{path: {sha256}} of the git files a release commits."""
    return {p: {"sha256": attest.digests_of([(root / p).read_bytes()]).sha256} for p in paths if (root / p).is_file()}


def predicate(dataset: str, version: Version, root: Path) -> dict[str, Any]:
    """The release predicate: which release this is (anti-replay) and its lineage (params, sources with digests,
    code commit, image, run) from metadata.json."""
    meta_path = root / layout.metadata_json(dataset)
    lineage = json.loads(meta_path.read_text()).get("lineage", {}) if meta_path.exists() else {}
    return {"dataset": dataset, "version": version.semver, "tag": version.tag, "codeCommit": head_commit(root),
            "lineage": lineage}


def write_attestation(dataset: str, version: Version, paths: list[str], root: Path) -> list[str]:
    """Sign release `version` of `dataset` (its git files `paths` and its DVC files) when a signing key is set:
    write the envelope and the public key; return the files to commit with the release (none when unsigned)."""
    from securesystemslib.dsse import Envelope
    from securesystemslib.signer import CryptoSigner

    key = signing_key()
    envelope_path = layout.attestation(dataset)
    if key is None:
        (root / envelope_path).unlink(missing_ok=True)
        return [envelope_path] if git("ls-files", "--", envelope_path, cwd=root).stdout.strip() else []
    tracked = git("ls-files", "--", layout.data_dir(dataset) + "/", cwd=root).stdout.split()
    named = sorted({*paths, *tracked} - {envelope_path})
    subjects = {**git_subjects(named, root), **data_subjects(dataset, root)}
    payload = json.dumps(attest.statement(subjects, predicate(dataset, version, root)), sort_keys=True).encode()
    env = Envelope(payload, attest.PAYLOAD_TYPE, {})
    signer = CryptoSigner(key)
    env.sign(signer)
    (root / envelope_path).write_text(json.dumps(env.to_dict(), indent=2, sort_keys=True) + "\n")
    key_path = layout.published_key(signer.public_key.keyid)
    (root / key_path).parent.mkdir(parents=True, exist_ok=True)
    (root / key_path).write_bytes(public_pem(key))
    return [envelope_path, key_path]


def generate_key(private: Path, public: Path) -> str:
    """Write a new ed25519 key pair (PEM; the private file mode 0600); return its key id."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
    from securesystemslib.signer import SSlibKey

    key = Ed25519PrivateKey.generate()
    private.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    public.parent.mkdir(parents=True, exist_ok=True)
    public.write_bytes(public_pem(key))
    return SSlibKey.from_crypto(key.public_key()).keyid
