// Concurrency of the store contract, typed over both backends: eight std::threads released
// together race the operations whose atomicity the engine relies on (claim_dispatch, claim on
// one thread's queue, commit_run_append at one expected version, reclaim_expired_leases,
// dedupe-keyed enqueue, event appends). Racers only record what they saw; the assertions
// run on the test thread afterwards. Every loop stops after at most kBudget.
#include "store/store.hpp"
#include "tests/store/store_factories.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <latch>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace mbx::store_tests {
namespace {

constexpr int kRacers = 8;
constexpr auto kBudget = std::chrono::seconds(2);

// Runs body(racer index) on kRacers threads that start together.
void race(const std::function<void(int)>& body) {
  std::latch start(kRacers);
  std::vector<std::thread> racers;
  racers.reserve(kRacers);
  for (int i = 0; i < kRacers; ++i) {
    racers.emplace_back([&start, &body, i] {
      start.arrive_and_wait();
      body(i);
    });
  }
  for (auto& t : racers) t.join();
}

std::string consumer_of(int racer) { return "consumer-" + std::to_string(racer); }

template <class Factory>
class StoreConcurrency : public ::testing::Test {
protected:
  void SetUp() override {
    store_ = factory_.open();
    ASSERT_NE(store_, nullptr);
    deadline_ = std::chrono::steady_clock::now() + kBudget;
  }

  void TearDown() override {
    if (store_ == nullptr) return;
    auto problems = store_->verify();
    ASSERT_TRUE(is_ok(problems));
    std::string text;
    for (const auto& p : *problems) text += "\n  " + p;
    EXPECT_TRUE(problems->empty()) << "verify() found:" << text;
  }

  [[nodiscard]] bool in_budget() const { return std::chrono::steady_clock::now() < deadline_; }

  Factory factory_;
  std::unique_ptr<Store> store_;
  std::chrono::steady_clock::time_point deadline_;
};

TYPED_TEST_SUITE(StoreConcurrency, AllStoreFactories);

TYPED_TEST(StoreConcurrency, RacingClaimDispatchHasExactlyOneWinner) {
  auto& s = *this->store_;
  int rounds = 0;
  for (; rounds < 50 && this->in_budget(); ++rounds) {
    const std::string thread_id = "t-" + std::to_string(rounds);
    const std::string dispatch_id = "d-" + std::to_string(rounds);
    ASSERT_TRUE(is_ok(s.enqueue(make_dispatch(dispatch_id, thread_id), {})));
    std::mutex mu;
    std::vector<std::string> winners;
    std::vector<std::string> errors;
    race([&](int i) {
      auto r = s.claim_dispatch(dispatch_id, consumer_of(i), kLeaseMs, kT0);
      std::lock_guard<std::mutex> lock(mu);
      if (!r) {
        errors.push_back(describe(r.error()));
      } else if (r->has_value()) {
        winners.push_back(consumer_of(i));
      }
    });
    ASSERT_TRUE(errors.empty()) << "round " << rounds << ": " << errors.front();
    ASSERT_EQ(winners.size(), 1u) << "round " << rounds;
    auto stored = s.load_dispatch(dispatch_id);
    ASSERT_TRUE(is_ok(stored));
    ASSERT_TRUE(stored->has_value());
    EXPECT_EQ((*stored)->status, DispatchStatus::claimed);
    EXPECT_EQ((*stored)->claimed_by, winners.front());
  }
  EXPECT_GT(rounds, 0);
}

// One thread's queue of 10: whoever claims acks and the next claims; at no time two claims.
TYPED_TEST(StoreConcurrency, RacingClaimOnOneThreadProcessesEachDispatchOnce) {
  auto& s = *this->store_;
  constexpr int kQueued = 10;
  std::vector<std::string> all;
  for (int i = 0; i < kQueued; ++i) {
    all.push_back("d-" + std::to_string(10 + i));
    ASSERT_TRUE(is_ok(s.enqueue(make_dispatch(all.back(), "t-1", "r-" + std::to_string(i), kT0 + i), {})));
  }
  std::mutex mu;
  std::vector<std::string> processed;  // Guarded by mu.
  std::vector<std::string> problems;   // Guarded by mu.
  std::atomic<int> holding{0};
  std::atomic<int> done{0};
  race([&](int i) {
    auto note = [&](std::string what) {
      std::lock_guard<std::mutex> lock(mu);
      problems.push_back(std::move(what));
    };
    while (done.load() < kQueued && this->in_budget()) {
      auto claimed = s.claim("t-1", consumer_of(i), kLeaseMs, kT0 + 100, 4);
      if (!claimed) {
        note("claim: " + describe(claimed.error()));
        return;
      }
      if (claimed->empty()) {
        std::this_thread::yield();
        continue;
      }
      if (claimed->size() != 1) note("claim returned " + std::to_string(claimed->size()) + " dispatches");
      if (holding.fetch_add(1) != 0) note("two racers hold a claim on t-1 at once");
      auto listed = s.list_dispatches("t-1", {DispatchStatus::claimed}, 0, 10, false);
      if (!listed || listed->total != 1) note("the store does not show exactly one claimed dispatch");
      {
        std::lock_guard<std::mutex> lock(mu);
        processed.push_back(claimed->front().dispatch_id);
      }
      holding.fetch_sub(1);
      if (auto acked = s.ack(Fence::of(claimed->front()), kT0 + 101); !acked) note("ack: " + describe(acked.error()));
      done.fetch_add(1);
    }
  });
  for (const auto& p : problems) ADD_FAILURE() << p;
  std::sort(processed.begin(), processed.end());
  EXPECT_EQ(processed, all) << "each queued dispatch is processed exactly once";
  auto counts = s.count_dispatches_by_status();
  ASSERT_TRUE(is_ok(counts));
  EXPECT_EQ(*counts, (DispatchCounts{0, 0, static_cast<std::uint64_t>(kQueued), 0, 0, 0}));
}

TYPED_TEST(StoreConcurrency, RacingCommitRunAppendAtOneVersionHasOneWinner) {
  auto& s = *this->store_;
  std::uint64_t version = 0;
  for (; version < 20 && this->in_budget(); ++version) {
    std::mutex mu;
    std::vector<int> winners;
    std::vector<std::string> unexpected;
    int conflicts = 0;
    const std::string prefix = std::to_string(version) + "-";
    race([&](int i) {
      const RunRecord run = make_run("r-" + prefix + std::to_string(i), "t-1");
      auto r = s.commit_run_append("t-1", {user_message("m-" + prefix + std::to_string(i))}, version, run, nullptr,
                                   kT0);
      std::lock_guard<std::mutex> lock(mu);
      if (r) {
        winners.push_back(i);
        if (*r != version + 1) unexpected.push_back("returned version " + std::to_string(*r));
      } else if (r.error().code == Errc::conflict) {
        ++conflicts;
      } else {
        unexpected.push_back(describe(r.error()));
      }
    });
    for (const auto& u : unexpected) ADD_FAILURE() << "version " << version << ": " << u;
    ASSERT_EQ(winners.size(), 1u) << "version " << version;
    EXPECT_EQ(conflicts, kRacers - 1);
    auto log = s.load_committed_messages("t-1", version + 1, 0);
    ASSERT_TRUE(is_ok(log));
    ASSERT_EQ(log->size(), 1u) << "exactly one message appended at version " << version;
    EXPECT_EQ(log->front().seq, version + 1);
    EXPECT_EQ(log->front().message.id, "m-" + prefix + std::to_string(winners.front()));
    for (int i = 0; i < kRacers; ++i) {
      auto run = s.load_run("r-" + prefix + std::to_string(i));
      ASSERT_TRUE(is_ok(run));
      EXPECT_EQ(run->has_value(), i == winners.front()) << "a conflicting commit wrote its run";
    }
  }
  auto v = s.committed_version("t-1");
  ASSERT_TRUE(is_ok(v));
  EXPECT_EQ(*v, version);
}

TYPED_TEST(StoreConcurrency, RacingReclaimReportsEachExpiredLeaseOnce) {
  auto& s = *this->store_;
  constexpr int kClaimed = 24;
  std::vector<std::string> all;
  for (int i = 0; i < kClaimed; ++i) {
    const std::string thread_id = "t-" + std::to_string(10 + i);
    RunDispatch d = make_dispatch("d-" + std::to_string(10 + i), thread_id);
    if (i % 4 == 0) d.max_attempts = 1;  // these dead-letter instead
    all.push_back(d.dispatch_id);
    ASSERT_TRUE(is_ok(s.enqueue(d, {})));
    auto claimed = s.claim(thread_id, kConsumer, kLeaseMs, kT0, 1);
    ASSERT_TRUE(is_ok(claimed));
    ASSERT_EQ(claimed->size(), 1u);
  }
  const std::int64_t now = kT0 + kLeaseMs + 1;
  std::mutex mu;
  std::vector<std::string> reported;
  std::vector<std::string> errors;
  race([&](int) {
    while (this->in_budget()) {
      auto batch = s.reclaim_expired_leases(now, 5);
      std::lock_guard<std::mutex> lock(mu);
      if (!batch) {
        errors.push_back(describe(batch.error()));
        return;
      }
      if (batch->empty()) return;
      for (const auto& d : *batch) reported.push_back(d.dispatch_id);
    }
  });
  for (const auto& e : errors) ADD_FAILURE() << e;
  std::sort(reported.begin(), reported.end());
  std::sort(all.begin(), all.end());
  EXPECT_EQ(reported, all) << "every expired lease is reported exactly once";
  auto again = s.reclaim_expired_leases(now + 1, 100);
  ASSERT_TRUE(is_ok(again));
  EXPECT_TRUE(again->empty());
  auto counts = s.count_dispatches_by_status();
  ASSERT_TRUE(is_ok(counts));
  EXPECT_EQ(*counts, (DispatchCounts{18, 0, 0, 0, 0, 6}));
}

TYPED_TEST(StoreConcurrency, RacingEnqueueWithOneDedupeKeyHasOneWinner) {
  auto& s = *this->store_;
  std::mutex mu;
  std::vector<int> winners;
  std::vector<std::string> unexpected;
  race([&](int i) {
    RunDispatch d = make_dispatch("d-" + std::to_string(i), "t-1");
    d.dedupe_key = "same-key";
    auto r = s.enqueue(d, {});
    std::lock_guard<std::mutex> lock(mu);
    if (r) {
      winners.push_back(i);
    } else if (r.error().code != Errc::conflict) {
      unexpected.push_back(describe(r.error()));
    }
  });
  for (const auto& u : unexpected) ADD_FAILURE() << u;
  ASSERT_EQ(winners.size(), 1u);
  auto page = s.list_dispatches("t-1", {DispatchStatus::queued}, 0, 100, false);
  ASSERT_TRUE(is_ok(page));
  ASSERT_EQ(page->items.size(), 1u);
  EXPECT_EQ(page->items.front().dispatch_id, "d-" + std::to_string(winners.front()));
}

TYPED_TEST(StoreConcurrency, RacingAppendEventsGetDistinctConsecutiveSeqs) {
  auto& s = *this->store_;
  constexpr int kPerRacer = 50;
  std::mutex mu;
  std::vector<std::uint64_t> seqs;
  std::vector<std::string> errors;
  race([&](int i) {
    for (int n = 0; n < kPerRacer && this->in_budget(); ++n) {
      auto r = s.append_event("r-1", text_event("t-1", "r-1", std::to_string(i) + "/" + std::to_string(n)), nullptr);
      std::lock_guard<std::mutex> lock(mu);
      if (r) {
        seqs.push_back(r->seq);
      } else {
        errors.push_back(describe(r.error()));
      }
    }
  });
  for (const auto& e : errors) ADD_FAILURE() << e;
  std::sort(seqs.begin(), seqs.end());
  std::vector<std::uint64_t> expected(seqs.size());
  for (std::size_t k = 0; k < expected.size(); ++k) expected[k] = k + 1;
  EXPECT_EQ(seqs, expected) << "seqs are 1..n without gaps or duplicates";
  auto events = s.read_events("r-1", 0, 0);
  ASSERT_TRUE(is_ok(events));
  EXPECT_EQ(events->size(), seqs.size());
}

}  // namespace
}  // namespace mbx::store_tests
