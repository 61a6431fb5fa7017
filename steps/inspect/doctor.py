"""`dreg doctor`: what a user's setup needs, checked one service at a time — the registry checkout, its git origin,
its DVC remote with the credentials at hand, the MLflow server and pgvector database when configured, the signing
and trusted keys when set. Each check reports ok, FAIL (with how to fix it) or skipped (not configured)."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from dreg_client import Release
from dreg_client.errors import RegistryError, RemoteNotConfigured
from dreg_client.registry import classify, first_line
from steps.config import Settings, dvc_config, get_credentials, get_settings
from steps.errors import DregError
from steps.git import git, git_message
from steps.refs.pipelines import require_registry

Status = Literal["ok", "FAIL", "skipped"]
TIMEOUT_S = 10.0  # each network probe: a service that does not answer in this time is unreachable


@dataclass(frozen=True)
class Check:
    """One row of the report: what was checked, its status, what was found and (for a failure) how to fix it."""

    name: str
    status: Status
    detail: str
    fix: str | None = None


def ok(name: str, detail: str) -> Check:
    return Check(name, "ok", detail)


def failed(name: str, detail: str, fix: str | None) -> Check:
    return Check(name, "FAIL", detail, fix)


def skipped(name: str, detail: str) -> Check:
    return Check(name, "skipped", detail)


def check_registry() -> tuple[Check, Path | None]:
    """The data registry this runs in (its root, or None with a failure)."""
    try:
        root = require_registry()
    except DregError as exc:
        return failed("registry", exc.message, "run dreg doctor inside a data-registry checkout (`git clone` it)"), None
    return ok("registry", str(root)), root


def check_git_origin(root: Path, settings: Settings) -> Check:
    """The git remote releases push to (`DREG_GIT_REMOTE`, default origin) answers `git ls-remote`."""
    name = f"git {settings.git_remote}"
    url = git("remote", "get-url", settings.git_remote, cwd=root, check=False)
    if url.returncode != 0:
        return skipped(name, f"no git remote '{settings.git_remote}' (releases stay local)")
    os.environ.setdefault("GIT_TERMINAL_PROMPT", "0")  # a missing credential fails, never prompts
    probe = git("ls-remote", "--heads", settings.git_remote, cwd=root, check=False)
    if probe.returncode != 0:
        return failed(name, f"cannot reach {url.stdout.strip()}: {git_message(probe)}",
                      f"check the URL (`git remote -v`), the network and your git credentials for it, or point "
                      f"{settings.git_remote} elsewhere (`git remote set-url {settings.git_remote} URL`)")
    return ok(name, f"{url.stdout.strip()} answers")


def check_dvc_remote(root: Path) -> Check:
    """The DVC remote releases push to (settings over `.dvc/config`) can be listed with the credentials at hand."""
    from dvc.repo import Repo

    try:
        repo = Repo(str(root), config=dvc_config() or None)
    except Exception as exc:  # noqa: BLE001 - an unreadable DVC config is this check's finding
        return failed("DVC remote", f"cannot read the DVC config: {first_line(str(exc))}", "fix .dvc/config")
    with repo:
        remote = (repo.config.get("core") or {}).get("remote")
        defined = sorted(repo.config.get("remote") or {})
        if not remote:
            return skipped("DVC remote", "no default DVC remote (core.remote) configured")
        name = f"DVC remote {remote}"
        if remote not in defined:
            return failed(name, f"'{remote}' is not defined (remotes: {', '.join(defined) or 'none'})",
                          "set DVC_REMOTE to one of them, or define it (`dvc remote add`)")
        return probe_remote(repo, remote, name)


def probe_remote(repo: Any, remote: str, name: str) -> Check:
    """List the remote's top folder; a failure classified as the client classifies it (unreachable, credentials,
    not configured)."""
    try:
        odb = repo.cloud.get_remote_odb(name=remote)
        url = str(repo.config["remote"][remote].get("url"))
        if odb.fs.protocol in ("local", "file"):
            if not Path(odb.path).is_dir():
                return failed(name, f"folder {odb.path} does not exist",
                              f"create it or set DVC_LOCAL_REMOTE_URL (`dvc remote modify {remote} url PATH`)")
        else:
            odb.fs.fs.ls(odb.path.split("/", 1)[0], refresh=True)  # the bucket, with these credentials
    except Exception as exc:  # noqa: BLE001 - every failure is reported: classified where the client knows it
        return remote_failure(exc, remote, name)
    return ok(name, f"{url} reachable")


def remote_failure(exc: Exception, remote: str, name: str) -> Check:
    """A failed remote probe as a row: the client's classification (message and hint) where it knows the cause."""
    probe = Release("doctor", "0.0.0", "doctor", "")
    mapped = classify(exc, probe, remote, None)
    if mapped is None:
        return failed(name, f"{type(exc).__name__}: {first_line(str(exc))}",
                      "check the remote's URL, endpoint and credentials (`dvc remote list`, AWS_* variables)")
    kind = "not configured" if isinstance(mapped, RemoteNotConfigured) else type(mapped).__name__
    return failed(name, f"{kind}: {mapped.message.removeprefix('doctor: ')}", mapped.hint)


def check_mlflow(settings: Settings) -> Check:
    """The MLflow tracking server (`MLFLOW_TRACKING_URI`) answers its health endpoint."""
    import requests

    uri = settings.mlflow_tracking_uri
    if not uri:
        return skipped("MLflow", "MLFLOW_TRACKING_URI not set (prompts sources need it)")
    if not uri.startswith(("http://", "https://")):
        return ok("MLflow", f"{uri} (a local store: nothing to reach)")
    token = get_credentials().mlflow_tracking_token
    headers = {"Authorization": f"Bearer {token.get_secret_value()}"} if token else {}
    try:
        answer = requests.get(uri.rstrip("/") + "/health", headers=headers, timeout=TIMEOUT_S)
    except requests.RequestException as exc:
        return failed("MLflow", f"cannot reach {uri}: {type(exc).__name__}",
                      "start the server or fix MLFLOW_TRACKING_URI")
    if answer.status_code != 200:
        return failed("MLflow", f"{uri} answered HTTP {answer.status_code}",
                      "check MLFLOW_TRACKING_URI and MLFLOW_TRACKING_TOKEN")
    return ok("MLflow", f"{uri} answers")


def check_pgvector(settings: Settings) -> Check:
    """The pgvector server (`PGVECTOR_HOST`) accepts a connection (and, with psycopg installed, a login)."""
    host = settings.pgvector_host
    if not host:
        return skipped("pgvector", "PGVECTOR_HOST not set (the embeddings use an embedded server)")
    where = f"{host}:{settings.pgvector_port}"
    fix = "start the server, or fix PGVECTOR_HOST/PGVECTOR_PORT"
    try:
        socket.create_connection((host, settings.pgvector_port), timeout=TIMEOUT_S).close()
    except OSError as exc:
        return failed("pgvector", f"cannot connect to {where}: {exc.strerror or type(exc).__name__}", fix)
    try:
        import psycopg
    except ImportError:
        return ok("pgvector", f"{where} accepts connections (install the embeddings extra to test a login)")
    password = get_credentials().pgvector_password
    try:
        with psycopg.connect(host=host, port=settings.pgvector_port, user=settings.pgvector_user,
                             dbname=settings.pgvector_database, connect_timeout=int(TIMEOUT_S),
                             password=password.get_secret_value() if password else None):
            pass
    except psycopg.Error as exc:
        return failed("pgvector", f"{where}: login refused: {first_line(str(exc))}",
                      "check PGVECTOR_USER, PGVECTOR_DATABASE and PGVECTOR_PASSWORD")
    return ok("pgvector", f"{settings.pgvector_user}@{where}/{settings.pgvector_database}")


def check_signing_key() -> Check:
    """`DREG_SIGNING_KEY` (when set) is an ed25519 private key; its key id."""
    from dreg_client import attest as client_attest
    from steps.release.attest import SIGNING_KEY_ENV, public_pem, signing_key

    if not os.environ.get(SIGNING_KEY_ENV, "").strip():
        return skipped("signing key", f"${SIGNING_KEY_ENV} not set: releases are published unsigned")
    try:
        key = signing_key()
    except DregError as exc:
        return failed("signing key", exc.message, exc.hint)
    keyid = client_attest.public_key(public_pem(key)).keyid if key is not None else "-"
    return ok("signing key", f"ed25519 key {keyid[:16]}")


def check_trusted_keys() -> Check:
    """`DREG_TRUSTED_KEYS` (when set) holds ed25519 public keys readers can pin."""
    from dreg_client import attest as client_attest

    spec = os.environ.get(client_attest.TRUSTED_KEYS_ENV)
    if not spec:
        return skipped("trusted keys", f"${client_attest.TRUSTED_KEYS_ENV} not set: signed releases are checked "
                                       "against the registry's own published keys")
    try:
        keys = [client_attest.public_key(pem) for pem in client_attest.pem_blocks(spec)]
    except RegistryError as exc:
        return failed("trusted keys", exc.message, exc.hint)
    return ok("trusted keys", f"{len(keys)} pinned key(s)")


def run_checks() -> list[Check]:
    """Every check, in order; those that need the registry are skipped outside one."""
    registry, root = check_registry()
    checks = [registry]
    settings = get_settings() if root is None else settings_at(root)
    if root is not None:
        checks += [check_git_origin(root, settings), check_dvc_remote(root)]
    probes: list[Callable[[], Check]] = [lambda: check_mlflow(settings), lambda: check_pgvector(settings),
                                         check_signing_key, check_trusted_keys]
    return checks + [probe() for probe in probes]


def settings_at(root: Path) -> Settings:
    """The settings as commands in `root` read them (its `.env.<profile>` file)."""
    os.chdir(root)
    return get_settings()
