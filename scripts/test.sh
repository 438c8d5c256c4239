#!/usr/bin/env bash
# Installs what is missing, builds, and runs the tests with ctest.
#   scripts/test.sh            every suite (unit, conformance, crash, model)
#   scripts/test.sh --fast     skips the suites labelled slow (crash, model)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bash "$root/scripts/build.sh"
args=(--output-on-failure --timeout 600 -j "${JOBS:-$(nproc)}")
if [ "${1:-}" = "--fast" ]; then args+=(-LE slow); fi
cd "${BUILD_DIR:-$root/build}"
exec ctest "${args[@]}"
