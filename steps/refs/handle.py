"""The producer's way to open the one read path: `dreg_client.Registry` with the settings' DVC overrides."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dreg_client import Registry, Release
from dreg_client.attest import KeySpec

__all__ = ["Registry", "Release", "open_registry"]


def open_registry(repo: str | None = None, root: Path | str = ".", trusted_keys: KeySpec = None,
                  require_signed: bool | None = None) -> Registry:
    """The registry a command reads: `repo` (URL or path, `--repo`) or the checkout at `root`.

    The checkout gets every DVC override of the settings (remote, URLs); another registry only those set
    explicitly (its own `.dvc/config` chooses its default remote). `trusted_keys`/`require_signed`: the
    attestation policy (default: `$DREG_TRUSTED_KEYS`, `$DREG_REQUIRE_SIGNED`). The settings are read on the
    first data read only: commands that read refs alone never load them.
    """
    def overrides() -> dict[str, Any]:
        from steps.config import dvc_config

        return dvc_config(explicit=repo is not None)

    return Registry.open(root if repo is None else repo, config=overrides, trusted_keys=trusted_keys,
                         require_signed=require_signed)
