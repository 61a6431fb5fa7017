#!/usr/bin/env bash
# Create or refresh .venv with the project and all its extras. torch is pinned (==2.13.0) so pip
# takes this machine's CPU build instead of downloading a CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3.11}
command -v "$python" >/dev/null || python=python3
[ -x .venv/bin/python ] || "$python" -m venv .venv
quiet() { "$@" 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }; }
quiet .venv/bin/pip install -q --upgrade pip
quiet .venv/bin/pip install -q -e ".[dev,prompts,embeddings]"
if [ -x scripts/install-helm.sh ] && ! command -v helm >/dev/null && [ ! -x .venv/bin/helm ]; then
  quiet scripts/install-helm.sh
fi
