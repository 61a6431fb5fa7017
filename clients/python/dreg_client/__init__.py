"""dreg-client: read data-registry releases by reference (`wine-quality@1.2.0`, `@latest`, `@prod`) in training jobs.

    from dreg_client import load, open_frame, read_metadata
    train = load("wine-quality@prod", split="train", repo=REGISTRY)            # pandas DataFrame
    meta = read_metadata("fashion-mnist@1.2.0", repo=REGISTRY)

Every function reads through one `Registry` handle per call (or the one you pass as `repo=`), and every file is
checked against the md5 its release records. Failures raise subclasses of `RegistryError` (see `dreg_client.errors`).
"""

from dreg_client.api import (
    download,
    get_url,
    load,
    log_input,
    open_frame,
    open_table,
    read_bytes,
    read_metadata,
    read_ray,
    resolve,
    resolve_tag,
)
from dreg_client.errors import (
    AttestationError,
    BadReference,
    CredentialsMissing,
    DatasetNotFound,
    IntegrityError,
    ObjectMissing,
    PathNotFound,
    RegistryError,
    RemoteNotConfigured,
    RemoteUnavailable,
    VersionNotFound,
)
from dreg_client.grammar import Version
from dreg_client.registry import DataFile, Registry, Release

__version__ = "0.2.0"
__all__ = [
    "AttestationError", "BadReference", "CredentialsMissing", "DataFile", "DatasetNotFound", "IntegrityError",
    "ObjectMissing",
    "PathNotFound", "Registry", "RegistryError", "Release", "RemoteNotConfigured", "RemoteUnavailable", "Version",
    "VersionNotFound", "download", "get_url", "load", "log_input", "open_frame", "open_table", "read_bytes",
    "read_metadata", "read_ray", "resolve", "resolve_tag",
]
