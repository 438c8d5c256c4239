// MetaCache: the ThreadMeta rows of the few threads one lock stripe of RocksdbStore wrote or
// read last, so the read-check-write of an active thread does not read and decode its
// metadata row every time. Bounded: kSlots entries per stripe, the least recently used one
// is replaced (SmallLru). Not thread-safe: each stripe's cache is guarded by that stripe's
// mutex, and RocksdbStore (the only writer of the rows, in-process) keeps it in step with the
// database: a staged metadata write drops the entry and a committed one puts it back
// (rocksdb_impl.hpp).
// Empty when the store opens, so a reopened store reads the rows again.
#pragma once

#include "store/rocksdb/codec.hpp"
#include "store/rocksdb/small_lru.hpp"

namespace mbx::rdb {

using MetaCache = SmallLru<ThreadMeta, 4>;  // by thread id

}  // namespace mbx::rdb
