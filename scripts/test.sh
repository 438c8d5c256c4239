#!/usr/bin/env bash
# Installs what is missing, builds, and runs the tests with ctest.
#   scripts/test.sh              every suite (unit, conformance, engine, node, e2e, crash, model)
#   scripts/test.sh --fast       skips the suites labelled slow (store crash and model, node kill -9)
#   scripts/test.sh -L engine    any other arguments go to ctest (here: only the engine's tests)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bash "$root/scripts/build.sh"
args=(--output-on-failure --timeout 600 -j "${JOBS:-$(nproc)}")
if [ "${1:-}" = "--fast" ]; then
  args+=(-LE slow)
  shift
fi
cd "${BUILD_DIR:-$root/build}"
exec ctest "${args[@]}" "$@"
