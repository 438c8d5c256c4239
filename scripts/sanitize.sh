#!/usr/bin/env bash
# Builds and tests with sanitizers in separate build folders.
#   scripts/sanitize.sh          AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/)
#   scripts/sanitize.sh tsan     ThreadSanitizer (build-tsan/)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
if [ "${1:-asan}" = "tsan" ]; then
  export BUILD_DIR="$root/build-tsan" CMAKE_ARGS="-DMBX_TSAN=ON -DMBX_BUILD_BENCH=OFF"
  export TSAN_OPTIONS="suppressions=$root/tests/tsan.supp halt_on_error=1 second_deadlock_stack=1"
else
  export BUILD_DIR="$root/build-asan" CMAKE_ARGS="-DMBX_SANITIZE=ON -DMBX_BUILD_BENCH=OFF"
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1" UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
fi
bash "$root/scripts/test.sh" "${@:2}"
