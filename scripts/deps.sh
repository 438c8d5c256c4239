#!/usr/bin/env bash
# Installs every Debian package the build and the tests need, but only the missing ones.
# Quiet and quick when everything is already there. Needs root (or sudo) when something is missing.
set -euo pipefail
PKGS=(
  cmake g++ make pkg-config
  libcaf-dev librocksdb-dev
  libboost-json1.81-dev libboost1.81-dev
  libfmt-dev libspdlog-dev libgtest-dev libgmock-dev libbenchmark-dev librapidcheck-dev
)
missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "[deps] installing: ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "[deps] done"
