"""The client's exceptions: one base class, one subclass per cause a training job must tell apart.

Every error carries `message` (what went wrong) and `hint` (what to do next); `str()` joins them in one line.
"""

from __future__ import annotations


class RegistryError(Exception):
    """A failure the caller can act on: `message` says what went wrong, `hint` what to do next."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} (hint: {self.hint})" if self.hint else self.message


class BadReference(RegistryError, ValueError):
    """A reference, dataset, stage or path that is not well formed (`wine-quality@@1`, `../x`)."""


class DatasetNotFound(RegistryError, LookupError):
    """The registry has no dataset of that name (the hint names the closest ones)."""


class VersionNotFound(RegistryError, LookupError):
    """The dataset exists but has no such version or stage."""


class PathNotFound(RegistryError, LookupError):
    """The release exists but holds no file or folder at that path."""


class RemoteUnavailable(RegistryError, ConnectionError):
    """The registry's git host or its DVC remote cannot be reached or read (network, endpoint, bucket)."""


class RemoteNotConfigured(RemoteUnavailable):
    """The DVC remote named (argument or the registry's default) is not configured at that release."""


class CredentialsMissing(RemoteUnavailable, PermissionError):
    """The DVC remote refused the request: credentials are missing or wrong."""


class IntegrityError(RegistryError):
    """Bytes read do not match the digest the release records: nothing was returned or written."""


class ObjectMissing(IntegrityError):
    """The release records an object that its DVC remote does not hold."""


class AttestationError(IntegrityError):
    """A release's signed attestation is missing (under `require_signed`), not signed by a trusted key, names
    another release, or does not match the release's files: nothing was returned or written."""
