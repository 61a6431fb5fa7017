"""Signed release attestations, checked by every reader.

A release commits `data/<dataset>/attestation.dsse.json`: a DSSE envelope (securesystemslib) around an in-toto
Statement v1 whose subjects are every file of the release (DVC data files with md5 and sha256, the git files the
release commits with sha256) and whose predicate names the release (dataset, version, tag) and its lineage. It is
signed with the publisher's ed25519 key.

Readers trust the public keys the consumer pins (`trusted_keys=` or `$DREG_TRUSTED_KEYS`: PEM text, or PEM file
paths separated by `os.pathsep` or commas); only when none is pinned are the registry's own published keys
(`keys/<keyid>.pub.pem` at the release) used, with a warning. `require_signed=` / `$DREG_REQUIRE_SIGNED=1` refuses
unsigned releases; otherwise they are read as before, with no verification claim.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

from dreg_client.errors import AttestationError, RegistryError
from dreg_client.grammar import shown

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://github.com/opencloudhub/data-registry/attestation/release/v1"
PAYLOAD_TYPE = "application/vnd.in-toto+json"
TRUSTED_KEYS_ENV = "DREG_TRUSTED_KEYS"
REQUIRE_SIGNED_ENV = "DREG_REQUIRE_SIGNED"
PEM_BEGIN = "-----BEGIN"

KeySpec = Union[str, bytes, "os.PathLike[str]", Sequence[Union[str, bytes, "os.PathLike[str]"]], None]


class Digests:
    """md5 and sha256 of a stream, computed in one pass."""

    def __init__(self) -> None:
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._sha256 = hashlib.sha256()

    def update(self, chunk: bytes) -> None:
        self._md5.update(chunk)
        self._sha256.update(chunk)

    @property
    def md5(self) -> str:
        return self._md5.hexdigest()

    @property
    def sha256(self) -> str:
        return self._sha256.hexdigest()


def digests_of(chunks: Iterable[bytes]) -> Digests:
    """md5 and sha256 of a stream of byte chunks."""
    d = Digests()
    for chunk in chunks:
        d.update(chunk)
    return d


def pem_blocks(spec: KeySpec) -> list[bytes]:
    """PEM texts of a key specification: PEM text, a PEM file's path, a list of paths (`os.pathsep`/comma
    separated in a string), or a sequence of those."""
    if spec is None:
        return []
    if isinstance(spec, (list, tuple)):
        return [block for item in spec for block in pem_blocks(item)]
    text = spec.decode() if isinstance(spec, bytes) else os.fspath(spec)  # type: ignore[arg-type]
    if PEM_BEGIN in text:
        return [(PEM_BEGIN + part).encode() for part in text.split(PEM_BEGIN)[1:]]
    paths = [p.strip() for chunk in text.split(os.pathsep) for p in chunk.split(",") if p.strip()]
    blocks = []
    for p in paths:
        try:
            blocks += pem_blocks(Path(p).expanduser().read_text())
        except OSError as exc:
            raise RegistryError(f"cannot read trusted key {shown(p, 200)}: {exc.strerror}",
                                f"give PEM text or PEM file paths (trusted_keys=, ${TRUSTED_KEYS_ENV})") from None
    return blocks


def public_key(pem: bytes) -> Any:
    """An ed25519 public key (PEM) as a securesystemslib Key; RegistryError for anything else."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import load_pem_public_key
    from securesystemslib.signer import SSlibKey

    try:
        key = load_pem_public_key(pem)
    except ValueError:
        raise RegistryError("a trusted key is not a PEM public key",
                            "pin the publisher's ed25519 public key (`-----BEGIN PUBLIC KEY-----`)") from None
    if not isinstance(key, Ed25519PublicKey):
        raise RegistryError("a trusted key is not an ed25519 key", "pin the publisher's ed25519 public key")
    return SSlibKey.from_crypto(key)


def env_flag(name: str) -> bool:
    """True when the environment variable `name` is set to a true value (1, true, yes, on)."""
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Policy:
    """What a reader trusts: pinned keys (none: the registry's published keys, with a warning) and whether
    unsigned releases are refused."""

    keys: tuple[Any, ...] = ()
    require_signed: bool = False

    @classmethod
    def resolve(cls, trusted_keys: KeySpec = None, require_signed: bool | None = None) -> Policy:
        """The policy of arguments, else of `$DREG_TRUSTED_KEYS` and `$DREG_REQUIRE_SIGNED`."""
        spec = trusted_keys if trusted_keys is not None else os.environ.get(TRUSTED_KEYS_ENV) or None
        required = env_flag(REQUIRE_SIGNED_ENV) if require_signed is None else bool(require_signed)
        return cls(tuple(public_key(pem) for pem in pem_blocks(spec)), required)

    @property
    def pinned(self) -> bool:
        return bool(self.keys)


def statement(subjects: Mapping[str, Mapping[str, str]], predicate: Mapping[str, Any]) -> dict[str, Any]:
    """An in-toto Statement v1 about `subjects` ({name: {algorithm: hex digest}}) with the release predicate."""
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": name, "digest": dict(sorted(digest.items()))}
                    for name, digest in sorted(subjects.items())],
        "predicateType": PREDICATE_TYPE,
        "predicate": dict(predicate),
    }


def is_keyid(keyid: str) -> bool:
    """True for a key id that can name a file (lowercase hex)."""
    return 0 < len(keyid) <= 128 and all(c in "0123456789abcdef" for c in keyid)


def envelope_keyids(raw: bytes, where: str) -> list[str]:
    """Key ids of the signatures of a DSSE envelope."""
    return sorted(envelope(raw, where).signatures)


def envelope(raw: bytes, where: str) -> Any:
    """The DSSE envelope in `raw` (AttestationError when it is not one)."""
    from securesystemslib.dsse import Envelope

    try:
        return Envelope.from_dict(json.loads(raw))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise AttestationError(f"{where}: the attestation is not a DSSE envelope ({shown(str(exc), 120)})",
                               "do not use this release; report it to the registry owners") from None


def open_envelope(raw: bytes, keys: Sequence[Any], where: str) -> tuple[str, dict[str, Any]]:
    """(key id, statement) of an envelope signed by one of `keys`; AttestationError otherwise."""
    from securesystemslib.exceptions import VerificationError

    env = envelope(raw, where)
    if env.payload_type != PAYLOAD_TYPE:
        raise AttestationError(f"{where}: the attestation's payload is {shown(env.payload_type, 60)!r}, not an "
                               "in-toto statement", "do not use this release; report it to the registry owners")
    try:
        accepted = env.verify(list(keys), 1) if keys else {}
    except (VerificationError, ValueError):
        accepted = {}
    if not accepted:
        raise AttestationError(f"{where}: the attestation is not signed by a trusted key "
                               f"(signed by {', '.join(k[:16] for k in sorted(env.signatures)) or 'nobody'})",
                               "do not use this release; pin the publisher's public key (trusted_keys=, "
                               f"${TRUSTED_KEYS_ENV}) or report it to the registry owners")
    try:
        stmt = json.loads(env.payload)
    except ValueError:
        raise AttestationError(f"{where}: the signed payload is not JSON", "report it to the registry owners") from None
    return next(iter(accepted)), stmt


@dataclass(frozen=True)
class Attestation:
    """A verified release attestation: who signed it, whether that key was pinned, and its subjects."""

    where: str
    keyid: str
    pinned: bool
    subjects: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    predicate: Mapping[str, Any] = field(default_factory=dict)

    def check(self, name: str, digests: Digests) -> None:
        """AttestationError unless `name` is a subject with these digests."""
        expected = self.subjects.get(name)
        if expected is None:
            raise AttestationError(f"{self.where}: {shown(name, 200)} is not a subject of the release's attestation",
                                   "do not use this release; report it to the registry owners")
        got = {"sha256": digests.sha256, "md5": digests.md5}
        wrong = [alg for alg, value in expected.items() if alg in got and got[alg] != value]
        if wrong or "sha256" not in expected:
            raise AttestationError(f"{self.where}: {shown(name, 200)} does not match its signed digest "
                                   f"({', '.join(wrong) or 'no sha256'}); nothing was returned or written",
                                   "do not use this release; report it to the registry owners")


def attestation(raw: bytes, keys: Sequence[Any], pinned: bool, dataset: str, version: str, tag: str) -> Attestation:
    """The attestation `raw` of release `tag` after checking its signature and that it names this release."""
    where = tag
    keyid, stmt = open_envelope(raw, keys, where)
    predicate = stmt.get("predicate") if isinstance(stmt, dict) else None
    if stmt.get("_type") != STATEMENT_TYPE or stmt.get("predicateType") != PREDICATE_TYPE \
            or not isinstance(predicate, dict) or not isinstance(stmt.get("subject"), list):
        raise AttestationError(f"{where}: the signed statement is not a data-registry release statement",
                               "report it to the registry owners")
    named = (predicate.get("dataset"), predicate.get("version"), predicate.get("tag"))
    if named != (dataset, version, tag):
        raise AttestationError(f"{where}: the attestation was signed for {shown(str(named[2]), 80)}, not {tag} "
                               "(an attestation replayed or a tag moved)",
                               "do not use this release; report it to the registry owners")
    subjects: dict[str, dict[str, str]] = {}
    for item in stmt["subject"]:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not isinstance(item.get("digest"),
                                                                                                   dict):
            raise AttestationError(f"{where}: a subject of the attestation is malformed", "report it to the owners")
        subjects[item["name"]] = {str(k): str(v) for k, v in item["digest"].items()}
    return Attestation(where, keyid, pinned, subjects, predicate)


def warn_unpinned(tag: str, keyids: Iterable[str]) -> None:
    """Warn that a release was verified with the registry's own published key (nothing pinned)."""
    warnings.warn(f"{tag}: verified with the registry's own published key {', '.join(k[:16] for k in keyids)}; "
                  f"pin the publisher's key (trusted_keys=, ${TRUSTED_KEYS_ENV}) to trust it independently",
                  UserWarning, stacklevel=4)


def unsigned(tag: str) -> AttestationError:
    """The refusal of an unsigned release under `require_signed`."""
    return AttestationError(f"{tag} is not signed (no attestation) and unsigned releases are refused "
                            "(require_signed)",
                            f"use a signed release, or unset require_signed / ${REQUIRE_SIGNED_ENV}")
