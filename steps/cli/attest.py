"""`dreg attest verify|keygen`: check a release's signed attestation end to end; make a publisher's key pair."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import typer

from steps.cli.output import RepoOption, console, plain
from steps.cli.release import RefArg, in_registry
from steps.errors import DregError
from steps.refs.handle import open_registry

attest_app = typer.Typer(help="Signed release attestations (in-toto statements in DSSE envelopes, ed25519).",
                         no_args_is_help=True)

KeyOption = Annotated[list[str] | None, typer.Option(
    "--key", help="A trusted public key (PEM file); repeatable. Default: $DREG_TRUSTED_KEYS, else the registry's "
                  "own published keys (with a warning).", show_default=False)]


@attest_app.command("verify")
def verify_command(ref: RefArg, repo: RepoOption = None, key: KeyOption = None) -> None:
    """Check a release's attestation: signature, key, this tag's dataset and version, and every subject's digest
    (every data file read back from the DVC remote). Exit 0 only when all hold; an unsigned release fails."""
    root = None if repo is not None else in_registry()
    with open_registry(repo, root or ".", trusted_keys=list(key) if key else None, require_signed=True) as reg, \
            tempfile.TemporaryDirectory(prefix=".dreg-attest-") as tmp:
        release = reg.resolve(ref)
        signed = reg.attested(release)
        if signed is None:  # require_signed refuses first; kept for type checkers
            raise DregError(f"{release.tag} is not signed", "publish it with $DREG_SIGNING_KEY set")
        files = reg.files(release)
        if files:
            reg.download(release, "", tmp)
    trust = "a pinned key" if signed.pinned else "the registry's own published key (nothing pinned)"
    console.print(plain(f"{release.tag}: attestation verified: signed by {signed.keyid[:16]} ({trust}); "
                        f"{len(signed.subjects)} subjects match"), soft_wrap=True)


@attest_app.command("keygen")
def keygen_command(
    out: Annotated[Path, typer.Option("-o", "--out", help="Folder for signing.key (private, mode 0600) and "
                                                          "signing.pub.pem.")] = Path("."),
) -> None:
    """Make an ed25519 key pair for signing releases ($DREG_SIGNING_KEY=<folder>/signing.key; keep it out of
    git, in a Secret)."""
    from steps.release.attest import generate_key

    private, public = out / "signing.key", out / "signing.pub.pem"
    if private.exists():
        raise DregError(f"{private} already exists", "choose another folder (-o); never overwrite a signing key")
    keyid = generate_key(private, public)
    console.print(plain(f"key {keyid[:16]}: private {private}, public {public}"), soft_wrap=True)
