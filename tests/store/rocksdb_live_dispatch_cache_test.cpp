// The RocksDB store's cache of live (Queued or Claimed) dispatch records stays invisible:
// every way a live dispatch changes (claim, ack, nack and a
// new claim, lease extension, run start and result, a fenced append and step, an event, an
// interrupt of a thread with a claimed and a queued dispatch, cancel, supersede, lease reclaim,
// dead letter and purge with the id enqueued again on another thread, an inline claim), on
// threads that share one lock stripe (more than its cache holds), against the MemoryStore
// reference, with verify() (which checks each cached record against its row) after every step
// and a reopen (empty cache) in the middle.
#include "store/rocksdb/live_dispatch_cache.hpp"
#include "store/store.hpp"
#include "tests/store/store_factories.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mbx::store_tests {
namespace {

// A store under test and what it said: each step appends a line (operation, outcome, status
// of the dispatch after it); the two stores must write the same lines.
struct Subject {
  Subject(std::unique_ptr<Store> opened, std::function<void(std::unique_ptr<Store>&)> reopener, bool verify = false)
      : store(std::move(opened)), reopen(std::move(reopener)), check_verify(verify) {}
  std::unique_ptr<Store> store;
  std::function<void(std::unique_ptr<Store>&)> reopen;
  bool check_verify = false;
  std::vector<std::string> lines;
  std::int64_t now = kT0;

  template <class T>
  void note(const std::string& step, const Result<T>& r, const std::string& dispatch_id) {
    std::string line = step + ": " + (r ? std::string("ok") : "error " + std::to_string(static_cast<int>(r.error().code)));
    auto d = store->load_dispatch(dispatch_id);
    EXPECT_TRUE(is_ok(d)) << step;
    line += d && *d ? " status " + std::to_string(static_cast<int>((*d)->status)) : " gone";
    lines.push_back(std::move(line));
    if (!check_verify) return;
    auto problems = store->verify();
    ASSERT_TRUE(is_ok(problems)) << step;
    for (const auto& p : *problems) ADD_FAILURE() << step << ": " << p;
  }

  // Enqueues `id` on `thread` and claims it; the claim's fence (or none).
  std::optional<Fence> enqueue_and_claim(const std::string& id, const std::string& thread) {
    auto q = store->enqueue(make_dispatch(id, thread, "r-" + id, now), EnqueueOptions{});
    note("enqueue " + id, q, id);
    auto c = store->claim(thread, kConsumer, kLeaseMs, ++now, 1);
    note("claim " + id, c, id);
    if (!c || c->empty()) return std::nullopt;
    return Fence::of(c->front());
  }
};

void scenario(Subject& s, const std::vector<std::string>& threads) {
  std::vector<std::optional<Fence>> fences(threads.size());
  const auto id = [](std::size_t i) { return "d-" + std::to_string(i); };
  for (std::size_t i = 0; i < threads.size(); ++i) fences[i] = s.enqueue_and_claim(id(i), threads[i]);
  ASSERT_TRUE(fences[0] && fences[threads.size() - 1]);

  // 0: acked with a wrong token first (refused, nothing written), then for real.
  Fence wrong = *fences[0];
  wrong.claim_token = "not-the-token";
  s.note("ack 0 wrong token", s.store->ack(wrong, ++s.now), id(0));
  s.note("ack 0", s.store->ack(*fences[0], ++s.now), id(0));
  s.note("ack 0 again", s.store->ack(*fences[0], ++s.now), id(0));
  // 1: nacked (Queued again, retry now), claimed anew: the old fence is stale, the new one acks.
  ++s.now;
  s.note("nack 1", s.store->nack(*fences[1], s.now - 1, "boom", s.now), id(1));
  auto again = s.store->claim(threads[1], kConsumer, kLeaseMs, ++s.now, 1);
  s.note("claim 1 again", again, id(1));
  s.note("ack 1 old fence", s.store->ack(*fences[1], ++s.now), id(1));
  if (again && !again->empty()) s.note("ack 1 new fence", s.store->ack(Fence::of(again->front()), ++s.now), id(1));
  // 2: lease extended twice, then acked.
  s.note("extend 2", s.store->extend_lease(*fences[2], kLeaseMs, ++s.now), id(2));
  s.note("extend 2 again", s.store->extend_lease(*fences[2], 2 * kLeaseMs, ++s.now), id(2));
  s.note("ack 2", s.store->ack(*fences[2], ++s.now), id(2));
  // 3: run start, an event, a fenced append, the result, then the ack.
  s.note("start 3", s.store->record_dispatch_start(*fences[3], "inst-3", ++s.now), id(3));
  s.note("event 3", s.store->append_event("r-" + id(3), text_event(threads[3], "r-" + id(3), "x", ++s.now), &*fences[3]),
         id(3));
  s.note("append 3",
         s.store->commit_run_append(threads[3], {user_message("m-3")}, 0,
                                    make_run("r-" + id(3), threads[3], RunStatus::running), &*fences[3], ++s.now),
         id(3));
  s.note("result 3", s.store->record_run_result(*fences[3], done_result("r-" + id(3), "inst-3"), ++s.now), id(3));
  s.note("ack 3", s.store->ack(*fences[3], ++s.now), id(3));
  // 4: a run start step, then an ack step (commit_run_step).
  {
    DispatchStep start{DispatchStep::Kind::start, "inst-4", std::nullopt, "", std::nullopt};
    s.note("step start 4",
           s.store->commit_run_step(threads[4], {}, std::nullopt, make_run("r-" + id(4), threads[4], RunStatus::running),
                                    *fences[4], start, ++s.now),
           id(4));
    DispatchStep ack{DispatchStep::Kind::ack, "", done_result("r-" + id(4), "inst-4"), "", std::nullopt};
    s.note("step ack 4",
           s.store->commit_run_step(threads[4], {assistant_message("m-4")}, 0,
                                    make_run("r-" + id(4), threads[4], RunStatus::done), *fences[4], ack, ++s.now),
           id(4));
    s.note("extend 4 after step ack", s.store->extend_lease(*fences[4], kLeaseMs, ++s.now), id(4));
  }
  // 5: the thread, with a queued dispatch behind the claimed one, is interrupted: the queued one
  // is superseded, the claim's writes are fenced (and supersede it).
  s.note("enqueue 5b", s.store->enqueue(make_dispatch("d-5b", threads[5], "r-5b", ++s.now), EnqueueOptions{}), "d-5b");
  s.note("interrupt 5", s.store->interrupt(threads[5], ++s.now), id(5));
  s.note("claim 5 after interrupt", s.store->claim(threads[5], kConsumer, kLeaseMs, ++s.now, 1), "d-5b");
  s.note("cancel 5b", s.store->cancel("d-5b", ++s.now), "d-5b");
  s.note("extend 5", s.store->extend_lease(*fences[5], kLeaseMs, ++s.now), id(5));
  s.note("ack 5", s.store->ack(*fences[5], ++s.now), id(5));
  // 6: a queued dispatch behind the claim is cancelled; the claim is superseded by its owner,
  // then fenced.
  s.note("enqueue 6b", s.store->enqueue(make_dispatch("d-6b", threads[6], "r-6b", ++s.now), EnqueueOptions{}), "d-6b");
  s.note("cancel 6b", s.store->cancel("d-6b", ++s.now), "d-6b");
  s.note("cancel 6b again", s.store->cancel("d-6b", ++s.now), "d-6b");
  s.note("supersede 6", s.store->supersede_claimed(*fences[6], ++s.now, "test"), id(6));
  s.note("ack 6", s.store->ack(*fences[6], ++s.now), id(6));
  // The cache starts empty after a reopen; the claims of 7.. are still open.
  s.reopen(s.store);
  ASSERT_NE(s.store, nullptr);
  s.note("ack 7 after reopen", s.store->ack(*fences[7], ++s.now), id(7));
  // 8..: their leases expire and are reclaimed (Queued again); the old fences are stale.
  s.now += 2 * kLeaseMs;
  auto reclaimed = s.store->reclaim_expired_leases(s.now, 0);
  s.note("reclaim", reclaimed, id(8));
  s.note("ack 8 after reclaim", s.store->ack(*fences[8], ++s.now), id(8));
  // 9: dead-lettered, purged, and its id enqueued again on a thread of another stripe; the new
  // dispatch is claimed and acked there, the old fence stays stale.
  auto claim9 = s.store->claim(threads[9], kConsumer, kLeaseMs, ++s.now, 1);
  s.note("claim 9 after reclaim", claim9, id(9));
  if (claim9 && !claim9->empty()) {
    s.note("dead letter 9", s.store->dead_letter(Fence::of(claim9->front()), "fatal", ++s.now), id(9));
  }
  s.note("purge", s.store->purge_terminal(s.now + 1), id(9));
  auto moved = s.enqueue_and_claim(id(9), "elsewhere");
  s.note("ack 9 old fence", s.store->ack(*fences[9], ++s.now), id(9));
  if (moved) s.note("ack 9 moved", s.store->ack(*moved, ++s.now), id(9));
  // 10: Queued again by the reclaim; claimed inline (claim_dispatch) and acked.
  auto inline10 = s.store->claim_dispatch(id(10), kConsumer, kLeaseMs, ++s.now);
  s.note("claim_dispatch 10", inline10, id(10));
  if (inline10 && *inline10) s.note("ack 10", s.store->ack(Fence::of(**inline10), ++s.now), id(10));
}

TEST(RocksdbLiveDispatchCacheTest, EveryChangeOfALiveDispatchAgreesWithTheModel) {
  MemoryStoreFactory memory_factory;
  RocksdbStoreFactory rocksdb_factory;
  const auto threads = threads_on_one_stripe(4 * rdb::LiveDispatchCache::kSlots + 3, "c-");
  ASSERT_GE(threads.size(), 11U);
  Subject model{memory_factory.open(), [&](std::unique_ptr<Store>& s) { memory_factory.reopen(s); }};
  Subject store{rocksdb_factory.open(), [&](std::unique_ptr<Store>& s) { rocksdb_factory.reopen(s); }, true};
  ASSERT_NE(store.store, nullptr);
  scenario(model, threads);
  scenario(store, threads);
  EXPECT_EQ(model.lines, store.lines);
  rocksdb_factory.reopen(store.store);
  ASSERT_NE(store.store, nullptr);
  auto problems = store.store->verify();
  ASSERT_TRUE(is_ok(problems));
  EXPECT_TRUE(problems->empty());
}

}  // namespace
}  // namespace mbx::store_tests
