#!/usr/bin/env bash
# The main job: installs what is missing, builds, and runs the mailbox demo on the embedded
# default store (RocksDB in ./mailbox-data).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bash "$root/scripts/build.sh"
exec "${BUILD_DIR:-$root/build}/demo/mailbox_demo" "$@"
