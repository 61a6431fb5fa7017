#!/usr/bin/env bash
# `make real-mirror`: a DREG_MIRROR folder with the genuine upstream files, built offline.
#
# fashion-mnist comes from Debian's `dataset-fashion-mnist` package (installed here if missing): its arrays are
# re-gzipped with the original names and mtimes (`gzip -6`), which reproduces the published files byte for byte
# (checked against the MD5s in pipelines/fashion-mnist/params.yaml).
# wine-quality has no package: put the unmodified UCI files there yourself,
#   $DREG_MIRROR/wine-quality/winequality-red.csv and winequality-white.csv
# (https://archive.ics.uci.edu/dataset/186/wine+quality); their sha256 are pinned in pipelines/wine-quality/params.yaml.
# Then: DREG_MIRROR=<folder> dreg run fashion-mnist, or pytest --real-data (tests/contracts/test_real_data.py).
set -euo pipefail

MIRROR="${1:-${DREG_MIRROR:-.dreg/real-mirror}}"
PACKAGE_DIR=/usr/share/datasets/fashion-mnist
declare -A MTIME=([train]=1504176606 [t10k]=1504176627)
declare -A MD5=(
  [train-images-idx3-ubyte.gz]=8d4fb7e6c68d591d4c3dfef9ec88bf0d
  [train-labels-idx1-ubyte.gz]=25c81989df183df01b3e8a0aad5dffbe
  [t10k-images-idx3-ubyte.gz]=bef4ecab320f06d8554ea6380940ec79
  [t10k-labels-idx1-ubyte.gz]=bb300cfdad3c16e7a12a480ee83cd310
)

if [ ! -d "$PACKAGE_DIR" ]; then
  if [ "$(id -u)" = 0 ]; then apt-get install -y dataset-fashion-mnist >/dev/null; else sudo apt-get install -y dataset-fashion-mnist >/dev/null; fi
fi

mkdir -p "$MIRROR/fashion-mnist" "$MIRROR/wine-quality"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for name in "${!MD5[@]}"; do
  raw="${name%.gz}"
  gunzip -c "$PACKAGE_DIR/$name" >"$work/$raw"
  touch -d "@${MTIME[${name%%-*}]}" "$work/$raw"
  (cd "$work" && gzip -6 -c "$raw") >"$MIRROR/fashion-mnist/$name"
  echo "${MD5[$name]}  $MIRROR/fashion-mnist/$name" | md5sum --quiet -c - || {
    echo "real-mirror: $name does not match the published MD5 ${MD5[$name]}" >&2; exit 1; }
done
rm -f "$MIRROR/.sample"
echo "fashion-mnist: 4 files with the published MD5s in $MIRROR/fashion-mnist"
missing=0
for f in winequality-red.csv winequality-white.csv; do [ -f "$MIRROR/wine-quality/$f" ] || missing=1; done
if [ "$missing" = 1 ]; then
  echo "wine-quality: put the UCI winequality-red.csv and winequality-white.csv in $MIRROR/wine-quality/"
fi
echo "export DREG_MIRROR=$(cd "$MIRROR" && pwd)"
