#include "store/rocksdb/wal_sync.hpp"

#include <algorithm>

namespace mbx::rdb {

Result<void> WalSyncGroup::sync_upto(std::uint64_t seq) {
  std::unique_lock<std::mutex> lock(mu_);
  while (synced_ < seq) {
    if (failed_) return *failed_;
    if (syncing_) {
      cv_.wait(lock);
      continue;
    }
    syncing_ = true;
    ++syncs_;
    const std::uint64_t target = latest_();  // read before the sync: it covers every write up to it
    lock.unlock();
    auto synced = sync_();
    lock.lock();
    syncing_ = false;
    cv_.notify_all();
    if (!synced) {
      failed_ = synced.error();
      return *failed_;
    }
    synced_ = std::max(synced_, target);
  }
  return {};
}

std::uint64_t WalSyncGroup::syncs() const {
  std::lock_guard<std::mutex> lock(mu_);
  return syncs_;
}

}  // namespace mbx::rdb
