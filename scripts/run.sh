#!/usr/bin/env bash
# The main job: installs what is missing, builds, and starts the node, mailboxd, on the
# embedded default store (RocksDB in ./mailbox-data), serving HTTP on 127.0.0.1:8787.
# Arguments go to mailboxd (see `--help`), e.g. --data-dir DIR or --listen HOST:PORT.
# `scripts/run.sh demo` runs the in-process engine demo instead.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bash "$root/scripts/build.sh"
build="${BUILD_DIR:-$root/build}"
if [ "${1:-}" = "demo" ]; then
  shift
  exec "$build/demo/mailbox_demo" "$@"
fi
cat <<EOT
mailboxd is starting. Talk to it from another terminal:
  $build/mailboxctl/mailboxctl send demo "hello" --agent echo
  curl -s -XPOST http://127.0.0.1:8787/v1/threads/demo/messages \\
       -d '{"messages":[{"role":"user","content":"hello"}],"agent_id":"echo","stream":true}'
Stop it with Ctrl-C.
EOT
exec "$build/mailboxd/mailboxd" "$@"
