// CountedMutex, which tells the RocksDB store that a thread's lock is busy (its synced writes
// then sync after the lock), and WalSyncGroup, the group sync behind them: a caller returns only
// after a sync that began once its write was published; callers that wait during a sync share
// the next one; a failed sync is the error of its caller, of the callers waiting and of every
// later one.
#include "store/rocksdb/counted_mutex.hpp"
#include "store/rocksdb/wal_sync.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <latch>
#include <mutex>
#include <thread>
#include <vector>

namespace mbx::rdb {
namespace {

using namespace std::chrono_literals;

// A fake WAL: writes publish consecutive sequence numbers; a sync makes durable what was
// published when it began (read at its start, as the store reads RocksDB's latest sequence).
struct FakeWal {
  std::atomic<std::uint64_t> published{0};
  std::atomic<std::uint64_t> durable{0};
  std::atomic<int> fail_next{0};
  std::chrono::milliseconds sync_time{0};
  WalSyncGroup group{[this] { return published.load(); },
                     [this]() -> Result<void> {
                       const auto upto = published.load();
                       std::this_thread::sleep_for(sync_time);
                       if (fail_next.load() > 0) {
                         fail_next.fetch_sub(1);
                         return store_error("fsync failed");
                       }
                       std::uint64_t d = durable.load();
                       while (d < upto && !durable.compare_exchange_weak(d, upto)) {
                       }
                       return {};
                     }};
  std::uint64_t write() { return published.fetch_add(1) + 1; }
};

TEST(WalSyncGroupTest, SyncsOnceForWhatIsAlreadyPublishedAndAgainForNewWrites) {
  FakeWal wal;
  const auto a = wal.write();
  const auto b = wal.write();
  ASSERT_TRUE(wal.group.sync_upto(a));
  EXPECT_EQ(wal.group.syncs(), 1u);
  EXPECT_GE(wal.durable.load(), b);
  ASSERT_TRUE(wal.group.sync_upto(b));  // covered by the first sync
  EXPECT_EQ(wal.group.syncs(), 1u);
  const auto c = wal.write();
  ASSERT_TRUE(wal.group.sync_upto(c));
  EXPECT_EQ(wal.group.syncs(), 2u);
  EXPECT_GE(wal.durable.load(), c);
}

TEST(WalSyncGroupTest, CallersWhoseWritesArePublishedShareOneSync) {
  FakeWal wal;
  wal.sync_time = 5ms;
  constexpr int kCallers = 32;
  std::vector<std::uint64_t> seqs;
  for (int i = 0; i < kCallers; ++i) seqs.push_back(wal.write());
  std::latch go(kCallers);
  std::atomic<int> ok{0};
  std::vector<std::thread> callers;
  for (int i = 0; i < kCallers; ++i)
    callers.emplace_back([&, i] {
      go.arrive_and_wait();
      if (wal.group.sync_upto(seqs[i]) && wal.durable.load() >= seqs[i]) ok.fetch_add(1);
    });
  for (auto& t : callers) t.join();
  EXPECT_EQ(ok.load(), kCallers);
  EXPECT_EQ(wal.group.syncs(), 1u);
}

TEST(WalSyncGroupTest, EveryCallerReturnsOnlyOnceItsWriteIsDurable) {
  FakeWal wal;
  wal.sync_time = 1ms;
  constexpr int kCallers = 16, kWrites = 20;
  std::atomic<int> not_durable{0};
  std::vector<std::thread> callers;
  for (int i = 0; i < kCallers; ++i)
    callers.emplace_back([&] {
      for (int w = 0; w < kWrites; ++w) {
        const auto seq = wal.write();
        if (!wal.group.sync_upto(seq) || wal.durable.load() < seq) not_durable.fetch_add(1);
      }
    });
  for (auto& t : callers) t.join();
  EXPECT_EQ(not_durable.load(), 0);
  EXPECT_LT(wal.group.syncs(), static_cast<std::uint64_t>(kCallers * kWrites));  // shared
}

TEST(WalSyncGroupTest, AFailedSyncFailsItsCallerAndEveryLaterOne) {
  FakeWal wal;
  const auto a = wal.write();
  ASSERT_TRUE(wal.group.sync_upto(a));
  const auto b = wal.write();
  wal.fail_next = 1;
  auto failed = wal.group.sync_upto(b);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, Errc::store);
  EXPECT_EQ(wal.durable.load(), a);
  // The pages the failed fsync could not write may be gone: no later caller is told its write
  // is durable, even though the fake's next sync would succeed.
  const auto c = wal.write();
  auto later = wal.group.sync_upto(c);
  ASSERT_FALSE(later);
  EXPECT_EQ(later.error().code, Errc::store);
  EXPECT_EQ(wal.group.syncs(), 2u);
  ASSERT_TRUE(wal.group.sync_upto(a));  // what an earlier sync covered stays covered
}

TEST(WalSyncGroupTest, CallersWaitingForASyncThatFailsGetItsError) {
  FakeWal wal;
  wal.sync_time = 20ms;
  wal.fail_next = 1;
  constexpr int kCallers = 8;
  std::vector<std::uint64_t> seqs;
  for (int i = 0; i < kCallers; ++i) seqs.push_back(wal.write());
  std::latch go(kCallers);
  std::atomic<int> failed{0};
  std::vector<std::thread> callers;
  for (int i = 0; i < kCallers; ++i)
    callers.emplace_back([&, i] {
      go.arrive_and_wait();
      if (!wal.group.sync_upto(seqs[i])) failed.fetch_add(1);
    });
  for (auto& t : callers) t.join();
  EXPECT_EQ(failed.load(), kCallers);
  EXPECT_EQ(wal.group.syncs(), 1u);
  EXPECT_EQ(wal.durable.load(), 0u);
}

TEST(CountedMutexTest, IsContendedWhileAThreadWaitsAndForAWindowAfter) {
  CountedMutex mu;
  EXPECT_FALSE(mu.contended(std::chrono::hours(1)));  // never waited for
  mu.lock();
  EXPECT_FALSE(mu.contended(0ns));  // held, nobody waits
  std::atomic<bool> got{false};
  std::thread waiter([&] {
    mu.lock();
    got = true;
    mu.unlock();
  });
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!mu.contended(0ns) && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  EXPECT_TRUE(mu.contended(0ns));  // the waiter waits now
  mu.unlock();
  waiter.join();
  EXPECT_TRUE(got.load());
  EXPECT_FALSE(mu.contended(0ns));          // nobody waits any more
  EXPECT_TRUE(mu.contended(std::chrono::hours(1)));  // but somebody did, recently
  EXPECT_TRUE(mu.try_lock());
  mu.unlock();
}

}  // namespace
}  // namespace mbx::rdb
