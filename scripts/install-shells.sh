#!/usr/bin/env bash
# tmux, bash and zsh for the completion tests (tests/registry/test_shell_completion.py), from Debian's packages.
# Idempotent: does nothing when all three are on PATH. Needs root (or sudo) and apt-get.
set -euo pipefail
if command -v tmux >/dev/null && command -v zsh >/dev/null && command -v bash >/dev/null; then
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
install() { $sudo apt-get install -y -qq tmux zsh bash >/dev/null; }
install 2>/dev/null || { $sudo apt-get update -qq && install; }
command -v tmux >/dev/null && command -v zsh >/dev/null
