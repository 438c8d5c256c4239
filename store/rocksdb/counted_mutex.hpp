// CountedMutex: a mutex that knows whether a thread waits, or waited lately, for it. A
// RocksdbStore lock stripe uses it to choose where a synced write's fsync happens
// (rocksdb_impl.hpp, durable()): under the lock when the lock is quiet, after the lock when
// it is busy.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>
#include <mutex>

namespace mbx::rdb {

class CountedMutex {
public:
  void lock() {
    if (mu_.try_lock()) return;
    waiting_.fetch_add(1, std::memory_order_relaxed);
    last_wait_ns_.store(now_ns(), std::memory_order_relaxed);
    mu_.lock();
    waiting_.fetch_sub(1, std::memory_order_relaxed);
  }
  bool try_lock() { return mu_.try_lock(); }
  void unlock() { mu_.unlock(); }
  // Whether a lock() call waits now, or had to wait within the last `window` (a hint: a
  // waiter may come or go right after).
  [[nodiscard]] bool contended(std::chrono::nanoseconds window) const {
    return waiting_.load(std::memory_order_relaxed) > 0 ||
           now_ns() - last_wait_ns_.load(std::memory_order_relaxed) < window.count();
  }

private:
  static std::int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  std::mutex mu_;
  std::atomic<int> waiting_{0};
  std::atomic<std::int64_t> last_wait_ns_{std::numeric_limits<std::int64_t>::min() / 2};
};

}  // namespace mbx::rdb
