// Column families of the RocksDB store: names and positions. Never renumber or rename:
// they are the on-disk format (docs/store.md).
#pragma once

#include <array>
#include <cstddef>

namespace mbx::rdb {

enum Cf : std::size_t {
  kDefaultCf = 0,   // "default": format marker only
  kDispatchesCf,    // dispatch_id -> RunDispatch
  kRunsCf,          // run_id -> RunRecord
  kMessagesCf,      // thread \0 seq -> MessageRecord
  kEventsCf,        // run \0 seq -> AgentEvent
  kThreadsCf,       // thread -> ThreadMeta
  kIndexCf,         // secondary indexes, one-letter prefixes (keys.hpp)
  kCountersCf,      // "c" -> one u64 count per dispatch status (merge: add lane by lane)
  kCfCount,
};

inline constexpr std::array<const char*, kCfCount> kCfNames = {
    "default", "dispatches", "runs", "messages", "events", "threads", "index", "counters",
};

}  // namespace mbx::rdb
