"""The one exception type for expected failures: the CLI prints it as a single line.

`DregError` is the client's `RegistryError`, so every client exception (`DatasetNotFound`, `RemoteUnavailable`, …)
is a DregError too and reaches the user the same way: one line and a hint.
"""

from dreg_client.errors import RegistryError as DregError

__all__ = ["DregError"]
