#!/usr/bin/env bash
# Layering check: dependencies point one way, messages <- store <- actors <- runtime <- binaries,
# and <rocksdb/...> is included only under store/rocksdb/ (and by benchmarks of the limit, and
# the on-disk format test, which writes an older format's keys itself).
set -u
root="${1:-$(cd "$(dirname "$0")/.." && pwd)}"
cd "$root" || exit 2
fail=0
check() {  # folder, forbidden include prefixes...
  local dir="$1"; shift
  for bad in "$@"; do
    if grep -rnE "#include \"$bad/" "$dir" --include='*.hpp' --include='*.cpp' ; then
      echo "layering: $dir must not include $bad/"; fail=1
    fi
  done
}
check messages store actors runtime demo mailboxd mailboxctl
check store actors runtime demo mailboxd mailboxctl
check actors runtime demo mailboxd mailboxctl
check runtime agents demo mailboxd mailboxctl
check agents demo mailboxd mailboxctl
if grep -rln "#include <rocksdb/" --include='*.hpp' --include='*.cpp' . | grep -vE '^\./(store/rocksdb/|bench/|build[^/]*/|tests/store/rocksdb_format_test\.cpp$)' ; then
  echo "layering: <rocksdb/...> included outside store/rocksdb/"; fail=1
fi
if grep -rn "#include" runtime/*.hpp 2>/dev/null | grep -E "<caf/|<rocksdb/"; then
  echo "layering: runtime headers must not expose CAF or RocksDB types"; fail=1
fi
[ $fail -eq 0 ] && echo "layering: ok"
exit $fail
