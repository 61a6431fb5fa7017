#!/usr/bin/env bash
# For `make e2e` (CI runs it as root): Debian's docker.io + debootstrap if missing, and a dockerd if none answers.
# This machine has no bridge networking for containers: dockerd runs with --bridge=none --iptables=false and the
# e2e containers and builds use the host network. Waits up to DOCKERD_TIMEOUT seconds (default 60).
set -euo pipefail
docker=/usr/bin/docker
timeout=${DOCKERD_TIMEOUT:-60}
if ! [ -x "$docker" ] || ! command -v dockerd >/dev/null || ! command -v debootstrap >/dev/null; then
  [ "$(id -u)" = 0 ] || { echo "install-docker: docker.io/debootstrap missing and not root: run as root" >&2; exit 1; }
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends docker.io debootstrap >/dev/null \
    || { echo "install-docker: apt-get install docker.io debootstrap failed" >&2; exit 1; }
fi
if timeout 10 "$docker" info >/dev/null 2>&1; then
  exit 0
fi
[ "$(id -u)" = 0 ] || { echo "install-docker: no docker daemon answers and not root to start one" >&2; exit 1; }
log=/var/log/dockerd-e2e.log
nohup dockerd --bridge=none --iptables=false >"$log" 2>&1 &
for _ in $(seq "$timeout"); do
  if timeout 5 "$docker" info >/dev/null 2>&1; then
    echo "install-docker: dockerd $("$docker" version --format '{{.Server.Version}}') started (log: $log)"
    exit 0
  fi
  sleep 1
done
echo "install-docker: dockerd did not answer within ${timeout}s; last lines of $log:" >&2
tail -5 "$log" >&2 || true
exit 1
