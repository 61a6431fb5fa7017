"""The write path to the registry repo: only the publish step pushes, with the SSH key and known_hosts it
alone mounts; every other pod (checkout, stages, Ray) reads from GIT_REPO_URL and holds no key."""

from __future__ import annotations

from hera.workflows import Env
from hera.workflows.models import (
    ConfigMapProjection,
    KeyToPath,
    ProjectedVolumeSource,
    SecretProjection,
    Volume,
    VolumeProjection,
)

from workflows.deployment import GIT_SSH_DIR, KNOWN_HOSTS_CONFIG_MAP, Deployment

KEY_COPY = "/tmp/git-ssh-key"
# The platform's key Secret (OpenCloudHub's data-registry-repo) lacks the trailing newline OpenSSH needs to
# read a key ("invalid format"); `awk 1` copies it ending every line with one, readable by this user only.
PUBLISH_SCRIPT = f"""\
set -eu
if [ -s {GIT_SSH_DIR}/id ]; then
  (umask 077 && awk 1 {GIT_SSH_DIR}/id > {KEY_COPY})
fi
exec dreg "$@"
"""
SSH_COMMAND = (
    f"ssh -i {KEY_COPY} -o IdentitiesOnly=yes -o UserKnownHostsFile={GIT_SSH_DIR}/known_hosts "
    "-o StrictHostKeyChecking=yes"
)


def push_env(d: Deployment) -> list[Env]:
    """Push to the write URL (git's environment config: remote.origin.pushurl) with the mounted key; clones
    and fetches keep the read URL."""
    return [
        Env(name="GIT_CONFIG_COUNT", value="1"),
        Env(name="GIT_CONFIG_KEY_0", value="remote.origin.pushurl"),
        Env(name="GIT_CONFIG_VALUE_0", value=d.git_push_url),
        Env(name="GIT_SSH_COMMAND", value=SSH_COMMAND),
    ]


def key_volume(d: Deployment) -> Volume:
    """The write key as `id` and github.com's host keys as `known_hosts`. The Secret is optional only when
    none is configured (HTTPS); a configured one that is missing stops the pod instead of failing in ssh."""
    ref = d.git_ssh_key
    # model_construct: in the chart's copy `optional` is a placeholder string that Helm fills in with a boolean.
    secret = SecretProjection.model_construct(
        name=ref.name, optional=ref.optional, items=[KeyToPath(key=ref.key, path="id")]
    )
    known_hosts = ConfigMapProjection(
        name=KNOWN_HOSTS_CONFIG_MAP, items=[KeyToPath(key="known_hosts", path="known_hosts")]
    )
    sources = [VolumeProjection(secret=secret), VolumeProjection(config_map=known_hosts)]
    return Volume(name="git-ssh", projected=ProjectedVolumeSource(sources=sources, default_mode=0o440))
