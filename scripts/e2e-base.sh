#!/usr/bin/env bash
# Local stand-in base for the e2e image builds (no registry pulls here): `debootstrap bookworm` + `docker import`.
# Prints the image name. Reuses an existing image with the same recipe hash; E2E_REBUILD_BASE=1 forces a new one.
set -euo pipefail
cd "$(dirname "$0")/.."
docker=${DOCKER:-/usr/bin/docker}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
packages=python3,python3-venv,python3-pip,git,ca-certificates,wget,bash,procps
recipe=$(printf '%s\n' "$packages" "$mirror" | sha256sum | cut -c1-12)
image=dreg-e2e/bookworm-rootfs:$recipe
if [ -z "${E2E_REBUILD_BASE:-}" ] && "$docker" image inspect "$image" >/dev/null 2>&1; then
  echo "$image"
  exit 0
fi
command -v debootstrap >/dev/null || { echo "debootstrap is missing: run scripts/install-docker.sh (apt-get install debootstrap)" >&2; exit 1; }
root=$(mktemp -d /tmp/dreg-e2e-rootfs.XXXXXX)
trap 'rm -rf "$root"' EXIT
debootstrap --variant=minbase --include="$packages" bookworm "$root" "$mirror" >"$root.log" 2>&1 \
  || { tail -20 "$root.log" >&2; echo "debootstrap bookworm failed (log above): check that $mirror is reachable" >&2; exit 1; }
rm -f "$root.log"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" -c . | "$docker" import -c 'CMD ["bash"]' - "$image" >/dev/null
echo "$image"
