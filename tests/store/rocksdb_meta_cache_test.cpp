// The RocksDB store's in-memory shortcuts stay invisible: the per-stripe ThreadMeta cache
// (MetaCache on its own; threads that share one lock stripe, more than it holds, against the
// MemoryStore reference; a reopened store, whose cache starts empty) and the fenced writes
// that read their dispatch once (racing acks, an ack racing an interrupt).
#include "store/rocksdb/meta_cache.hpp"
#include "store/store.hpp"
#include "tests/store/store_factories.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <latch>
#include <ostream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace mbx::store_tests {
namespace {

rdb::ThreadMeta meta_at(std::uint64_t epoch) {
  rdb::ThreadMeta m;
  m.epoch = epoch;
  return m;
}

TEST(MetaCacheTest, FindsWhatWasPutAndForgetsWhatWasErased) {
  rdb::MetaCache cache;
  EXPECT_EQ(cache.find("t-1"), nullptr);
  cache.put("t-1", meta_at(1));
  cache.put("t-2", meta_at(2));
  ASSERT_NE(cache.find("t-1"), nullptr);
  EXPECT_EQ(cache.find("t-1")->epoch, 1U);
  cache.put("t-1", meta_at(3));
  EXPECT_EQ(cache.find("t-1")->epoch, 3U);
  cache.erase("t-1");
  EXPECT_EQ(cache.find("t-1"), nullptr);
  ASSERT_NE(cache.find("t-2"), nullptr);
  EXPECT_EQ(cache.find("t-2")->epoch, 2U);
}

TEST(MetaCacheTest, ReplacesTheLeastRecentlyUsedEntryWhenFull) {
  rdb::MetaCache cache;
  for (std::size_t i = 0; i < rdb::MetaCache::kSlots; ++i) cache.put("t-" + std::to_string(i), meta_at(i));
  ASSERT_NE(cache.find("t-0"), nullptr);  // t-1 is now the least recently used
  cache.put("t-new", meta_at(99));
  EXPECT_EQ(cache.find("t-1"), nullptr);
  ASSERT_NE(cache.find("t-0"), nullptr);
  ASSERT_NE(cache.find("t-new"), nullptr);
  EXPECT_EQ(cache.find("t-new")->epoch, 99U);
  for (std::size_t i = 2; i < rdb::MetaCache::kSlots; ++i) EXPECT_NE(cache.find("t-" + std::to_string(i)), nullptr);
}

// What a store says about a thread.
struct ThreadView {
  std::uint64_t epoch = 0;
  std::uint64_t version = 0;
  std::vector<DispatchStatus> statuses;
  friend bool operator==(const ThreadView&, const ThreadView&) = default;
};

void PrintTo(const ThreadView& v, std::ostream* os) {
  *os << "{epoch " << v.epoch << ", version " << v.version << ", statuses";
  for (const auto s : v.statuses) *os << ' ' << static_cast<int>(s);
  *os << '}';
}

ThreadView view(Store& s, const std::string& thread) {
  ThreadView v;
  auto epoch = s.current_epoch(thread);
  EXPECT_TRUE(is_ok(epoch));
  if (epoch) v.epoch = *epoch;
  auto version = s.committed_version(thread);
  EXPECT_TRUE(is_ok(version));
  if (version) v.version = *version;
  auto page = s.list_dispatches(thread, {DispatchStatus::queued, DispatchStatus::claimed, DispatchStatus::acked,
                                         DispatchStatus::superseded, DispatchStatus::cancelled},
                                0, 0, false);
  EXPECT_TRUE(is_ok(page));
  if (page)
    for (const auto& d : page->items) v.statuses.push_back(d.status);
  return v;
}

// Rounds of enqueue, claim, append, interrupt (every third thread) and ack over threads that
// share a stripe, three times as many as its cache holds, so entries are evicted and read
// again between the steps of one thread. Each step runs on both stores; they must agree.
TEST(RocksdbMetaCacheTest, ThreadsSharingAStripeBeyondItsCacheKeepTheirOwnMetadata) {
  MemoryStoreFactory memory_factory;
  RocksdbStoreFactory rocksdb_factory;
  auto model = memory_factory.open();
  auto store = rocksdb_factory.open();
  ASSERT_NE(store, nullptr);
  const auto threads = threads_on_one_stripe(3 * rdb::MetaCache::kSlots, "t-");
  std::int64_t now = kT0;
  for (int round = 0; round < 3; ++round) {
    std::vector<std::optional<Fence>> model_fences(threads.size());
    std::vector<std::optional<Fence>> store_fences(threads.size());
    for (std::size_t i = 0; i < threads.size(); ++i) {
      const auto id = "d-" + std::to_string(round) + "-" + std::to_string(i);
      auto a = model->enqueue(make_dispatch(id, threads[i], "r-" + threads[i], now), EnqueueOptions{});
      auto b = store->enqueue(make_dispatch(id, threads[i], "r-" + threads[i], now), EnqueueOptions{});
      ASSERT_TRUE(is_ok(a));
      ASSERT_TRUE(is_ok(b));
      EXPECT_EQ(a->dispatch_epoch, b->dispatch_epoch) << threads[i];
    }
    for (std::size_t i = 0; i < threads.size(); ++i) {
      auto a = model->claim(threads[i], kConsumer, kLeaseMs, ++now, 1);
      auto b = store->claim(threads[i], kConsumer, kLeaseMs, now, 1);
      ASSERT_TRUE(is_ok(a));
      ASSERT_TRUE(is_ok(b));
      ASSERT_EQ(a->size(), b->size()) << threads[i];
      if (!a->empty()) model_fences[i] = Fence::of(a->front());
      if (!b->empty()) store_fences[i] = Fence::of(b->front());
    }
    for (std::size_t i = 0; i < threads.size(); ++i) {
      const auto run = make_run("r-" + threads[i], threads[i], RunStatus::running);
      const auto msg = user_message("m-" + std::to_string(round) + "-" + threads[i]);
      const auto* mf = model_fences[i] ? &*model_fences[i] : nullptr;
      const auto* sf = store_fences[i] ? &*store_fences[i] : nullptr;
      auto a = model->commit_run_append(threads[i], {msg}, std::nullopt, run, mf, ++now);
      auto b = store->commit_run_append(threads[i], {msg}, std::nullopt, run, sf, now);
      ASSERT_EQ(a.has_value(), b.has_value()) << threads[i];
      if (a) {
        EXPECT_EQ(*a, *b) << threads[i];
      }
      if (i % 3 == 0) {
        auto x = model->interrupt(threads[i], ++now);
        auto y = store->interrupt(threads[i], now);
        ASSERT_TRUE(is_ok(x));
        ASSERT_TRUE(is_ok(y));
        EXPECT_EQ(x->new_epoch, y->new_epoch) << threads[i];
      }
    }
    for (std::size_t i = 0; i < threads.size(); ++i) {
      if (!model_fences[i] || !store_fences[i]) continue;
      auto a = model->ack(*model_fences[i], ++now);
      auto b = store->ack(*store_fences[i], now);
      ASSERT_EQ(a.has_value(), b.has_value()) << threads[i];
      if (!a) {
        EXPECT_EQ(a.error().code, b.error().code) << threads[i];
      }
    }
    for (const auto& t : threads) EXPECT_EQ(view(*model, t), view(*store, t)) << t << " after round " << round;
  }
  auto problems = store->verify();
  ASSERT_TRUE(is_ok(problems));
  EXPECT_TRUE(problems->empty());
  rocksdb_factory.reopen(store);
  ASSERT_NE(store, nullptr);
  for (const auto& t : threads) EXPECT_EQ(view(*model, t), view(*store, t)) << t << " after reopen";
}

// A store that cached a thread's metadata is closed; the reopened one starts with an empty
// cache and must act on what the database holds.
TEST(RocksdbMetaCacheTest, AReopenedStoreActsOnTheStoredMetadata) {
  RocksdbStoreFactory factory;
  auto store = factory.open();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(is_ok(store->enqueue(make_dispatch("d1"), EnqueueOptions{})));
  auto claimed = store->claim("t-1", kConsumer, kLeaseMs, kT0, 1);
  ASSERT_TRUE(is_ok(claimed));
  ASSERT_EQ(claimed->size(), 1U);
  const auto fence = Fence::of(claimed->front());
  ASSERT_TRUE(is_ok(store->commit_run_append("t-1", {user_message("m1")}, 0, make_run("r-d1"), &fence, kT0 + 1)));
  ASSERT_TRUE(is_ok(store->interrupt("t-1", kT0 + 2)));

  factory.reopen(store);
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(fails_with(store->ack(fence, kT0 + 3), Errc::fenced));  // epoch moved on; superseded
  auto epoch = store->current_epoch("t-1");
  ASSERT_TRUE(is_ok(epoch));
  EXPECT_EQ(*epoch, 1U);
  EXPECT_TRUE(fails_with(store->commit_run_append("t-1", {user_message("m2")}, 0, make_run("r-d1"), nullptr, kT0 + 4),
                         Errc::conflict));
  ASSERT_TRUE(is_ok(store->commit_run_append("t-1", {user_message("m2")}, 1, make_run("r-d1"), nullptr, kT0 + 4)));
  ASSERT_TRUE(is_ok(store->enqueue(make_dispatch("d2", "t-1", "r-d2", kT0 + 5), EnqueueOptions{})));
  auto again = store->claim("t-1", kConsumer, kLeaseMs, kT0 + 6, 1);
  ASSERT_TRUE(is_ok(again));
  ASSERT_EQ(again->size(), 1U);
  EXPECT_EQ(again->front().dispatch_epoch, 1U);

  factory.reopen(store);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(is_ok(store->ack(Fence::of(again->front()), kT0 + 7)));
  auto version = store->committed_version("t-1");
  ASSERT_TRUE(is_ok(version));
  EXPECT_EQ(*version, 2U);
  auto problems = store->verify();
  ASSERT_TRUE(is_ok(problems));
  EXPECT_TRUE(problems->empty());
}

// Runs body(i) on n threads released together.
void race(int n, const std::function<void(int)>& body) {
  std::latch start(n);
  std::vector<std::thread> racers;
  for (int i = 0; i < n; ++i) {
    racers.emplace_back([&start, &body, i] {
      start.arrive_and_wait();
      body(i);
    });
  }
  for (auto& t : racers) t.join();
}

// Fenced writes read their dispatch before taking its thread's lock and trust that read only
// while no write committed in between; racing writers on one dispatch must still see each
// other's writes.
TEST(RocksdbMetaCacheTest, RacingAcksAndInterruptsOfOneDispatchHaveOneOutcome) {
  RocksdbStoreFactory factory;
  auto store = factory.open();
  ASSERT_NE(store, nullptr);
  std::int64_t now = kT0;
  for (int round = 0; round < 20; ++round) {
    const auto id = "d-" + std::to_string(round);
    ASSERT_TRUE(is_ok(store->enqueue(make_dispatch(id, "t-1", "r-1", now), EnqueueOptions{})));
    auto claimed = store->claim("t-1", kConsumer, kLeaseMs, ++now, 1);
    ASSERT_TRUE(is_ok(claimed));
    ASSERT_EQ(claimed->size(), 1U);
    const auto fence = Fence::of(claimed->front());
    std::atomic<int> acked{0};
    std::atomic<int> fenced{0};
    std::atomic<int> interrupted_active{0};
    std::atomic<int> other{0};
    race(8, [&](int i) {
      if (i == 0 && round % 2 == 1) {
        auto r = store->interrupt("t-1", now);
        if (r && r->active_dispatch) ++interrupted_active;
        return;
      }
      auto r = i % 2 == 0 ? store->ack(fence, now) : store->extend_lease(fence, kLeaseMs, now);
      if (r && i % 2 == 0) ++acked;
      if (!r && r.error().code == Errc::fenced) ++fenced;
      if (!r && r.error().code != Errc::fenced) ++other;
    });
    EXPECT_EQ(other.load(), 0) << "round " << round;
    EXPECT_LE(acked.load(), 1) << "round " << round;
    auto d = store->load_dispatch(id);
    ASSERT_TRUE(is_ok(d));
    ASSERT_TRUE(d->has_value());
    if (acked.load() == 1) {
      EXPECT_EQ((*d)->status, DispatchStatus::acked) << "round " << round;
    } else {
      // Only an interrupt that saw the dispatch claimed keeps every ack out.
      EXPECT_EQ(interrupted_active.load(), 1) << "round " << round;
      EXPECT_EQ((*d)->status, DispatchStatus::superseded) << "round " << round;
    }
    ++now;
  }
  auto problems = store->verify();
  ASSERT_TRUE(is_ok(problems));
  EXPECT_TRUE(problems->empty());
}

}  // namespace
}  // namespace mbx::store_tests
