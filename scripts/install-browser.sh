#!/usr/bin/env bash
# Headless Chromium for the catalogue's browser tests (tests/catalog): Debian's chromium + chromium-driver.
# Idempotent: does nothing when both are on PATH. Needs root (or sudo) and apt-get.
set -euo pipefail
if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
install() { $sudo apt-get install -y -qq chromium chromium-driver >/dev/null; }
install 2>/dev/null || { $sudo apt-get update -qq && install; }
command -v chromium >/dev/null && command -v chromedriver >/dev/null
