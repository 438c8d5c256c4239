// LiveDispatchCache: the records of the live (Queued or Claimed) dispatches one lock stripe of
// RocksdbStore wrote last, so a fenced write on a running dispatch (ack, nack, lease extension,
// run start and result, a fenced append or event) checks its fence and stages its transition,
// and a claim takes the head of its thread's queue, without reading and decoding the dispatch
// row. Bounded: kSlots entries per stripe, the least recently used one is replaced (SmallLru);
// only live records are put. Not thread-safe: each stripe's cache is guarded by that stripe's mutex, and
// RocksdbStore (the only writer of the rows, in-process) keeps it in step with the database:
// staging any write of a dispatch row drops its entry, and a committed write of a live record
// puts it back (rocksdb_impl.hpp). So an entry is always the stored record, of a dispatch whose
// thread hashes to this stripe. Empty when the store opens.
#pragma once

#include "messages/run_dispatch.hpp"
#include "store/rocksdb/small_lru.hpp"

namespace mbx::rdb {

// Two records per stripe: 8 192 in all, about 4.6 MB (a RunDispatch is 552 bytes, plus its
// longer strings). By dispatch id.
using LiveDispatchCache = SmallLru<RunDispatch, 2>;

}  // namespace mbx::rdb
