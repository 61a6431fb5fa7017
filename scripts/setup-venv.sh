#!/usr/bin/env bash
# Create or refresh .venv with the project and all its extras. torch is pinned (==2.13.0) so pip
# takes this machine's CPU build instead of downloading a CUDA build. Prints each step and pip's
# progress (one line per package collected or installed), each stamped with the time and cut at 200 characters,
# and a "still working" line after 30 s of silence (steps/dev/runlog.py), so the first install is never silent.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3.11}
command -v "$python" >/dev/null || python=python3
step() { printf '%s ==> %s\n' "$(date -u +%H:%M:%S)" "$*"; }
# pip's own lines that show progress or trouble; "is ignored" noise from editable installs dropped.
keep='^(Collecting|Downloading|Installing|Successfully|Building|ERROR|error|WARNING: .*(fail|error))'
progress() { PYTHONPATH=. "$python" -m steps.dev.runlog --label "pip install" --keep "$keep" -- "$@"; }
if [ ! -x .venv/bin/python ]; then
  step "creating .venv with $("$python" --version 2>&1)"
  "$python" -m venv .venv
fi
step "upgrading pip"
progress .venv/bin/pip install --upgrade pip
step "installing data-registry with extras dev, prompts, embeddings (first time: 2-3 minutes, mostly torch and Ray)"
progress .venv/bin/pip install --progress-bar off -e ./clients/python -e ".[dev,prompts,embeddings]"
if [ -x scripts/install-helm.sh ] && ! command -v helm >/dev/null && [ ! -x .venv/bin/helm ]; then
  step "installing helm into .venv/bin"
  scripts/install-helm.sh
fi
step ".venv ready: $(.venv/bin/dreg --version)"
