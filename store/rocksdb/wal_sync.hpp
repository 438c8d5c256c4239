// Group sync of the WAL for writes made unsynced under a lock (RocksdbStore::Impl::durable):
// a caller that needs every write up to sequence number `seq` synced either finds it done, or
// runs the sync itself, or waits for the sync under way and checks again. One sync covers
// every write published before it began, so callers that arrive during a sync share the next.
// Free of RocksDB types so that it can be tested with a fake sync.
#pragma once

#include "messages/error.hpp"

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>

namespace mbx::rdb {

class WalSyncGroup {
public:
  // `latest`: the last published sequence number (every write up to it is in the WAL file).
  // `sync`: makes the WAL file durable.
  WalSyncGroup(std::function<std::uint64_t()> latest, std::function<Result<void>()> sync)
      : latest_(std::move(latest)), sync_(std::move(sync)) {}

  // Returns once a sync that began after `seq` was published has succeeded. A failed sync is
  // final: its error is returned to its caller, to the callers waiting, and to every later
  // one (after a failed fsync the OS may have dropped the pages it could not write, so a
  // later sync that succeeds proves nothing about them; RocksDB stops writes likewise when a
  // synced write's fsync fails). Reopening the store starts over from what the disk has.
  [[nodiscard]] Result<void> sync_upto(std::uint64_t seq);
  [[nodiscard]] std::uint64_t syncs() const;  // syncs run so far (tests)

private:
  const std::function<std::uint64_t()> latest_;
  const std::function<Result<void>()> sync_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool syncing_ = false;      // Guarded by mu_.
  std::optional<Error> failed_;  // Guarded by mu_. the first failed sync's error
  std::uint64_t synced_ = 0;  // Guarded by mu_. every write up to it is durable
  std::uint64_t syncs_ = 0;   // Guarded by mu_.
};

}  // namespace mbx::rdb
