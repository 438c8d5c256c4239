#!/usr/bin/env bash
# Installs missing Debian packages, configures and builds. Quick and quiet when up to date.
#   scripts/build.sh                 -> build/           (RelWithDebInfo)
#   BUILD_DIR=build-asan CMAKE_ARGS="-DMBX_SANITIZE=ON" scripts/build.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
bash "$root/scripts/deps.sh"
if [ ! -f "$build/CMakeCache.txt" ]; then
  echo "[build] configuring $build"
  # shellcheck disable=SC2086
  cmake -S "$root" -B "$build" ${CMAKE_ARGS:-} >"$build.configure.log" 2>&1 || { cat "$build.configure.log"; exit 1; }
fi
jobs="${JOBS:-$(nproc)}"
log="$(mktemp)"
if ! cmake --build "$build" -j "$jobs" >"$log" 2>&1; then
  cat "$log"; rm -f "$log"; exit 1
fi
grep -E "warning:" "$log" || true
rm -f "$log"
