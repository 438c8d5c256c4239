// StoreConformance: the contract suite of store/mailbox_store.hpp and
// store/thread_run_store.hpp, typed over a store factory (store_factories.hpp) and
// instantiated once per backend (memory_store_conformance_test.cpp,
// rocksdb_store_conformance_test.cpp). It covers awaken's mailbox conformance checklist
// (awaken-reference 6.1, C1-C35) adapted to our contract — fences instead of bare claim
// tokens, `fenced` / `not_found` errors, one claim per thread, queue bounds — and every
// ThreadRunStore operation. Each scenario ends with store->verify() reporting nothing.
// Times are fixed millisecond constants (kT0 + offsets); nothing reads the real clock.
#pragma once

#include "store/store.hpp"
#include "tests/messages/samples.hpp"
#include "tests/store/store_factories.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <source_location>
#include <string>
#include <vector>

namespace mbx::store_tests {

inline EnqueueOptions bounded_to(std::uint32_t max_queued_per_thread) {
  EnqueueOptions options;
  options.max_queued_per_thread = max_queued_per_thread;
  return options;
}

inline InlineClaim inline_claim_by(std::string consumer, bool only_if_no_queued) {
  InlineClaim claim;
  claim.consumer = std::move(consumer);
  claim.lease_ms = 30'000;
  claim.only_if_no_queued = only_if_no_queued;
  return claim;
}

// An inline claim by "consumer-a" that also starts run `run_id` of t-1 for `dispatch_id`.
inline InlineClaim inline_start_of(const std::string& run_id, const std::string& dispatch_id) {
  InlineClaim claim = inline_claim_by("consumer-a", false);
  claim.start_instance_id = "instance-1";
  claim.started_run = make_run(run_id, "t-1", RunStatus::running);
  claim.started_run->dispatch_id = dispatch_id;
  return claim;
}

// Everything a write on behalf of a dispatch could touch: the dispatch, its thread's committed
// log, its run record and the run's event log. Equal footprints = nothing was written.
struct Footprint {
  std::optional<RunDispatch> dispatch;
  std::uint64_t version = 0;
  std::vector<MessageRecord> messages;
  std::optional<RunRecord> run;
  std::vector<AgentEvent> events;

  friend bool operator==(const Footprint&, const Footprint&) = default;
};

inline void PrintTo(const Footprint& f, std::ostream* os) {
  *os << "\n  dispatch: " << ::testing::PrintToString(f.dispatch) << "\n  version: " << f.version
      << "\n  messages: " << ::testing::PrintToString(f.messages) << "\n  run: " << ::testing::PrintToString(f.run)
      << "\n  events: " << ::testing::PrintToString(f.events);
}

// The writes a running dispatch makes under its fence.
enum class FencedWrite : std::uint8_t {
  ack,
  nack,
  dead_letter,
  extend_lease,
  record_dispatch_start,
  record_run_result,
  commit_run_append,
  commit_run_step,
  append_event,
};

inline constexpr std::array<FencedWrite, 9> kAllFencedWrites{
    FencedWrite::ack,          FencedWrite::nack,         FencedWrite::dead_letter,
    FencedWrite::extend_lease, FencedWrite::record_dispatch_start, FencedWrite::record_run_result,
    FencedWrite::commit_run_append, FencedWrite::commit_run_step, FencedWrite::append_event};

[[nodiscard]] inline const char* name_of(FencedWrite w) {
  switch (w) {
    case FencedWrite::ack: return "ack";
    case FencedWrite::nack: return "nack";
    case FencedWrite::dead_letter: return "dead_letter";
    case FencedWrite::extend_lease: return "extend_lease";
    case FencedWrite::record_dispatch_start: return "record_dispatch_start";
    case FencedWrite::record_run_result: return "record_run_result";
    case FencedWrite::commit_run_append: return "commit_run_append";
    case FencedWrite::commit_run_step: return "commit_run_step";
    case FencedWrite::append_event: return "append_event";
  }
  return "?";
}

template <class T>
[[nodiscard]] Result<void> drop_value(const Result<T>& r) {
  if (!r) return r.error();
  return {};
}

[[nodiscard]] inline std::vector<std::string> ids_of(const std::vector<RunDispatch>& ds) {
  std::vector<std::string> out;
  for (const auto& d : ds) out.push_back(d.dispatch_id);
  return out;
}

[[nodiscard]] inline std::vector<std::string> run_ids_of(const std::vector<RunRecord>& rs) {
  std::vector<std::string> out;
  for (const auto& r : rs) out.push_back(r.run_id);
  return out;
}

[[nodiscard]] inline std::vector<std::uint64_t> seqs_of(const std::vector<MessageRecord>& rs) {
  std::vector<std::uint64_t> out;
  for (const auto& r : rs) out.push_back(r.seq);
  return out;
}

[[nodiscard]] inline std::vector<std::uint64_t> seqs_of(const std::vector<AgentEvent>& es) {
  std::vector<std::uint64_t> out;
  for (const auto& e : es) out.push_back(e.seq);
  return out;
}

// A dispatch as a claim leaves it: the claim fields set, nothing else changed.
[[nodiscard]] inline RunDispatch as_claimed(RunDispatch d, const std::string& consumer, const std::string& token,
                                            std::int64_t now_ms, std::int64_t lease_ms = kLeaseMs) {
  d.status = DispatchStatus::claimed;
  d.claim_token = token;
  d.claimed_by = consumer;
  d.lease_until = now_ms + lease_ms;
  d.updated_at = now_ms;
  return d;
}

// A dispatch as a stale-epoch supersede leaves it (claim and projection cleared).
[[nodiscard]] inline RunDispatch as_superseded(RunDispatch d, std::uint64_t epoch, const std::string& reason,
                                               std::int64_t now_ms) {
  d.status = DispatchStatus::superseded;
  d.dispatch_epoch = epoch;
  d.last_error = reason;
  d.claim_token.reset();
  d.claimed_by.reset();
  d.lease_until.reset();
  d.dispatch_instance_id.reset();
  d.run_status.reset();
  d.termination.reset();
  d.run_response.reset();
  d.run_error.reset();
  d.completed_at = now_ms;
  d.updated_at = now_ms;
  return d;
}

template <class Factory>
class StoreConformance : public ::testing::Test {
public:
  // The id of the thread's latest run, or "none".
  std::string latest_run_id(const std::string& thread_id) {
    auto r = store().latest_run(thread_id);
    if (!r || !*r) return "none";
    return (*r)->run_id;
  }

protected:
  using Loc = std::source_location;

  void SetUp() override {
    store_ = factory_.open();
    ASSERT_NE(store_, nullptr);
  }

  // Every scenario must leave a consistent store behind.
  void TearDown() override {
    if (store_ == nullptr) return;
    auto problems = store_->verify();
    ASSERT_TRUE(is_ok(problems));
    std::string text;
    for (const auto& p : *problems) text += "\n  " + p;
    EXPECT_TRUE(problems->empty()) << "verify() found:" << text;
  }

  Store& store() { return *store_; }

  // Enqueues `d` and returns it as stored (on error: a failure, and `d` itself).
  RunDispatch enqueue(const RunDispatch& d, const EnqueueOptions& options = {}, Loc loc = Loc::current()) {
    auto r = store_->enqueue(d, options);
    if (!r) {
      fail_at(loc, std::string("enqueue(") + d.dispatch_id + "): " + describe(r.error()));
      return d;
    }
    return *r;
  }

  // Claims the thread's next dispatch; a failure (and an empty record) if nothing was claimed.
  RunDispatch claim_one(const std::string& thread_id, std::int64_t now_ms = kT0,
                        const std::string& consumer = kConsumer, Loc loc = Loc::current()) {
    auto r = store_->claim(thread_id, consumer, kLeaseMs, now_ms, 1);
    if (!r) {
      fail_at(loc, std::string("claim(") + thread_id + "): " + describe(r.error()));
      return {};
    }
    if (r->size() != 1) {
      fail_at(loc, std::string("claim(") + thread_id + ") returned " + std::to_string(r->size()) +
                       " dispatches, expected 1");
      return {};
    }
    return r->front();
  }

  // Enqueues and claims `d` (the only dispatch of its thread) at `now`.
  RunDispatch enqueue_claimed(const RunDispatch& d, std::int64_t now_ms = kT0, Loc loc = Loc::current()) {
    enqueue(d, {}, loc);
    return claim_one(d.thread_id, now_ms, kConsumer, loc);
  }

  std::optional<RunDispatch> load(const std::string& dispatch_id, Loc loc = Loc::current()) {
    auto r = store_->load_dispatch(dispatch_id);
    if (!r) {
      fail_at(loc, std::string("load_dispatch(") + dispatch_id + "): " + describe(r.error()));
      return std::nullopt;
    }
    return *r;
  }

  std::optional<RunRecord> load_run(const std::string& run_id, Loc loc = Loc::current()) {
    auto r = store_->load_run(run_id);
    if (!r) {
      fail_at(loc, std::string("load_run(") + run_id + "): " + describe(r.error()));
      return std::nullopt;
    }
    return *r;
  }

  DispatchCounts counts(Loc loc = Loc::current()) {
    auto r = store_->count_dispatches_by_status();
    if (!r) {
      fail_at(loc, std::string("count_dispatches_by_status: ") + describe(r.error()));
      return {};
    }
    return *r;
  }

  // An unfenced commit that must succeed; returns the new version.
  std::uint64_t commit(const std::vector<Message>& messages, std::optional<std::uint64_t> expected_version,
                       const RunRecord& run, std::int64_t now_ms = kT0, Loc loc = Loc::current()) {
    auto r = store_->commit_run_append(run.thread_id, messages, expected_version, run, nullptr, now_ms);
    if (!r) {
      fail_at(loc, std::string("commit_run_append(") + run.thread_id + ", " + run.run_id + "): " + describe(r.error()));
      return 0;
    }
    return *r;
  }

  std::uint64_t version(const std::string& thread_id, Loc loc = Loc::current()) {
    auto r = store_->committed_version(thread_id);
    if (!r) {
      fail_at(loc, std::string("committed_version(") + thread_id + "): " + describe(r.error()));
      return 0;
    }
    return *r;
  }

  std::vector<MessageRecord> messages(const std::string& thread_id, Loc loc = Loc::current()) {
    auto r = store_->load_committed_messages(thread_id, 1, 0);
    if (!r) {
      fail_at(loc, std::string("load_committed_messages(") + thread_id + "): " + describe(r.error()));
      return {};
    }
    return *r;
  }

  std::vector<AgentEvent> events(const std::string& run_id, Loc loc = Loc::current()) {
    auto r = store_->read_events(run_id, 0, 0);
    if (!r) {
      fail_at(loc, std::string("read_events(") + run_id + "): " + describe(r.error()));
      return {};
    }
    return *r;
  }

  // Dispatch ids of the thread with one of `statuses`, in list order.
  std::vector<std::string> listed(const std::string& thread_id, const std::vector<DispatchStatus>& statuses,
                                  Loc loc = Loc::current()) {
    auto r = store_->list_dispatches(thread_id, statuses, 0, 1000, false);
    if (!r) {
      fail_at(loc, std::string("list_dispatches(") + thread_id + "): " + describe(r.error()));
      return {};
    }
    return ids_of(r->items);
  }

  Footprint footprint(const std::string& dispatch_id = "d-1", const std::string& thread_id = "t-1",
                      const std::string& run_id = "r-1", Loc loc = Loc::current()) {
    return Footprint{load(dispatch_id, loc), version(thread_id, loc), messages(thread_id, loc), load_run(run_id, loc),
                     events(run_id, loc)};
  }

  struct Scene {
    RunDispatch claimed;  // as started
    Fence fence;
  };

  // The state a running dispatch writes into: thread t-1 holds one committed message (m-1)
  // of run r-1 (Running); d-1 of r-1 is Claimed by consumer-a at kT0 (lease until
  // kT0 + kLeaseMs), started as "inst-1" at kT0 + 1; the run has one event (seq 1).
  Scene fenced_scene(Loc loc = Loc::current()) {
    commit({user_message("m-1")}, 0, make_run("r-1", "t-1", RunStatus::running), kT0, loc);
    const RunDispatch claimed = enqueue_claimed(make_dispatch("d-1", "t-1", "r-1"), kT0, loc);
    Scene scene{claimed, Fence::of(claimed)};
    auto started = store_->record_dispatch_start(scene.fence, "inst-1", kT0 + 1);
    if (!started) {
      fail_at(loc, std::string("record_dispatch_start: ") + describe(started.error()));
      return scene;
    }
    scene.claimed = *started;
    auto event = store_->append_event("r-1", text_event("t-1", "r-1", "first", kT0 + 2), &scene.fence);
    if (!event) fail_at(loc, std::string("append_event: ") + describe(event.error()));
    return scene;
  }

  // One fenced write of `op` on behalf of d-1 / r-1 (see fenced_scene) at `now`.
  Result<void> attempt(FencedWrite op, const Fence& fence, std::int64_t now_ms) {
    switch (op) {
      case FencedWrite::ack: return drop_value(store_->ack(fence, now_ms));
      case FencedWrite::nack: return drop_value(store_->nack(fence, now_ms + 1'000, "transient", now_ms));
      case FencedWrite::dead_letter: return drop_value(store_->dead_letter(fence, "fatal", now_ms));
      case FencedWrite::extend_lease: return drop_value(store_->extend_lease(fence, 60'000, now_ms));
      case FencedWrite::record_dispatch_start:
        return drop_value(store_->record_dispatch_start(fence, "inst-2", now_ms));
      case FencedWrite::record_run_result:
        return drop_value(store_->record_run_result(fence, done_result("r-1", "inst-1"), now_ms));
      case FencedWrite::commit_run_append: {
        RunRecord run = make_run("r-1", "t-1", RunStatus::running);
        run.steps = 1;
        run.updated_at = now_ms / 1000;
        return drop_value(store_->commit_run_append("t-1", {assistant_message("m-2")}, 1, run, &fence, now_ms));
      }
      case FencedWrite::commit_run_step: {
        RunRecord run = make_run("r-1", "t-1", RunStatus::done);
        run.updated_at = now_ms / 1000;
        DispatchStep step;
        step.kind = DispatchStep::Kind::ack;
        step.result = done_result("r-1", "inst-1");
        step.event = text_event("t-1", "r-1", "the end", now_ms);  // refused with the rest
        return drop_value(
            store_->commit_run_step("t-1", {assistant_message("m-2")}, 1, run, fence, step, now_ms));
      }
      case FencedWrite::append_event:
        return drop_value(store_->append_event("r-1", text_event("t-1", "r-1", "late", now_ms), &fence));
    }
    return internal_error("unknown fenced write");
  }

  // (a) A fence with another claim token is refused and writes nothing.
  void check_stale_token(FencedWrite op) {
    const Scene scene = fenced_scene();
    const Fence stale{scene.fence.dispatch_id, "stale-token", scene.fence.epoch};
    const Footprint before = footprint();
    EXPECT_TRUE(fails_with(attempt(op, stale, kT0 + 100), Errc::fenced)) << name_of(op);
    EXPECT_EQ(footprint(), before) << name_of(op) << " wrote through a stale claim token";
  }

  // (b) After an interrupt the owner's fence is behind the thread's epoch: refused, and the
  // store releases the stale claim (Superseded at the new epoch) — its only write.
  void check_after_interrupt(FencedWrite op) {
    const Scene scene = fenced_scene();
    auto interrupted = store_->interrupt("t-1", kT0 + 50);
    ASSERT_TRUE(is_ok(interrupted));
    ASSERT_TRUE(interrupted->active_dispatch.has_value());
    EXPECT_EQ(*interrupted->active_dispatch, scene.claimed);
    const Footprint before = footprint();
    constexpr std::int64_t kNow = kT0 + 100;
    EXPECT_TRUE(fails_with(attempt(op, scene.fence, kNow), Errc::fenced)) << name_of(op);
    Footprint expected = before;
    expected.dispatch = as_superseded(scene.claimed, interrupted->new_epoch, kReasonClaimedStaleEpoch, kNow);
    EXPECT_EQ(footprint(), expected) << name_of(op) << " after an interrupt";
  }

  // (c) After the lease was reclaimed — while Queued again, and once another consumer holds
  // it — the old owner's writes are refused and write nothing.
  void check_after_reclaim(FencedWrite op) {
    const Scene scene = fenced_scene();
    const std::int64_t expired = *scene.claimed.lease_until + 1;
    auto reclaimed = store_->reclaim_expired_leases(expired, 10);
    ASSERT_TRUE(is_ok(reclaimed));
    ASSERT_EQ(ids_of(*reclaimed), std::vector<std::string>{"d-1"});
    Footprint before = footprint();
    EXPECT_TRUE(fails_with(attempt(op, scene.fence, expired + 1), Errc::fenced)) << name_of(op) << " while requeued";
    EXPECT_EQ(footprint(), before) << name_of(op) << " wrote after its lease was reclaimed";

    const RunDispatch reclaimed_by_other = claim_one("t-1", expired + 2, kOtherConsumer);
    ASSERT_EQ(reclaimed_by_other.dispatch_id, "d-1");
    before = footprint();
    EXPECT_TRUE(fails_with(attempt(op, scene.fence, expired + 3), Errc::fenced)) << name_of(op) << " after reclaim";
    EXPECT_EQ(footprint(), before) << name_of(op) << " wrote over the new owner's claim";
  }

  Factory factory_;
  std::unique_ptr<Store> store_;

private:
  // A failure reported at the calling test's line.
  static void fail_at(const Loc& loc, const std::string& what) {
    ADD_FAILURE_AT(loc.file_name(), static_cast<int>(loc.line())) << what;
  }
};

TYPED_TEST_SUITE_P(StoreConformance);

// ---- enqueue ---------------------------------------------------------------------------------

// C1: an enqueued dispatch is stored and listed as Queued, every queue field kept, the epoch
// stamped by the store.
TYPED_TEST_P(StoreConformance, EnqueueStoresQueuedRecordStampedWithThreadEpoch) {
  auto& s = this->store();
  RunDispatch d = make_dispatch("d-1");
  d.dispatch_epoch = 7;  // whatever the caller says, the store stamps the thread's epoch
  d.priority = 3;
  d.dedupe_key = "key-1";
  d.available_at = kT0 + 500;
  d.attempt_count = 1;
  d.max_attempts = 4;
  d.last_error = "earlier failure";
  d.updated_at = kT0 + 1;
  auto stored = s.enqueue(d, {});
  ASSERT_TRUE(is_ok(stored));
  RunDispatch expected = d;
  expected.dispatch_epoch = 0;
  EXPECT_EQ(*stored, expected);
  EXPECT_EQ(this->load("d-1"), expected);
  auto page = s.list_dispatches("t-1", {DispatchStatus::queued}, 0, 10, false);
  ASSERT_TRUE(is_ok(page));
  EXPECT_EQ(page->items, std::vector<RunDispatch>{expected});
  EXPECT_EQ(page->total, 1u);
  EXPECT_EQ(this->counts(), (DispatchCounts{1, 0, 0, 0, 0, 0}));
}

TYPED_TEST_P(StoreConformance, EnqueueAfterInterruptGetsNewEpochAndIsClaimable) {
  auto& s = this->store();
  auto interrupted = s.interrupt("t-1", kT0);
  ASSERT_TRUE(is_ok(interrupted));
  EXPECT_EQ(interrupted->new_epoch, 1u);
  const RunDispatch stored = this->enqueue(make_dispatch("d-1", "t-1", "r-1", kT0 + 1));
  EXPECT_EQ(stored.dispatch_epoch, 1u);
  auto claimed = s.claim("t-1", kConsumer, kLeaseMs, kT0 + 2, 1);
  ASSERT_TRUE(is_ok(claimed));
  ASSERT_EQ(ids_of(*claimed), std::vector<std::string>{"d-1"});
  EXPECT_EQ(claimed->front().dispatch_epoch, 1u);
  auto acked = s.ack(Fence::of(claimed->front()), kT0 + 3);
  ASSERT_TRUE(is_ok(acked));
  EXPECT_EQ(acked->status, DispatchStatus::acked);
}

TYPED_TEST_P(StoreConformance, EnqueueRejectsDuplicateDispatchIdWithConflict) {
  auto& s = this->store();
  const RunDispatch first = this->enqueue(make_dispatch("d-1", "t-1"));
  EXPECT_TRUE(fails_with(s.enqueue(make_dispatch("d-1", "t-2", "r-other", kT0 + 5), {}), Errc::conflict));
  EXPECT_EQ(this->load("d-1"), first);
  EXPECT_TRUE(this->listed("t-2", {DispatchStatus::queued}).empty());
  EXPECT_EQ(this->counts(), (DispatchCounts{1, 0, 0, 0, 0, 0}));
}

TYPED_TEST_P(StoreConformance, EnqueueRejectsIdOfTerminalDispatchWithConflict) {
  auto& s = this->store();
  this->enqueue(make_dispatch("d-1"));
  auto cancelled = s.cancel("d-1", kT0 + 1);
  ASSERT_TRUE(is_ok(cancelled));
  ASSERT_TRUE(cancelled->has_value());
  EXPECT_TRUE(fails_with(s.enqueue(make_dispatch("d-1"), {}), Errc::conflict));
  EXPECT_EQ(this->load("d-1"), **cancelled);
}

TYPED_TEST_P(StoreConformance, EnqueueRejectsInvalidRecordsWithValidation) {
  auto& s = this->store();
  RunDispatch claimed = make_dispatch("d-1");
  ASSERT_TRUE(is_ok(claimed.claim(kConsumer, "token", kT0 + kLeaseMs, kT0)));
  EXPECT_TRUE(fails_with(s.enqueue(claimed, {}), Errc::validation));
  RunDispatch with_token = make_dispatch("d-2");
  with_token.claim_token = "token";
  EXPECT_TRUE(fails_with(s.enqueue(with_token, {}), Errc::validation));
  RunDispatch with_projection = make_dispatch("d-3");
  with_projection.run_status = RunStatus::running;
  EXPECT_TRUE(fails_with(s.enqueue(with_projection, {}), Errc::validation));
  EXPECT_TRUE(fails_with(s.enqueue(make_dispatch("d-4", " "), {}), Errc::validation));
  EXPECT_TRUE(fails_with(s.enqueue(make_dispatch(""), {}), Errc::validation));
  RunDispatch no_attempts = make_dispatch("d-5");
  no_attempts.max_attempts = 0;
  EXPECT_TRUE(fails_with(s.enqueue(no_attempts, {}), Errc::validation));
  for (const char* id : {"d-1", "d-2", "d-3", "d-4", "d-5"}) EXPECT_EQ(this->load(id), std::nullopt) << id;
  EXPECT_EQ(this->counts(), (DispatchCounts{}));
}

// C22: a dedupe key held by a non-terminal dispatch of the thread.
TYPED_TEST_P(StoreConformance, EnqueueRejectsDedupeKeyHeldByQueuedDispatch) {
  auto& s = this->store();
  RunDispatch first = make_dispatch("d-1");
  first.dedupe_key = "key";
  this->enqueue(first);
  RunDispatch second = make_dispatch("d-2");
  second.dedupe_key = "key";
  EXPECT_TRUE(fails_with(s.enqueue(second, {}), Errc::conflict));
  EXPECT_EQ(this->load("d-2"), std::nullopt);
  EXPECT_EQ(this->listed("t-1", {DispatchStatus::queued}), std::vector<std::string>{"d-1"});
}

TYPED_TEST_P(StoreConformance, EnqueueRejectsDedupeKeyHeldByClaimedDispatch) {
  auto& s = this->store();
  RunDispatch first = make_dispatch("d-1");
  first.dedupe_key = "key";
  this->enqueue_claimed(first);
  RunDispatch second = make_dispatch("d-2");
  second.dedupe_key = "key";
  EXPECT_TRUE(fails_with(s.enqueue(second, {}), Errc::conflict));
  EXPECT_EQ(this->load("d-2"), std::nullopt);
}

TYPED_TEST_P(StoreConformance, EnqueueAcceptsDedupeKeyHeldOnAnotherThread) {
  auto& s = this->store();
  RunDispatch first = make_dispatch("d-1", "t-1");
  first.dedupe_key = "key";
  this->enqueue(first);
  RunDispatch second = make_dispatch("d-2", "t-2");
  second.dedupe_key = "key";
  EXPECT_TRUE(is_ok(s.enqueue(second, {})));
  EXPECT_EQ(this->counts(), (DispatchCounts{2, 0, 0, 0, 0, 0}));
}

TYPED_TEST_P(StoreConformance, EnqueueReusesDedupeKeyOnceHolderIsTerminal) {
  auto& s = this->store();
  RunDispatch first = make_dispatch("d-1");
  first.dedupe_key = "key";
  const RunDispatch claimed = this->enqueue_claimed(first);
  ASSERT_TRUE(is_ok(s.ack(Fence::of(claimed), kT0 + 1)));
  RunDispatch second = make_dispatch("d-2");
  second.dedupe_key = "key";
  ASSERT_TRUE(is_ok(s.enqueue(second, {})));
  auto cancelled = s.cancel("d-2", kT0 + 2);
  ASSERT_TRUE(is_ok(cancelled));
  ASSERT_TRUE(cancelled->has_value());
  RunDispatch third = make_dispatch("d-3");
  third.dedupe_key = "key";
  EXPECT_TRUE(is_ok(s.enqueue(third, {})));
  EXPECT_EQ(this->listed("t-1", {DispatchStatus::queued}), std::vector<std::string>{"d-3"});
}

TYPED_TEST_P(StoreConformance, EnqueuePastQueueBoundIsQueueFull) {
  auto& s = this->store();
  const EnqueueOptions bounded = bounded_to(2);
  ASSERT_TRUE(is_ok(s.enqueue(make_dispatch("d-1"), bounded)));
  ASSERT_TRUE(is_ok(s.enqueue(make_dispatch("d-2"), bounded)));
  EXPECT_TRUE(fails_with(s.enqueue(make_dispatch("d-3"), bounded), Errc::queue_full));
  EXPECT_EQ(this->load("d-3"), std::nullopt);
  // The bound is per thread.
  EXPECT_TRUE(is_ok(s.enqueue(make_dispatch("d-4", "t-2"), bounded)));
  // A claimed dispatch is no longer queued.
  EXPECT_EQ(this->claim_one("t-1").dispatch_id, "d-1");
  EXPECT_TRUE(is_ok(s.enqueue(make_dispatch("d-3"), bounded)));
  EXPECT_TRUE(fails_with(s.enqueue(make_dispatch("d-5"), bounded), Errc::queue_full));
  EXPECT_EQ(this->listed("t-1", {DispatchStatus::queued}), (std::vector<std::string>{"d-2", "d-3"}));
}

TYPED_TEST_P(StoreConformance, EnqueueWithoutBoundAcceptsManyPerThread) {
  auto& s = this->store();
  for (int i = 0; i < 50; ++i) {
    const auto id = "d-" + std::to_string(100 + i);
    ASSERT_TRUE(is_ok(s.enqueue(make_dispatch(id), EnqueueOptions{})));
  }
  EXPECT_EQ(count_of(this->counts(), DispatchStatus::queued), 50u);
}

// ---- claim -----------------------------------------------------------------------------------

// C2
TYPED_TEST_P(StoreConformance, ClaimReturnsQueuedDispatchAsClaimed) {
  auto& s = this->store();
  const RunDispatch queued = this->enqueue(make_dispatch("d-1"));
  auto claimed = s.claim("t-1", kConsumer, kLeaseMs, kT0 + 10, 1);
  ASSERT_TRUE(is_ok(claimed));
  ASSERT_EQ(claimed->size(), 1u);
  const RunDispatch& c = claimed->front();
  ASSERT_TRUE(c.claim_token.has_value());
  EXPECT_FALSE(c.claim_token->empty());
  EXPECT_EQ(c, as_claimed(queued, kConsumer, *c.claim_token, kT0 + 10));
  EXPECT_EQ(this->load("d-1"), c);
  EXPECT_EQ(this->counts(), (DispatchCounts{0, 1, 0, 0, 0, 0}));
}

TYPED_TEST_P(StoreConformance, ClaimMintsNewTokenPerClaim) {
  auto& s = this->store();
  const RunDispatch first = this->enqueue_claimed(make_dispatch("d-1"));
  ASSERT_TRUE(is_ok(s.nack(Fence::of(first), kT0 + 1, "retry", kT0 + 1)));
  const RunDispatch second = this->claim_one("t-1", kT0 + 2);
  ASSERT_EQ(second.dispatch_id, "d-1");
  EXPECT_NE(second.claim_token, first.claim_token);
  EXPECT_TRUE(fails_with(s.ack(Fence::of(first), kT0 + 3), Errc::fenced));
  EXPECT_TRUE(is_ok(s.ack(Fence::of(second), kT0 + 3)));
}

TYPED_TEST_P(StoreConformance, ClaimOnUnknownThreadReturnsNothing) {
  auto claimed = this->store().claim("t-unknown", kConsumer, kLeaseMs, kT0, 1);
  ASSERT_TRUE(is_ok(claimed));
  EXPECT_TRUE(claimed->empty());
}

// C3: available_at <= now is claimable; a future one is not.
TYPED_TEST_P(StoreConformance, ClaimRespectsAvailableAt) {
  auto& s = this->store();
  RunDispatch delayed = make_dispatch("d-1");
  delayed.available_at = kT0 + 1'000;
  this->enqueue(delayed);
  for (const std::int64_t now : {kT0, kT0 + 999}) {
    auto early = s.claim("t-1", kConsumer, kLeaseMs, now, 1);
    ASSERT_TRUE(is_ok(early));
    EXPECT_TRUE(early->empty()) << "claimed at " << now;
  }
  EXPECT_EQ(this->load("d-1")->status, DispatchStatus::queued);
  EXPECT_EQ(this->claim_one("t-1", kT0 + 1'000).dispatch_id, "d-1");
}

// C4: priority wins over an older created_at.
TYPED_TEST_P(StoreConformance, ClaimOrdersByPriorityFirst) {
  RunDispatch old_low = make_dispatch("d-old", "t-1", "r-1", kT0);
  old_low.priority = 200;
  RunDispatch new_high = make_dispatch("d-new", "t-1", "r-2", kT0 + 5);
  new_high.priority = 10;
  this->enqueue(old_low);
  this->enqueue(new_high);
  EXPECT_EQ(this->claim_one("t-1", kT0 + 10).dispatch_id, "d-new");
}

TYPED_TEST_P(StoreConformance, ClaimOrdersByAvailableAtBeforeCreatedAt) {
  auto& s = this->store();
  RunDispatch older = make_dispatch("d-older", "t-1", "r-1", kT0);
  older.available_at = kT0 + 50;  // e.g. a nack retry
  RunDispatch newer = make_dispatch("d-newer", "t-1", "r-2", kT0 + 10);
  this->enqueue(older);
  this->enqueue(newer);
  const RunDispatch first = this->claim_one("t-1", kT0 + 100);
  EXPECT_EQ(first.dispatch_id, "d-newer");
  ASSERT_TRUE(is_ok(s.ack(Fence::of(first), kT0 + 101)));
  EXPECT_EQ(this->claim_one("t-1", kT0 + 102).dispatch_id, "d-older");
}

// C35: equal priority: oldest created_at first.
TYPED_TEST_P(StoreConformance, ClaimIsFifoWithinSamePriority) {
  auto& s = this->store();
  this->enqueue(make_dispatch("d-a", "t-1", "r-1", kT0 + 2));
  this->enqueue(make_dispatch("d-b", "t-1", "r-2", kT0 + 1));
  this->enqueue(make_dispatch("d-c", "t-1", "r-3", kT0 + 3));
  std::vector<std::string> order;
  for (int i = 0; i < 3; ++i) {
    const RunDispatch c = this->claim_one("t-1", kT0 + 10 + i);
    order.push_back(c.dispatch_id);
    ASSERT_TRUE(is_ok(s.ack(Fence::of(c), kT0 + 10 + i)));
  }
  EXPECT_EQ(order, (std::vector<std::string>{"d-b", "d-a", "d-c"}));
}

TYPED_TEST_P(StoreConformance, ClaimBreaksFullTiesByDispatchId) {
  this->enqueue(make_dispatch("d-b", "t-1", "r-1", kT0));
  this->enqueue(make_dispatch("d-a", "t-1", "r-2", kT0));
  EXPECT_EQ(this->claim_one("t-1", kT0).dispatch_id, "d-a");
}

TYPED_TEST_P(StoreConformance, ClaimReturnsAtMostOneEvenWithLargerLimit) {
  auto& s = this->store();
  for (const char* id : {"d-1", "d-2", "d-3"}) this->enqueue(make_dispatch(id));
  auto claimed = s.claim("t-1", kConsumer, kLeaseMs, kT0, 10);
  ASSERT_TRUE(is_ok(claimed));
  EXPECT_EQ(ids_of(*claimed), std::vector<std::string>{"d-1"});
  EXPECT_EQ(this->counts(), (DispatchCounts{2, 1, 0, 0, 0, 0}));
}

// C5: a thread never has two Claimed dispatches.
TYPED_TEST_P(StoreConformance, ClaimKeepsThreadExclusive) {
  auto& s = this->store();
  this->enqueue(make_dispatch("d-1", "t-1", "r-1", kT0));
  this->enqueue(make_dispatch("d-2", "t-1", "r-2", kT0 + 1));
  const RunDispatch first = this->claim_one("t-1", kT0 + 5);
  ASSERT_EQ(first.dispatch_id, "d-1");
  auto again = s.claim("t-1", kOtherConsumer, kLeaseMs, kT0 + 6, 5);
  ASSERT_TRUE(is_ok(again));
  EXPECT_TRUE(again->empty());
  EXPECT_EQ(this->load("d-2")->status, DispatchStatus::queued);
  ASSERT_TRUE(is_ok(s.ack(Fence::of(first), kT0 + 7)));
  EXPECT_EQ(this->claim_one("t-1", kT0 + 8, kOtherConsumer).dispatch_id, "d-2");
}

TYPED_TEST_P(StoreConformance, ClaimOnOneThreadDoesNotBlockAnother) {
  this->enqueue(make_dispatch("d-1", "t-1"));
  this->enqueue(make_dispatch("d-2", "t-2"));
  EXPECT_EQ(this->claim_one("t-1").dispatch_id, "d-1");
  EXPECT_EQ(this->claim_one("t-2").dispatch_id, "d-2");
  EXPECT_EQ(this->counts(), (DispatchCounts{0, 2, 0, 0, 0, 0}));
}

TYPED_TEST_P(StoreConformance, ClaimAfterInterruptSkipsSupersededAndTakesNewWork) {
  auto& s = this->store();
  this->enqueue(make_dispatch("d-old", "t-1", "r-1", kT0));
  ASSERT_TRUE(is_ok(s.interrupt("t-1", kT0 + 1)));
  this->enqueue(make_dispatch("d-new", "t-1", "r-2", kT0 + 2));
  const RunDispatch claimed = this->claim_one("t-1", kT0 + 3);
  EXPECT_EQ(claimed.dispatch_id, "d-new");
  EXPECT_EQ(claimed.dispatch_epoch, 1u);
  EXPECT_EQ(this->load("d-old")->status, DispatchStatus::superseded);
}

// ---- claim_dispatch --------------------------------------------------------------------------

// C30
TYPED_TEST_P(StoreConformance, ClaimDispatchClaimsTheNamedDispatch) {
  auto& s = this->store();
  RunDispatch better = make_dispatch("d-1", "t-1", "r-1", kT0);
  better.priority = 0;
  this->enqueue(better);
  const RunDispatch named = this->enqueue(make_dispatch("d-2", "t-1", "r-2", kT0 + 1));
  auto claimed = s.claim_dispatch("d-2", kConsumer, kLeaseMs, kT0 + 10);
  ASSERT_TRUE(is_ok(claimed));
  ASSERT_TRUE(claimed->has_value());
  const RunDispatch& c = **claimed;
  ASSERT_TRUE(c.claim_token.has_value());
  EXPECT_EQ(c, as_claimed(named, kConsumer, *c.claim_token, kT0 + 10));
  EXPECT_EQ(this->load("d-2"), c);
  EXPECT_EQ(this->load("d-1")->status, DispatchStatus::queued);
}

// C31: the inline path claims a dispatch it wrote with a future available_at.
TYPED_TEST_P(StoreConformance, ClaimDispatchIgnoresAvailableAt) {
  auto& s = this->store();
  RunDispatch guarded = make_dispatch("d-1");
  guarded.available_at = kT0 + 60'000;
  this->enqueue(guarded);
  auto by_queue = s.claim("t-1", kConsumer, kLeaseMs, kT0, 1);
  ASSERT_TRUE(is_ok(by_queue));
  EXPECT_TRUE(by_queue->empty());
  auto by_id = s.claim_dispatch("d-1", kConsumer, kLeaseMs, kT0);
  ASSERT_TRUE(is_ok(by_id));
  ASSERT_TRUE(by_id->has_value());
  EXPECT_EQ((*by_id)->status, DispatchStatus::claimed);
  EXPECT_EQ((*by_id)->lease_until, kT0 + kLeaseMs);
}

TYPED_TEST_P(StoreConformance, ClaimDispatchReturnsNoneForUnknownOrNotQueued) {
  auto& s = this->store();
  auto unknown = s.claim_dispatch("d-unknown", kConsumer, kLeaseMs, kT0);
  ASSERT_TRUE(is_ok(unknown));
  EXPECT_FALSE(unknown->has_value());

  const RunDispatch claimed = this->enqueue_claimed(make_dispatch("d-1", "t-1"));
  auto again = s.claim_dispatch("d-1", kOtherConsumer, kLeaseMs, kT0 + 1);
  ASSERT_TRUE(is_ok(again));
  EXPECT_FALSE(again->has_value());
  EXPECT_EQ(this->load("d-1"), claimed);

  ASSERT_TRUE(is_ok(s.ack(Fence::of(claimed), kT0 + 2)));
  auto acked = s.claim_dispatch("d-1", kConsumer, kLeaseMs, kT0 + 3);
  ASSERT_TRUE(is_ok(acked));
  EXPECT_FALSE(acked->has_value());
  EXPECT_EQ(this->load("d-1")->status, DispatchStatus::acked);

  this->enqueue(make_dispatch("d-2", "t-2"));
  ASSERT_TRUE(is_ok(s.cancel("d-2", kT0 + 4)));
  auto cancelled = s.claim_dispatch("d-2", kConsumer, kLeaseMs, kT0 + 5);
  ASSERT_TRUE(is_ok(cancelled));
  EXPECT_FALSE(cancelled->has_value());
  EXPECT_EQ(this->load("d-2")->status, DispatchStatus::cancelled);
}

TYPED_TEST_P(StoreConformance, ClaimDispatchReturnsNoneWhileThreadHasAClaim) {
  auto& s = this->store();
  this->enqueue_claimed(make_dispatch("d-1"));
  const RunDispatch waiting = this->enqueue(make_dispatch("d-2", "t-1", "r-2", kT0 + 1));
  auto lost = s.claim_dispatch("d-2", kOtherConsumer, kLeaseMs, kT0 + 2);
  ASSERT_TRUE(is_ok(lost));
  EXPECT_FALSE(lost->has_value());
  EXPECT_EQ(this->load("d-2"), waiting);
}

TYPED_TEST_P(StoreConformance, ClaimDispatchOfSupersededDispatchReturnsNone) {
  auto& s = this->store();
  this->enqueue(make_dispatch("d-1"));
  ASSERT_TRUE(is_ok(s.interrupt("t-1", kT0 + 1)));
  const auto superseded = this->load("d-1");
  auto claimed = s.claim_dispatch("d-1", kConsumer, kLeaseMs, kT0 + 2);
  ASSERT_TRUE(is_ok(claimed));
  EXPECT_FALSE(claimed->has_value());
  EXPECT_EQ(this->load("d-1"), superseded);
}

// ---- queued_thread_ids / next_available_at ---------------------------------------------------

// C27: threads with claimable work now, sorted.
TYPED_TEST_P(StoreConformance, QueuedThreadIdsListsThreadsWithClaimableWork) {
  auto& s = this->store();
  this->enqueue(make_dispatch("d-b", "t-b"));
  this->enqueue(make_dispatch("d-a", "t-a"));
  RunDispatch future = make_dispatch("d-c", "t-c");
  future.available_at = kT0 + 5'000;
  this->enqueue(future);
  this->enqueue_claimed(make_dispatch("d-d1", "t-d"));
  this->enqueue(make_dispatch("d-d2", "t-d", "r-d2", kT0 + 1));
  const RunDispatch done = this->enqueue_claimed(make_dispatch("d-e", "t-e"));
  ASSERT_TRUE(is_ok(s.ack(Fence::of(done), kT0 + 1)));

  auto now = s.queued_thread_ids(kT0 + 10, 100);
  ASSERT_TRUE(is_ok(now));
  EXPECT_EQ(*now, (std::vector<std::string>{"t-a", "t-b"}));
  auto later = s.queued_thread_ids(kT0 + 5'000, 100);
  ASSERT_TRUE(is_ok(later));
  EXPECT_EQ(*later, (std::vector<std::string>{"t-a", "t-b", "t-c"}));
}

TYPED_TEST_P(StoreConformance, QueuedThreadIdsIncludesThreadOnceItsClaimEnds) {
  auto& s = this->store();
  const RunDispatch claimed = this->enqueue_claimed(make_dispatch("d-1"));
  this->enqueue(make_dispatch("d-2", "t-1", "r-2", kT0 + 1));
  auto busy = s.queued_thread_ids(kT0 + 2, 100);
  ASSERT_TRUE(is_ok(busy));
  EXPECT_TRUE(busy->empty());
  ASSERT_TRUE(is_ok(s.ack(Fence::of(claimed), kT0 + 3)));
  auto idle = s.queued_thread_ids(kT0 + 4, 100);
  ASSERT_TRUE(is_ok(idle));
  EXPECT_EQ(*idle, std::vector<std::string>{"t-1"});
}

TYPED_TEST_P(StoreConformance, QueuedThreadIdsHonoursLimit) {
  auto& s = this->store();
  for (const char* t : {"t-c", "t-a", "t-b"}) this->enqueue(make_dispatch(std::string("d-") + t, t));
  auto two = s.queued_thread_ids(kT0, 2);
  ASSERT_TRUE(is_ok(two));
  EXPECT_EQ(*two, (std::vector<std::string>{"t-a", "t-b"}));
  auto one = s.queued_thread_ids(kT0, 1);
  ASSERT_TRUE(is_ok(one));
  EXPECT_EQ(*one, std::vector<std::string>{"t-a"});
}

TYPED_TEST_P(StoreConformance, NextAvailableAtIsEarliestFutureQueuedDispatch) {
  auto& s = this->store();
  auto empty = s.next_available_at(kT0);
  ASSERT_TRUE(is_ok(empty));
  EXPECT_EQ(*empty, std::nullopt);

  this->enqueue(make_dispatch("d-now", "t-1"));
  RunDispatch in5 = make_dispatch("d-5", "t-1", "r-5");
  in5.available_at = kT0 + 5'000;
  RunDispatch in3 = make_dispatch("d-3", "t-2", "r-3");
  in3.available_at = kT0 + 3'000;
  this->enqueue(in5);
  this->enqueue(in3);

  auto next = s.next_available_at(kT0);
  ASSERT_TRUE(is_ok(next));
  EXPECT_EQ(*next, kT0 + 3'000);
  auto after3 = s.next_available_at(kT0 + 3'000);  // strictly later than now
  ASSERT_TRUE(is_ok(after3));
  EXPECT_EQ(*after3, kT0 + 5'000);
  ASSERT_TRUE(is_ok(s.cancel("d-5", kT0 + 1)));
  auto none = s.next_available_at(kT0 + 3'000);
  ASSERT_TRUE(is_ok(none));
  EXPECT_EQ(*none, std::nullopt);
}

TYPED_TEST_P(StoreConformance, NextAvailableAtReportsNackRetry) {
  auto& s = this->store();
  const RunDispatch claimed = this->enqueue_claimed(make_dispatch("d-1"));
  ASSERT_TRUE(is_ok(s.nack(Fence::of(claimed), kT0 + 2'000, "transient", kT0 + 10)));
  auto next = s.next_available_at(kT0 + 10);
  ASSERT_TRUE(is_ok(next));
  EXPECT_EQ(*next, kT0 + 2'000);
}

// ---- ack / nack / dead_letter ------------------------------------------------------------------

// C7: Acked, claim cleared, the run result projection kept.
TYPED_TEST_P(StoreConformance, AckTransitionsToAckedKeepingProjection) {
  auto& s = this->store();
  const RunDispatch claimed = this->enqueue_claimed(make_dispatch("d-1", "t-1", "r-1"));
  const Fence fence = Fence::of(claimed);
  ASSERT_TRUE(is_ok(s.record_dispatch_start(fence, "inst-1", kT0 + 1)));
  auto with_result = s.record_run_result(fence, done_result("r-1", "inst-1"), kT0 + 2);
  ASSERT_TRUE(is_ok(with_result));
  auto acked = s.ack(fence, kT0 + 100);
  ASSERT_TRUE(is_ok(acked));
  RunDispatch expected = *with_result;
  expected.status = DispatchStatus::acked;
  expected.claim_token.reset();
  expected.claimed_by.reset();
  expected.lease_until.reset();
  expected.completed_at = kT0 + 100;
  expected.updated_at = kT0 + 100;
  EXPECT_EQ(*acked, expected);
  EXPECT_EQ(this->load("d-1"), expected);
}

TYPED_TEST_P(StoreConformance, AckTwiceIsFenced) {
  auto& s = this->store();
  const RunDispatch claimed = this->enqueue_claimed(make_dispatch("d-1"));
  auto acked = s.ack(Fence::of(claimed), kT0 + 1);
  ASSERT_TRUE(is_ok(acked));
  EXPECT_TRUE(fails_with(s.ack(Fence::of(claimed), kT0 + 2), Errc::fenced));
  EXPECT_EQ(this->load("d-1"), *acked);
}

// C9: Queued again at retry_at with attempt+1; claim and start projection cleared.
TYPED_TEST_P(StoreConformance, NackReturnsToQueuedWithBackoff) {
  auto& s = this->store();
  const RunDispatch claimed = this->enqueue_claimed(make_dispatch("d-1", "t-1", "r-1"));
  const Fence fence = Fence::of(claimed);
  ASSERT_TRUE(is_ok(s.record_dispatch_start(fence, "inst-1", kT0 + 1)));
  auto nacked = s.nack(fence, kT0 + 5'000, "transient failure", kT0 + 100);
  ASSERT_TRUE(is_ok(nacked));
  RunDispatch expected = make_dispatch("d-1", "t-1", "r-1");
  expected.attempt_count = 1;
  expected.available_at = kT0 + 5'000;
  expected.last_error = "transient failure";
  expected.updated_at = kT0 + 100;
  EXPECT_EQ(*nacked, expected);
  EXPECT_EQ(this->load("d-1"), expected);
}

TYPED_TEST_P(StoreConformance, NackedDispatchIsClaimableOnlyFromRetryAt) {
  auto& s = this->store();
  const RunDispatch claimed = this->enqueue_claimed(make_dispatch("d-1"));
  ASSERT_TRUE(is_ok(s.nack(Fence::of(claimed), kT0 + 5'000, "transient", kT0 + 100)));
  auto early = s.claim("t-1", kConsumer, kLeaseMs, kT0 + 4'999, 1);
  ASSERT_TRUE(is_ok(early));
  EXPECT_TRUE(early->empty());
  auto threads = s.queued_thread_ids(kT0 + 4'999, 100);
  ASSERT_TRUE(is_ok(threads));
  EXPECT_TRUE(threads->empty());
  const RunDispatch again = this->claim_one("t-1", kT0 + 5'000);
  EXPECT_EQ(again.dispatch_id, "d-1");
  EXPECT_EQ(again.attempt_count, 1u);
  EXPECT_EQ(again.last_error, "transient");
}

// C10: with max 2, the first nack requeues and the second dead-letters.
TYPED_TEST_P(StoreConformance, NackDeadLettersAtMaxAttempts) {
  auto& s = this->store();
  RunDispatch d = make_dispatch("d-1", "t-1", "r-1");
  d.max_attempts = 2;
  const RunDispatch first = this->enqueue_claimed(d);
  auto requeued = s.nack(Fence::of(first), kT0 + 10, "first failure", kT0 + 5);
  ASSERT_TRUE(is_ok(requeued));
  EXPECT_EQ(requeued->status, DispatchStatus::queued);
  EXPECT_EQ(requeued->attempt_count, 1u);

  const RunDispatch second = this->claim_one("t-1", kT0 + 10);
  const Fence fence = Fence::of(second);
  auto started = s.record_dispatch_start(fence, "inst-2", kT0 + 11);
  ASSERT_TRUE(is_ok(started));
  auto dead = s.nack(fence, kT0 + 1'000, "second failure", kT0 + 20);
  ASSERT_TRUE(is_ok(dead));
  RunDispatch expected = *started;  // the projection is kept on dead letter
  expected.status = DispatchStatus::dead_letter;
  expected.attempt_count = 2;
  expected.last_error = "second failure";
  expected.claim_token.reset();
  expected.claimed_by.reset();
  expected.lease_until.reset();
  expected.completed_at = kT0 + 20;
  expected.updated_at = kT0 + 20;
  EXPECT_EQ(*dead, expected);
  EXPECT_EQ(this->load("d-1"), expected);
  auto none = s.claim("t-1", kConsumer, kLeaseMs, kT0 + 2'000, 1);
  ASSERT_TRUE(is_ok(none));
  EXPECT_TRUE(none->empty());
}

TYPED_TEST_P(StoreConformance, DeadLetterTerminalizesWithErrorAndKeepsAttempts) {
  auto& s = this->store();
  const RunDispatch claimed = this->enqueue_claimed(make_dispatch("d-1", "t-1", "r-1"));
  const Fence fence = Fence::of(claimed);
  auto started = s.record_dispatch_start(fence, "inst-1", kT0 + 1);
  ASSERT_TRUE(is_ok(started));
  auto dead = s.dead_letter(fence, "permanent failure", kT0 + 50);
  ASSERT_TRUE(is_ok(dead));
  RunDispatch expected = *started;
  expected.status = DispatchStatus::dead_letter;
  expected.last_error = "permanent failure";
  expected.claim_token.reset();
  expected.claimed_by.reset();
  expected.lease_until.reset();
  expected.completed_at = kT0 + 50;
  expected.updated_at = kT0 + 50;
  EXPECT_EQ(*dead, expected);
  EXPECT_EQ(dead->attempt_count, 0u);
  EXPECT_EQ(this->load("d-1"), expected);
  EXPECT_EQ(this->counts(), (DispatchCounts{0, 0, 0, 0, 0, 1}));
}

// ---- extend_lease ----------------------------------------------------------------------------

// C13: lease_until = now + extension (not old deadline + extension).
TYPED_TEST_P(StoreConformance, ExtendLeaseSetsDeadlineFromNow) {
  auto& s = this->store();
  const RunDispatch claimed = this->enqueue_claimed(make_dispatch("d-1"));
  auto extended = s.extend_lease(Fence::of(claimed), 5'000, kT0 + 10'000);
  ASSERT_TRUE(is_ok(extended));
  RunDispatch expected = claimed;
  expected.lease_until = kT0 + 15'000;
  expected.updated_at = kT0 + 10'000;
  EXPECT_EQ(*extended, expected);
  EXPECT_EQ(this->load("d-1"), expected);
}

TYPED_TEST_P(StoreConformance, ExtendedLeaseIsNotReclaimedAtOldDeadline) {
  auto& s = this->store();
  const RunDispatch claimed = this->enqueue_claimed(make_dispatch("d-1"));
  ASSERT_TRUE(is_ok(s.extend_lease(Fence::of(claimed), 600'000, kT0 + 20'000)));
  auto reclaimed = s.reclaim_expired_leases(*claimed.lease_until + 1, 10);
  ASSERT_TRUE(is_ok(reclaimed));
  EXPECT_TRUE(reclaimed->empty());
  EXPECT_EQ(this->load("d-1")->status, DispatchStatus::claimed);
  EXPECT_TRUE(is_ok(s.ack(Fence::of(claimed), *claimed.lease_until + 2)));
}

// ---- runtime projection ----------------------------------------------------------------------

// C32: start sets the instance and Running and clears an earlier result.
TYPED_TEST_P(StoreConformance, RecordDispatchStartMarksRunning) {
  auto& s = this->store();
  const RunDispatch claimed = this->enqueue_claimed(make_dispatch("d-1", "t-1", "r-1"));
  const Fence fence = Fence::of(claimed);
  ASSERT_TRUE(is_ok(s.record_run_result(fence, done_result("r-1", "inst-1"), kT0 + 10)));
  auto started = s.record_dispatch_start(fence, "inst-2", kT0 + 20);
  ASSERT_TRUE(is_ok(started));
  RunDispatch expected = claimed;
  expected.dispatch_instance_id = "inst-2";
  expected.run_status = RunStatus::running;
  expected.updated_at = kT0 + 20;
  EXPECT_EQ(*started, expected);
  EXPECT_EQ(this->load("d-1"), expected);
}

// C33: the result is projected onto the still Claimed dispatch with completed_at.
TYPED_TEST_P(StoreConformance, RecordRunResultSetsProjectionAndStaysClaimed) {
  auto& s = this->store();
  const RunDispatch claimed = this->enqueue_claimed(make_dispatch("d-1", "t-1", "r-1"));
  const Fence fence = Fence::of(claimed);
  ASSERT_TRUE(is_ok(s.record_dispatch_start(fence, "inst-1", kT0 + 10)));
  auto done = s.record_run_result(fence, done_result("r-1", "inst-1", "final text"), kT0 + 20);
  ASSERT_TRUE(is_ok(done));
  RunDispatch expected = claimed;
  expected.dispatch_instance_id = "inst-1";
  expected.run_status = RunStatus::done;
  expected.termination = TerminationReason{TerminationKind::natural_end, "", ""};
  expected.run_response = "final text";
  expected.completed_at = kT0 + 20;
  expected.updated_at = kT0 + 20;
  EXPECT_EQ(*done, expected);
  EXPECT_EQ(this->load("d-1"), expected);

  // A later result replaces the whole projection.
  const RunDispatchResult failed{"r-1", "inst-1", RunStatus::done,
                                 TerminationReason{TerminationKind::error, "", "model unavailable"}, std::nullopt,
                                 std::string("model unavailable")};
  auto replaced = s.record_run_result(fence, failed, kT0 + 30);
  ASSERT_TRUE(is_ok(replaced));
  EXPECT_EQ(replaced->termination, failed.termination);
  EXPECT_EQ(replaced->run_response, std::nullopt);
  EXPECT_EQ(replaced->run_error, "model unavailable");
  EXPECT_EQ(replaced->completed_at, kT0 + 30);
  EXPECT_EQ(this->load("d-1"), *replaced);
}

TYPED_TEST_P(StoreConformance, RecordRunResultForAnotherRunIsValidationAndWritesNothing) {
  auto& s = this->store();
  const RunDispatch claimed = this->enqueue_claimed(make_dispatch("d-1", "t-1", "r-1"));
  EXPECT_TRUE(fails_with(s.record_run_result(Fence::of(claimed), done_result("r-other", "inst-1"), kT0 + 5),
                         Errc::validation));
  EXPECT_EQ(this->load("d-1"), claimed);
}

// C34 (unclaimed part; the unknown dispatch is in FencedWritesOnUnknownDispatchAreNotFound).
TYPED_TEST_P(StoreConformance, RecordProjectionOnQueuedDispatchIsFencedAndWritesNothing) {
  auto& s = this->store();
  const RunDispatch queued = this->enqueue(make_dispatch("d-1", "t-1", "r-1"));
  const Fence guess{"d-1", "token", 0};
  EXPECT_TRUE(fails_with(s.record_dispatch_start(guess, "inst-1", kT0 + 1), Errc::fenced));
  EXPECT_TRUE(fails_with(s.record_run_result(guess, done_result("r-1", "inst-1"), kT0 + 2), Errc::fenced));
  EXPECT_TRUE(fails_with(s.ack(guess, kT0 + 3), Errc::fenced));
  EXPECT_TRUE(fails_with(s.extend_lease(guess, kLeaseMs, kT0 + 4), Errc::fenced));
  EXPECT_EQ(this->load("d-1"), queued);
}

// ---- supersede_claimed -----------------------------------------------------------------------

// C18
TYPED_TEST_P(StoreConformance, SupersedeClaimedTerminalizesTheClaim) {
  auto& s = this->store();
  const RunDispatch claimed = this->enqueue_claimed(make_dispatch("d-1", "t-1", "r-1"));
  const Fence fence = Fence::of(claimed);
  ASSERT_TRUE(is_ok(s.record_dispatch_start(fence, "inst-1", kT0 + 1)));
  const std::string reason = "claimed dispatch superseded before execution start";
  auto superseded = s.supersede_claimed(fence, kT0 + 100, reason);
  ASSERT_TRUE(is_ok(superseded));
  const RunDispatch expected = as_superseded(claimed, 0, reason, kT0 + 100);
  EXPECT_EQ(*superseded, expected);
  EXPECT_EQ(this->load("d-1"), expected);
}

TYPED_TEST_P(StoreConformance, SupersedeClaimedOfStaleClaimRaisesItsEpoch) {
  auto& s = this->store();
  const RunDispatch claimed = this->enqueue_claimed(make_dispatch("d-1"));
  ASSERT_TRUE(is_ok(s.interrupt("t-1", kT0 + 1)));
  ASSERT_TRUE(is_ok(s.interrupt("t-1", kT0 + 2)));
  auto superseded = s.supersede_claimed(Fence::of(claimed), kT0 + 3, "stale");
  ASSERT_TRUE(is_ok(superseded));
  EXPECT_EQ(*superseded, as_superseded(claimed, 2, "stale", kT0 + 3));
}

TYPED_TEST_P(StoreConformance, SupersedeClaimedWithWrongTokenIsFencedAndWritesNothing) {
  auto& s = this->store();
  const RunDispatch claimed = this->enqueue_claimed(make_dispatch("d-1"));
  EXPECT_TRUE(fails_with(s.supersede_claimed(Fence{"d-1", "stale-token", 0}, kT0 + 1, "stale"), Errc::fenced));
  EXPECT_EQ(this->load("d-1"), claimed);
}

TYPED_TEST_P(StoreConformance, SupersedeClaimedOfQueuedOrUnknownDispatchFails) {
  auto& s = this->store();
  const RunDispatch queued = this->enqueue(make_dispatch("d-1"));
  EXPECT_TRUE(fails_with(s.supersede_claimed(Fence{"d-1", "token", 0}, kT0 + 1, "stale"), Errc::fenced));
  EXPECT_EQ(this->load("d-1"), queued);
  EXPECT_TRUE(fails_with(s.supersede_claimed(Fence{"d-unknown", "token", 0}, kT0 + 1, "stale"), Errc::not_found));
}

// The deferred overloads skip only the fsync: what they write and return is the same.
TYPED_TEST_P(StoreConformance, DeferredWritesApplyAsSyncedOnesDo) {
  auto& s = this->store();
  const RunDispatch claimed = this->enqueue_claimed(make_dispatch("d-1", "t-1", "r-1"));
  this->enqueue(make_dispatch("d-2", "t-1", "r-2", kT0 + 1));
  auto interrupted = s.interrupt("t-1", kT0 + 2, Durability::deferred);
  ASSERT_TRUE(is_ok(interrupted));
  EXPECT_EQ(interrupted->new_epoch, 1u);
  EXPECT_EQ(interrupted->superseded_count, 1u);
  ASSERT_TRUE(interrupted->active_dispatch.has_value());
  EXPECT_EQ(interrupted->active_dispatch->dispatch_id, "d-1");
  EXPECT_EQ(this->load("d-2")->status, DispatchStatus::superseded);

  auto superseded = s.supersede_claimed(Fence::of(claimed), kT0 + 3, "stale", Durability::deferred);
  ASSERT_TRUE(is_ok(superseded));
  EXPECT_EQ(*superseded, as_superseded(claimed, 1, "stale", kT0 + 3));
  EXPECT_EQ(this->load("d-1"), *superseded);

  auto version = s.commit_run_append("t-1", {user_message("m-1")}, 0, make_run("r-1", "t-1", RunStatus::running),
                                     nullptr, kT0 + 4, Durability::deferred);
  ASSERT_TRUE(is_ok(version));
  EXPECT_EQ(*version, 1u);
  auto run = s.load_run("r-1");
  ASSERT_TRUE(is_ok(run) && run->has_value());
  EXPECT_EQ((*run)->status, RunStatus::running);
  auto message = s.load_message_record("t-1", "m-1");
  ASSERT_TRUE(is_ok(message) && message->has_value());
  EXPECT_EQ((*message)->seq, 1u);

  this->enqueue(make_dispatch("d-3", "t-2", "r-3", kT0 + 5));
  auto next = s.claim("t-2", "consumer-a", 30'000, kT0 + 6, 1, Durability::deferred);
  ASSERT_TRUE(is_ok(next));
  ASSERT_EQ(next->size(), 1u);
  EXPECT_EQ(next->front().status, DispatchStatus::claimed);
  EXPECT_EQ(this->load("d-3"), next->front());
  DispatchStep start;
  start.kind = DispatchStep::Kind::start;
  start.instance_id = "inst-3";
  auto started = s.commit_run_step("t-2", {}, 0, make_run("r-3", "t-2", RunStatus::running),
                                   Fence::of(next->front()), start, kT0 + 7, Durability::deferred);
  ASSERT_TRUE(is_ok(started));
  EXPECT_EQ(started->dispatch.dispatch_instance_id, "inst-3");
  EXPECT_EQ(this->load("d-3"), started->dispatch);

  auto nacked = s.nack(Fence::of(started->dispatch), kT0 + 9, "released", kT0 + 8, Durability::deferred);
  ASSERT_TRUE(is_ok(nacked));
  EXPECT_EQ(nacked->status, DispatchStatus::queued);
  EXPECT_EQ(nacked->attempt_count, started->dispatch.attempt_count + 1);
  EXPECT_EQ(nacked->available_at, kT0 + 9);
  EXPECT_EQ(this->load("d-3"), *nacked);
  // Fenced like the synced nack: the old claim token writes nothing.
  EXPECT_TRUE(fails_with(s.nack(Fence::of(started->dispatch), kT0 + 9, "again", kT0 + 8, Durability::deferred),
                         Errc::fenced));
  EXPECT_EQ(this->load("d-3"), *nacked);
}

// ---- cancel ----------------------------------------------------------------------------------

// C11
TYPED_TEST_P(StoreConformance, CancelQueuedDispatch) {
  auto& s = this->store();
  const RunDispatch queued = this->enqueue(make_dispatch("d-1"));
  auto cancelled = s.cancel("d-1", kT0 + 100);
  ASSERT_TRUE(is_ok(cancelled));
  ASSERT_TRUE(cancelled->has_value());
  RunDispatch expected = queued;
  expected.status = DispatchStatus::cancelled;
  expected.completed_at = kT0 + 100;
  expected.updated_at = kT0 + 100;
  EXPECT_EQ(**cancelled, expected);
  EXPECT_EQ(this->load("d-1"), expected);
}

// C12
TYPED_TEST_P(StoreConformance, CancelClaimedDispatchReturnsNoneAndKeepsClaim) {
  auto& s = this->store();
  const RunDispatch claimed = this->enqueue_claimed(make_dispatch("d-1"));
  auto cancelled = s.cancel("d-1", kT0 + 1);
  ASSERT_TRUE(is_ok(cancelled));
  EXPECT_FALSE(cancelled->has_value());
  EXPECT_EQ(this->load("d-1"), claimed);
}

TYPED_TEST_P(StoreConformance, CancelUnknownOrTerminalDispatchReturnsNone) {
  auto& s = this->store();
  auto unknown = s.cancel("d-unknown", kT0);
  ASSERT_TRUE(is_ok(unknown));
  EXPECT_FALSE(unknown->has_value());
  this->enqueue(make_dispatch("d-1"));
  auto first = s.cancel("d-1", kT0 + 1);
  ASSERT_TRUE(is_ok(first));
  ASSERT_TRUE(first->has_value());
  auto second = s.cancel("d-1", kT0 + 2);
  ASSERT_TRUE(is_ok(second));
  EXPECT_FALSE(second->has_value());
  EXPECT_EQ(this->load("d-1"), **first);
}

// ---- fencing: every fenced write, refused and writing nothing ----------------------------------

TYPED_TEST_P(StoreConformance, AckWithStaleTokenIsFencedAndWritesNothing) {
  this->check_stale_token(FencedWrite::ack);
}
TYPED_TEST_P(StoreConformance, NackWithStaleTokenIsFencedAndWritesNothing) {
  this->check_stale_token(FencedWrite::nack);
}
TYPED_TEST_P(StoreConformance, DeadLetterWithStaleTokenIsFencedAndWritesNothing) {
  this->check_stale_token(FencedWrite::dead_letter);
}
// C14
TYPED_TEST_P(StoreConformance, ExtendLeaseWithStaleTokenIsFencedAndWritesNothing) {
  this->check_stale_token(FencedWrite::extend_lease);
}
TYPED_TEST_P(StoreConformance, RecordDispatchStartWithStaleTokenIsFencedAndWritesNothing) {
  this->check_stale_token(FencedWrite::record_dispatch_start);
}
TYPED_TEST_P(StoreConformance, RecordRunResultWithStaleTokenIsFencedAndWritesNothing) {
  this->check_stale_token(FencedWrite::record_run_result);
}
TYPED_TEST_P(StoreConformance, CommitRunAppendWithStaleTokenIsFencedAndWritesNothing) {
  this->check_stale_token(FencedWrite::commit_run_append);
}
TYPED_TEST_P(StoreConformance, CommitRunStepWithStaleTokenIsFencedAndWritesNothing) {
  this->check_stale_token(FencedWrite::commit_run_step);
}
TYPED_TEST_P(StoreConformance, AppendEventWithStaleTokenIsFencedAndWritesNothing) {
  this->check_stale_token(FencedWrite::append_event);
}

TYPED_TEST_P(StoreConformance, AckAfterInterruptIsFencedAndOnlySupersedes) {
  this->check_after_interrupt(FencedWrite::ack);
}
TYPED_TEST_P(StoreConformance, NackAfterInterruptIsFencedAndOnlySupersedes) {
  this->check_after_interrupt(FencedWrite::nack);
}
TYPED_TEST_P(StoreConformance, DeadLetterAfterInterruptIsFencedAndOnlySupersedes) {
  this->check_after_interrupt(FencedWrite::dead_letter);
}
// C19
TYPED_TEST_P(StoreConformance, ExtendLeaseAfterInterruptIsFencedAndOnlySupersedes) {
  this->check_after_interrupt(FencedWrite::extend_lease);
}
// C20
TYPED_TEST_P(StoreConformance, RecordDispatchStartAfterInterruptIsFencedAndOnlySupersedes) {
  this->check_after_interrupt(FencedWrite::record_dispatch_start);
}
TYPED_TEST_P(StoreConformance, RecordRunResultAfterInterruptIsFencedAndOnlySupersedes) {
  this->check_after_interrupt(FencedWrite::record_run_result);
}
TYPED_TEST_P(StoreConformance, CommitRunAppendAfterInterruptIsFencedAndOnlySupersedes) {
  this->check_after_interrupt(FencedWrite::commit_run_append);
}
TYPED_TEST_P(StoreConformance, CommitRunStepAfterInterruptIsFencedAndOnlySupersedes) {
  this->check_after_interrupt(FencedWrite::commit_run_step);
}
TYPED_TEST_P(StoreConformance, AppendEventAfterInterruptIsFencedAndOnlySupersedes) {
  this->check_after_interrupt(FencedWrite::append_event);
}

TYPED_TEST_P(StoreConformance, AckAfterLeaseReclaimIsFencedAndWritesNothing) {
  this->check_after_reclaim(FencedWrite::ack);
}
TYPED_TEST_P(StoreConformance, NackAfterLeaseReclaimIsFencedAndWritesNothing) {
  this->check_after_reclaim(FencedWrite::nack);
}
TYPED_TEST_P(StoreConformance, DeadLetterAfterLeaseReclaimIsFencedAndWritesNothing) {
  this->check_after_reclaim(FencedWrite::dead_letter);
}
TYPED_TEST_P(StoreConformance, ExtendLeaseAfterLeaseReclaimIsFencedAndWritesNothing) {
  this->check_after_reclaim(FencedWrite::extend_lease);
}
TYPED_TEST_P(StoreConformance, RecordDispatchStartAfterLeaseReclaimIsFencedAndWritesNothing) {
  this->check_after_reclaim(FencedWrite::record_dispatch_start);
}
TYPED_TEST_P(StoreConformance, RecordRunResultAfterLeaseReclaimIsFencedAndWritesNothing) {
  this->check_after_reclaim(FencedWrite::record_run_result);
}
TYPED_TEST_P(StoreConformance, CommitRunAppendAfterLeaseReclaimIsFencedAndWritesNothing) {
  this->check_after_reclaim(FencedWrite::commit_run_append);
}
TYPED_TEST_P(StoreConformance, CommitRunStepAfterLeaseReclaimIsFencedAndWritesNothing) {
  this->check_after_reclaim(FencedWrite::commit_run_step);
}
TYPED_TEST_P(StoreConformance, AppendEventAfterLeaseReclaimIsFencedAndWritesNothing) {
  this->check_after_reclaim(FencedWrite::append_event);
}

TYPED_TEST_P(StoreConformance, FencedWritesOnUnknownDispatchAreNotFound) {
  this->fenced_scene();
  const Fence unknown{"d-unknown", "token", 0};
  const Footprint before = this->footprint();
  for (const FencedWrite op : kAllFencedWrites) {
    EXPECT_TRUE(fails_with(this->attempt(op, unknown, kT0 + 100), Errc::not_found)) << name_of(op);
  }
  EXPECT_EQ(this->footprint(), before);
}

// The right token with another epoch is not the owner either; nothing is superseded since
// the claim itself is current.
TYPED_TEST_P(StoreConformance, FencedWritesWithAnotherEpochAreFencedAndWriteNothing) {
  const auto scene = this->fenced_scene();
  Fence other_epoch = scene.fence;
  other_epoch.epoch += 1;
  const Footprint before = this->footprint();
  for (const FencedWrite op : kAllFencedWrites) {
    EXPECT_TRUE(fails_with(this->attempt(op, other_epoch, kT0 + 100), Errc::fenced)) << name_of(op);
  }
  EXPECT_EQ(this->footprint(), before);
}

TYPED_TEST_P(StoreConformance, FencedWritesWithTheOwnersFenceSucceed) {
  const auto scene = this->fenced_scene();
  // Every non-terminal write first, then the terminal one.
  for (const FencedWrite op : {FencedWrite::extend_lease, FencedWrite::record_dispatch_start,
                               FencedWrite::append_event, FencedWrite::commit_run_append,
                               FencedWrite::record_run_result, FencedWrite::ack}) {
    EXPECT_TRUE(is_ok(this->attempt(op, scene.fence, kT0 + 100))) << name_of(op);
  }
  EXPECT_EQ(this->load("d-1")->status, DispatchStatus::acked);
  EXPECT_EQ(this->version("t-1"), 2u);
  EXPECT_EQ(seqs_of(this->events("r-1")), (std::vector<std::uint64_t>{1, 2}));
  EXPECT_EQ(this->load_run("r-1")->steps, 1u);
}

// ---- interrupt / epochs ----------------------------------------------------------------------

// C15: every Queued dispatch of the thread superseded (their epoch left as enqueued), other
// threads untouched.
TYPED_TEST_P(StoreConformance, InterruptSupersedesEveryQueuedDispatch) {
  auto& s = this->store();
  this->enqueue(make_dispatch("d-1", "t-1", "r-1", kT0));
  this->enqueue(make_dispatch("d-2", "t-1", "r-2", kT0 + 1));
  const RunDispatch elsewhere = this->enqueue(make_dispatch("d-3", "t-2"));
  auto r = s.interrupt("t-1", kT0 + 100);
  ASSERT_TRUE(is_ok(r));
  EXPECT_EQ(r->new_epoch, 1u);
  EXPECT_FALSE(r->active_dispatch.has_value());
  EXPECT_EQ(r->superseded_count, 2u);
  auto ids = ids_of(r->superseded);
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (std::vector<std::string>{"d-1", "d-2"}));
  for (const auto& d : r->superseded) {
    EXPECT_EQ(d.status, DispatchStatus::superseded) << d.dispatch_id;
    EXPECT_EQ(d.last_error, kReasonSupersededByInterrupt) << d.dispatch_id;
    EXPECT_EQ(d.completed_at, kT0 + 100) << d.dispatch_id;
    EXPECT_EQ(d.updated_at, kT0 + 100) << d.dispatch_id;
    EXPECT_EQ(d.dispatch_epoch, 0u) << d.dispatch_id;
    EXPECT_EQ(this->load(d.dispatch_id), d);
  }
  EXPECT_EQ(this->load("d-3"), elsewhere);
  auto other_epoch = s.current_epoch("t-2");
  ASSERT_TRUE(is_ok(other_epoch));
  EXPECT_EQ(*other_epoch, 0u);
}

// C16: the Claimed dispatch is reported, left Claimed; only the queued one is superseded.
TYPED_TEST_P(StoreConformance, InterruptReportsActiveClaimAndLeavesItClaimed) {
  auto& s = this->store();
  const RunDispatch claimed = this->enqueue_claimed(make_dispatch("d-1", "t-1", "r-1"));
  this->enqueue(make_dispatch("d-2", "t-1", "r-2", kT0 + 1));
  auto r = s.interrupt("t-1", kT0 + 100);
  ASSERT_TRUE(is_ok(r));
  ASSERT_TRUE(r->active_dispatch.has_value());
  EXPECT_EQ(*r->active_dispatch, claimed);
  EXPECT_EQ(ids_of(r->superseded), std::vector<std::string>{"d-2"});
  EXPECT_EQ(r->superseded_count, 1u);
  EXPECT_EQ(this->load("d-1"), claimed);
}

TYPED_TEST_P(StoreConformance, InterruptOfUnknownThreadStartsEpochAtOne) {
  auto& s = this->store();
  auto r = s.interrupt("t-new", kT0);
  ASSERT_TRUE(is_ok(r));
  EXPECT_EQ(r->new_epoch, 1u);
  EXPECT_EQ(r->superseded_count, 0u);
  EXPECT_TRUE(r->superseded.empty());
  EXPECT_FALSE(r->active_dispatch.has_value());
  auto epoch = s.current_epoch("t-new");
  ASSERT_TRUE(is_ok(epoch));
  EXPECT_EQ(*epoch, 1u);
}

// C17
TYPED_TEST_P(StoreConformance, CurrentEpochTracksInterrupts) {
  auto& s = this->store();
  auto initial = s.current_epoch("t-1");
  ASSERT_TRUE(is_ok(initial));
  EXPECT_EQ(*initial, 0u);
  this->enqueue(make_dispatch("d-1"));
  auto after_enqueue = s.current_epoch("t-1");
  ASSERT_TRUE(is_ok(after_enqueue));
  EXPECT_EQ(*after_enqueue, 0u);
  for (std::uint64_t expected = 1; expected <= 3; ++expected) {
    auto r = s.interrupt("t-1", kT0 + static_cast<std::int64_t>(expected));
    ASSERT_TRUE(is_ok(r));
    EXPECT_EQ(r->new_epoch, expected);
    auto epoch = s.current_epoch("t-1");
    ASSERT_TRUE(is_ok(epoch));
    EXPECT_EQ(*epoch, expected);
  }
}

TYPED_TEST_P(StoreConformance, InterruptTwiceKeepsStaleClaimUntilItsOwnerWrites) {
  auto& s = this->store();
  const RunDispatch claimed = this->enqueue_claimed(make_dispatch("d-1"));
  for (std::uint64_t epoch = 1; epoch <= 2; ++epoch) {
    auto r = s.interrupt("t-1", kT0 + static_cast<std::int64_t>(epoch));
    ASSERT_TRUE(is_ok(r));
    EXPECT_EQ(r->new_epoch, epoch);
    ASSERT_TRUE(r->active_dispatch.has_value());
    EXPECT_EQ(*r->active_dispatch, claimed);
  }
  EXPECT_TRUE(fails_with(s.extend_lease(Fence::of(claimed), kLeaseMs, kT0 + 10), Errc::fenced));
  EXPECT_EQ(this->load("d-1"), as_superseded(claimed, 2, kReasonClaimedStaleEpoch, kT0 + 10));
  auto third = s.interrupt("t-1", kT0 + 11);
  ASSERT_TRUE(is_ok(third));
  EXPECT_FALSE(third->active_dispatch.has_value());
  // The released thread takes new work at the current epoch.
  this->enqueue(make_dispatch("d-2", "t-1", "r-2", kT0 + 12));
  const RunDispatch next = this->claim_one("t-1", kT0 + 13);
  EXPECT_EQ(next.dispatch_id, "d-2");
  EXPECT_EQ(next.dispatch_epoch, 3u);
}

// ---- reclaim_expired_leases ------------------------------------------------------------------

// C23: Queued again with attempt+1, available now, claim and projection cleared.
TYPED_TEST_P(StoreConformance, ReclaimRequeuesExpiredLease) {
  auto& s = this->store();
  const RunDispatch queued = this->enqueue(make_dispatch("d-1", "t-1", "r-1"));
  const RunDispatch claimed = this->claim_one("t-1", kT0);
  ASSERT_TRUE(is_ok(s.record_dispatch_start(Fence::of(claimed), "inst-1", kT0 + 1)));
  const std::int64_t now = kT0 + kLeaseMs + 1;
  auto reclaimed = s.reclaim_expired_leases(now, 10);
  ASSERT_TRUE(is_ok(reclaimed));
  RunDispatch expected = queued;
  expected.attempt_count = 1;
  expected.available_at = now;
  expected.updated_at = now;
  EXPECT_EQ(*reclaimed, std::vector<RunDispatch>{expected});
  EXPECT_EQ(this->load("d-1"), expected);
  const RunDispatch again = this->claim_one("t-1", now);
  EXPECT_EQ(again.attempt_count, 1u);
}

TYPED_TEST_P(StoreConformance, ReclaimLeavesLeaseEndingExactlyNow) {
  auto& s = this->store();
  const RunDispatch claimed = this->enqueue_claimed(make_dispatch("d-1"));
  auto reclaimed = s.reclaim_expired_leases(*claimed.lease_until, 10);
  ASSERT_TRUE(is_ok(reclaimed));
  EXPECT_TRUE(reclaimed->empty());
  EXPECT_EQ(this->load("d-1"), claimed);
}

// C24
TYPED_TEST_P(StoreConformance, ReclaimDeadLettersAtMaxAttempts) {
  auto& s = this->store();
  RunDispatch d = make_dispatch("d-1", "t-1", "r-1");
  d.max_attempts = 1;
  const RunDispatch queued = this->enqueue(d);
  const RunDispatch claimed = this->claim_one("t-1", kT0);
  ASSERT_TRUE(is_ok(s.record_dispatch_start(Fence::of(claimed), "inst-1", kT0 + 1)));
  const std::int64_t now = kT0 + kLeaseMs + 1;
  auto reclaimed = s.reclaim_expired_leases(now, 10);
  ASSERT_TRUE(is_ok(reclaimed));
  RunDispatch expected = queued;
  expected.status = DispatchStatus::dead_letter;
  expected.attempt_count = 1;
  expected.available_at = now;
  expected.last_error = "lease expired; max attempts reached";
  expected.completed_at = now;
  expected.updated_at = now;
  EXPECT_EQ(*reclaimed, std::vector<RunDispatch>{expected});
  EXPECT_EQ(this->load("d-1"), expected);
}

// C21: an expired claim made stale by an interrupt is superseded, and returned as such (the
// caller closes its run; the reference left it open).
TYPED_TEST_P(StoreConformance, ReclaimSupersedesStaleClaimAndReturnsIt) {
  auto& s = this->store();
  const RunDispatch claimed = this->enqueue_claimed(make_dispatch("d-1"));
  ASSERT_TRUE(is_ok(s.interrupt("t-1", kT0 + 1)));
  const std::int64_t now = kT0 + kLeaseMs + 1;
  auto reclaimed = s.reclaim_expired_leases(now, 10);
  ASSERT_TRUE(is_ok(reclaimed));
  const RunDispatch superseded = as_superseded(claimed, 1, kReasonExpiredAfterInterrupt, now);
  EXPECT_EQ(*reclaimed, std::vector<RunDispatch>{superseded});
  EXPECT_EQ(this->load("d-1"), superseded);
  auto again = s.reclaim_expired_leases(now + 1, 10);
  ASSERT_TRUE(is_ok(again));
  EXPECT_TRUE(again->empty());
}

TYPED_TEST_P(StoreConformance, SecondReclaimReturnsNothing) {
  auto& s = this->store();
  this->enqueue_claimed(make_dispatch("d-1", "t-1"));
  this->enqueue_claimed(make_dispatch("d-2", "t-2"));
  const std::int64_t now = kT0 + kLeaseMs + 1;
  auto first = s.reclaim_expired_leases(now, 10);
  ASSERT_TRUE(is_ok(first));
  EXPECT_EQ(first->size(), 2u);
  const auto after_first = this->counts();
  for (const std::int64_t later : {now, now + 1'000'000}) {
    auto second = s.reclaim_expired_leases(later, 10);
    ASSERT_TRUE(is_ok(second));
    EXPECT_TRUE(second->empty());
  }
  EXPECT_EQ(this->counts(), after_first);
}

TYPED_TEST_P(StoreConformance, ReclaimHonoursLimit) {
  auto& s = this->store();
  for (const char* t : {"t-1", "t-2", "t-3"}) this->enqueue_claimed(make_dispatch(std::string("d") + t, t));
  const std::int64_t now = kT0 + kLeaseMs + 1;
  std::vector<std::string> seen;
  for (const std::size_t expected : {2u, 1u, 0u}) {
    auto batch = s.reclaim_expired_leases(now, 2);
    ASSERT_TRUE(is_ok(batch));
    EXPECT_EQ(batch->size(), expected);
    for (const auto& d : *batch) seen.push_back(d.dispatch_id);
  }
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (std::vector<std::string>{"dt-1", "dt-2", "dt-3"}));
}

// Recovery finds the claims its consumer left behind through this listing.
TYPED_TEST_P(StoreConformance, ListClaimedDispatchesOfAConsumerOrderedByLease) {
  auto& s = this->store();
  this->enqueue(make_dispatch("d-queued", "t-1"));
  this->enqueue(make_dispatch("d-late", "t-2"));
  this->enqueue(make_dispatch("d-early", "t-3"));
  this->enqueue(make_dispatch("d-other", "t-4"));
  this->enqueue(make_dispatch("d-acked", "t-5"));
  const RunDispatch late = this->claim_one("t-2", kT0 + 5);
  const RunDispatch early = this->claim_one("t-3", kT0);
  this->claim_one("t-4", kT0, kOtherConsumer);
  const RunDispatch acked = this->claim_one("t-5", kT0);
  ASSERT_TRUE(is_ok(s.ack(Fence::of(acked), kT0 + 1)));
  auto mine = s.list_claimed_dispatches(kConsumer);
  ASSERT_TRUE(is_ok(mine));
  EXPECT_EQ(*mine, (std::vector<RunDispatch>{early, late}));
  auto other = s.list_claimed_dispatches(kOtherConsumer);
  ASSERT_TRUE(is_ok(other));
  ASSERT_EQ(other->size(), 1u);
  EXPECT_EQ(other->front().dispatch_id, "d-other");
  auto nobody = s.list_claimed_dispatches("nobody");
  ASSERT_TRUE(is_ok(nobody));
  EXPECT_TRUE(nobody->empty());
  // A released claim is no longer listed.
  ASSERT_TRUE(is_ok(s.nack(Fence::of(early), kT0 + 2, "retry", kT0 + 1)));
  mine = s.list_claimed_dispatches(kConsumer);
  ASSERT_TRUE(is_ok(mine));
  EXPECT_EQ(*mine, std::vector<RunDispatch>{late});
}

TYPED_TEST_P(StoreConformance, ReclaimIgnoresLiveLeasesAndOtherStatuses) {
  auto& s = this->store();
  this->enqueue(make_dispatch("d-queued", "t-1"));
  this->enqueue(make_dispatch("d-live", "t-2"));
  auto live = s.claim("t-2", kConsumer, 10 * kLeaseMs, kT0, 1);
  ASSERT_TRUE(is_ok(live));
  const RunDispatch acked = this->enqueue_claimed(make_dispatch("d-acked", "t-3"));
  ASSERT_TRUE(is_ok(s.ack(Fence::of(acked), kT0 + 1)));
  this->enqueue_claimed(make_dispatch("d-expired", "t-4"));
  auto reclaimed = s.reclaim_expired_leases(kT0 + kLeaseMs + 1, 10);
  ASSERT_TRUE(is_ok(reclaimed));
  EXPECT_EQ(ids_of(*reclaimed), std::vector<std::string>{"d-expired"});
  EXPECT_EQ(this->load("d-live")->status, DispatchStatus::claimed);
  EXPECT_EQ(this->load("d-queued")->status, DispatchStatus::queued);
  EXPECT_EQ(this->load("d-acked")->status, DispatchStatus::acked);
}

// ---- purge_terminal --------------------------------------------------------------------------

// C26: only terminal dispatches with updated_at < cutoff.
TYPED_TEST_P(StoreConformance, PurgeTerminalRemovesOnlyTerminalOlderThanCutoff) {
  auto& s = this->store();
  const RunDispatch acked = this->enqueue_claimed(make_dispatch("d-acked", "t-1"));
  ASSERT_TRUE(is_ok(s.ack(Fence::of(acked), kT0 + 100)));
  this->enqueue(make_dispatch("d-cancelled", "t-2"));
  ASSERT_TRUE(is_ok(s.cancel("d-cancelled", kT0 + 200)));
  const RunDispatch queued = this->enqueue(make_dispatch("d-queued", "t-3"));
  const RunDispatch claimed = this->enqueue_claimed(make_dispatch("d-claimed", "t-4"), kT0 + 1);

  auto first = s.purge_terminal(kT0 + 200);  // d-cancelled was updated exactly at the cutoff
  ASSERT_TRUE(is_ok(first));
  EXPECT_EQ(*first, 1u);
  EXPECT_EQ(this->load("d-acked"), std::nullopt);
  EXPECT_EQ(this->load("d-cancelled")->status, DispatchStatus::cancelled);

  auto second = s.purge_terminal(kT0 + 1'000'000'000);
  ASSERT_TRUE(is_ok(second));
  EXPECT_EQ(*second, 1u);
  EXPECT_EQ(this->load("d-cancelled"), std::nullopt);
  EXPECT_EQ(this->load("d-queued"), queued);
  EXPECT_EQ(this->load("d-claimed"), claimed);
  auto terminal = s.list_terminal_dispatches(0, 100);
  ASSERT_TRUE(is_ok(terminal));
  EXPECT_TRUE(terminal->empty());
  EXPECT_EQ(this->counts(), (DispatchCounts{1, 1, 0, 0, 0, 0}));
  EXPECT_TRUE(this->listed("t-1", {DispatchStatus::acked}).empty());

  auto nothing = s.purge_terminal(kT0 + 1'000'000'000);
  ASSERT_TRUE(is_ok(nothing));
  EXPECT_EQ(*nothing, 0u);
}

TYPED_TEST_P(StoreConformance, PurgeDeletesEventLogWithTheRunsLastDispatch) {
  auto& s = this->store();
  this->commit({user_message("m-1")}, 0, make_run("r-1", "t-1", RunStatus::running));
  const RunDispatch first = this->enqueue_claimed(make_dispatch("d-1", "t-1", "r-1"));
  const Fence fence = Fence::of(first);
  ASSERT_TRUE(is_ok(s.append_event("r-1", text_event("t-1", "r-1", "one", kT0 + 1), &fence)));
  ASSERT_TRUE(is_ok(s.append_event("r-1", text_event("t-1", "r-1", "two", kT0 + 2), &fence)));
  ASSERT_TRUE(is_ok(s.ack(fence, kT0 + 10)));
  this->enqueue(make_dispatch("d-2", "t-1", "r-1", kT0 + 20));  // a resume dispatch of the same run

  auto purged = s.purge_terminal(kT0 + 1'000);
  ASSERT_TRUE(is_ok(purged));
  EXPECT_EQ(*purged, 1u);
  EXPECT_EQ(this->events("r-1").size(), 2u) << "the run still has a dispatch";

  ASSERT_TRUE(is_ok(s.cancel("d-2", kT0 + 30)));
  purged = s.purge_terminal(kT0 + 1'000);
  ASSERT_TRUE(is_ok(purged));
  EXPECT_EQ(*purged, 1u);
  EXPECT_TRUE(this->events("r-1").empty());
  // The run record and the committed history stay.
  EXPECT_EQ(this->load_run("r-1"), make_run("r-1", "t-1", RunStatus::running));
  EXPECT_EQ(this->version("t-1"), 1u);
}

TYPED_TEST_P(StoreConformance, PurgeKeepsEventLogOfRunsItDidNotTouch) {
  auto& s = this->store();
  ASSERT_TRUE(is_ok(s.append_event("r-x", text_event("t-x", "r-x", "no dispatch"), nullptr)));
  const RunDispatch claimed = this->enqueue_claimed(make_dispatch("d-1", "t-1", "r-1"));
  ASSERT_TRUE(is_ok(s.ack(Fence::of(claimed), kT0 + 1)));
  auto purged = s.purge_terminal(kT0 + 1'000);
  ASSERT_TRUE(is_ok(purged));
  EXPECT_EQ(*purged, 1u);
  EXPECT_EQ(this->events("r-x").size(), 1u);
}

TYPED_TEST_P(StoreConformance, PurgeKeepsThreadEpochAndHistory) {
  auto& s = this->store();
  this->commit({user_message("m-1")}, 0, make_run("r-1"));
  this->enqueue(make_dispatch("d-1", "t-1", "r-1"));
  ASSERT_TRUE(is_ok(s.interrupt("t-1", kT0 + 1)));
  auto purged = s.purge_terminal(kT0 + 1'000);
  ASSERT_TRUE(is_ok(purged));
  EXPECT_EQ(*purged, 1u);
  auto epoch = s.current_epoch("t-1");
  ASSERT_TRUE(is_ok(epoch));
  EXPECT_EQ(*epoch, 1u);
  EXPECT_EQ(this->version("t-1"), 1u);
  EXPECT_EQ(this->load_run("r-1"), make_run("r-1"));
  EXPECT_EQ(this->enqueue(make_dispatch("d-2", "t-1", "r-1", kT0 + 2)).dispatch_epoch, 1u);
}

// ---- listing and counting --------------------------------------------------------------------

// C6: priority, then created_at, then dispatch id (available_at plays no part).
TYPED_TEST_P(StoreConformance, ListDispatchesOrdersByPriorityThenCreatedAtThenId) {
  auto& s = this->store();
  RunDispatch c = make_dispatch("d-c", "t-1", "r-c", kT0 + 5);
  c.priority = 10;
  RunDispatch a = make_dispatch("d-a", "t-1", "r-a", kT0 + 1);
  a.available_at = kT0 + 99'999;
  RunDispatch b = make_dispatch("d-b", "t-1", "r-b", kT0 + 1);
  RunDispatch d = make_dispatch("d-d", "t-1", "r-d", kT0);
  RunDispatch e = make_dispatch("d-e", "t-1", "r-e", kT0);
  e.priority = 200;
  for (const auto& x : {e, b, d, a, c}) this->enqueue(x);
  auto page = s.list_dispatches("t-1", {DispatchStatus::queued}, 0, 100, false);
  ASSERT_TRUE(is_ok(page));
  EXPECT_EQ(ids_of(page->items), (std::vector<std::string>{"d-c", "d-d", "d-a", "d-b", "d-e"}));
  EXPECT_EQ(page->total, 5u);
}

TYPED_TEST_P(StoreConformance, ListDispatchesNewestFirstOrdersByCreatedAtDescending) {
  auto& s = this->store();
  RunDispatch c = make_dispatch("d-c", "t-1", "r-c", kT0 + 5);
  c.priority = 10;
  RunDispatch e = make_dispatch("d-e", "t-1", "r-e", kT0);
  e.priority = 200;
  for (const auto& x : {e, make_dispatch("d-b", "t-1", "r-b", kT0 + 1), make_dispatch("d-d", "t-1", "r-d", kT0),
                        make_dispatch("d-a", "t-1", "r-a", kT0 + 1), c})
    this->enqueue(x);
  auto page = s.list_dispatches("t-1", {DispatchStatus::queued}, 0, 100, true);
  ASSERT_TRUE(is_ok(page));
  EXPECT_EQ(ids_of(page->items), (std::vector<std::string>{"d-c", "d-b", "d-a", "d-e", "d-d"}));
  auto second_page = s.list_dispatches("t-1", {DispatchStatus::queued}, 1, 2, true);
  ASSERT_TRUE(is_ok(second_page));
  EXPECT_EQ(ids_of(second_page->items), (std::vector<std::string>{"d-b", "d-a"}));
  EXPECT_EQ(second_page->total, 5u);
}

TYPED_TEST_P(StoreConformance, ListDispatchesFiltersByStatus) {
  auto& s = this->store();
  const RunDispatch first = this->enqueue_claimed(make_dispatch("d-1", "t-1", "r-1", kT0));
  ASSERT_TRUE(is_ok(s.ack(Fence::of(first), kT0 + 1)));
  this->enqueue(make_dispatch("d-2", "t-1", "r-2", kT0 + 2));
  this->claim_one("t-1", kT0 + 3);
  this->enqueue(make_dispatch("d-3", "t-1", "r-3", kT0 + 4));
  this->enqueue(make_dispatch("d-4", "t-1", "r-4", kT0 + 5));
  this->enqueue(make_dispatch("d-other", "t-2"));

  EXPECT_EQ(this->listed("t-1", {DispatchStatus::queued}), (std::vector<std::string>{"d-3", "d-4"}));
  EXPECT_EQ(this->listed("t-1", {DispatchStatus::claimed}), std::vector<std::string>{"d-2"});
  EXPECT_EQ(this->listed("t-1", {DispatchStatus::acked, DispatchStatus::claimed}),
            (std::vector<std::string>{"d-1", "d-2"}));
  EXPECT_TRUE(this->listed("t-1", {DispatchStatus::cancelled}).empty());
  auto none = s.list_dispatches("t-1", {}, 0, 100, false);
  ASSERT_TRUE(is_ok(none));
  EXPECT_TRUE(none->items.empty());
  EXPECT_EQ(none->total, 0u);
  auto all = s.list_dispatches("t-1",
                               {DispatchStatus::queued, DispatchStatus::claimed, DispatchStatus::acked,
                                DispatchStatus::cancelled, DispatchStatus::superseded, DispatchStatus::dead_letter},
                               0, 100, false);
  ASSERT_TRUE(is_ok(all));
  EXPECT_EQ(all->total, 4u);
}

TYPED_TEST_P(StoreConformance, ListDispatchesPagesWithOffsetLimitAndTotal) {
  auto& s = this->store();
  for (int i = 0; i < 5; ++i)
    this->enqueue(make_dispatch("d-" + std::to_string(i), "t-1", "r-" + std::to_string(i), kT0 + i));
  struct Case {
    std::uint64_t offset;
    std::uint32_t limit;
    std::vector<std::string> ids;
  };
  for (const auto& c : std::vector<Case>{{0, 2, {"d-0", "d-1"}},
                                         {2, 2, {"d-2", "d-3"}},
                                         {4, 2, {"d-4"}},
                                         {5, 2, {}},
                                         {99, 2, {}},
                                         {1, 100, {"d-1", "d-2", "d-3", "d-4"}}}) {
    auto page = s.list_dispatches("t-1", {DispatchStatus::queued}, c.offset, c.limit, false);
    ASSERT_TRUE(is_ok(page));
    EXPECT_EQ(ids_of(page->items), c.ids) << "offset " << c.offset << " limit " << c.limit;
    EXPECT_EQ(page->total, 5u) << "offset " << c.offset << " limit " << c.limit;
  }
}

TYPED_TEST_P(StoreConformance, ListDispatchesOfUnknownThreadIsEmpty) {
  auto page = this->store().list_dispatches("t-unknown", {DispatchStatus::queued}, 0, 10, false);
  ASSERT_TRUE(is_ok(page));
  EXPECT_TRUE(page->items.empty());
  EXPECT_EQ(page->total, 0u);
}

// C29: terminal dispatches of all threads by updated_at; live ones left out; paged.
TYPED_TEST_P(StoreConformance, ListTerminalDispatchesSpansThreadsInUpdateOrder) {
  auto& s = this->store();
  const RunDispatch a = this->enqueue_claimed(make_dispatch("d-a", "t-a"));
  ASSERT_TRUE(is_ok(s.ack(Fence::of(a), kT0 + 200)));
  this->enqueue(make_dispatch("d-b", "t-b"));
  ASSERT_TRUE(is_ok(s.interrupt("t-b", kT0 + 100)));
  this->enqueue(make_dispatch("d-c", "t-c"));
  ASSERT_TRUE(is_ok(s.cancel("d-c", kT0 + 300)));
  this->enqueue(make_dispatch("d-d", "t-d"));
  this->enqueue_claimed(make_dispatch("d-e", "t-e"));

  auto all = s.list_terminal_dispatches(0, 100);
  ASSERT_TRUE(is_ok(all));
  EXPECT_EQ(ids_of(*all), (std::vector<std::string>{"d-b", "d-a", "d-c"}));
  EXPECT_EQ(all->at(0).status, DispatchStatus::superseded);
  EXPECT_EQ(all->at(2), this->load("d-c"));
  auto middle = s.list_terminal_dispatches(1, 1);
  ASSERT_TRUE(is_ok(middle));
  EXPECT_EQ(ids_of(*middle), std::vector<std::string>{"d-a"});
  auto past = s.list_terminal_dispatches(3, 100);
  ASSERT_TRUE(is_ok(past));
  EXPECT_TRUE(past->empty());
}

TYPED_TEST_P(StoreConformance, ListTerminalDispatchesBreaksTiesByCreatedAtThenId) {
  auto& s = this->store();
  this->enqueue(make_dispatch("d-z", "t-1", "r-z", kT0));
  this->enqueue(make_dispatch("d-y", "t-2", "r-y", kT0 + 1));
  this->enqueue(make_dispatch("d-x", "t-3", "r-x", kT0 + 1));
  for (const char* id : {"d-x", "d-y", "d-z"}) ASSERT_TRUE(is_ok(s.cancel(id, kT0 + 50)));
  auto all = s.list_terminal_dispatches(0, 100);
  ASSERT_TRUE(is_ok(all));
  EXPECT_EQ(ids_of(*all), (std::vector<std::string>{"d-z", "d-x", "d-y"}));
}

// C28
TYPED_TEST_P(StoreConformance, CountDispatchesByStatusTracksLifecycle) {
  auto& s = this->store();
  EXPECT_EQ(this->counts(), (DispatchCounts{0, 0, 0, 0, 0, 0}));
  this->enqueue(make_dispatch("d-1", "t-1", "r-1", kT0));
  this->enqueue(make_dispatch("d-2", "t-1", "r-2", kT0 + 1));
  this->enqueue(make_dispatch("d-3", "t-1", "r-3", kT0 + 2));
  this->enqueue(make_dispatch("d-4", "t-2"));
  //                                  queued claimed acked cancelled superseded dead_letter
  EXPECT_EQ(this->counts(), (DispatchCounts{4, 0, 0, 0, 0, 0}));
  const RunDispatch first = this->claim_one("t-1", kT0 + 10);
  EXPECT_EQ(this->counts(), (DispatchCounts{3, 1, 0, 0, 0, 0}));
  ASSERT_TRUE(is_ok(s.ack(Fence::of(first), kT0 + 11)));
  EXPECT_EQ(this->counts(), (DispatchCounts{3, 0, 1, 0, 0, 0}));
  ASSERT_TRUE(is_ok(s.cancel("d-4", kT0 + 12)));
  EXPECT_EQ(this->counts(), (DispatchCounts{2, 0, 1, 1, 0, 0}));
  const RunDispatch second = this->claim_one("t-1", kT0 + 13);
  ASSERT_TRUE(is_ok(s.nack(Fence::of(second), kT0 + 14, "retry", kT0 + 14)));
  EXPECT_EQ(this->counts(), (DispatchCounts{2, 0, 1, 1, 0, 0}));
  const RunDispatch third = this->claim_one("t-1", kT0 + 15);
  ASSERT_TRUE(is_ok(s.dead_letter(Fence::of(third), "fatal", kT0 + 16)));
  EXPECT_EQ(this->counts(), (DispatchCounts{1, 0, 1, 1, 0, 1}));
  ASSERT_TRUE(is_ok(s.interrupt("t-1", kT0 + 17)));
  EXPECT_EQ(this->counts(), (DispatchCounts{0, 0, 1, 1, 1, 1}));
  ASSERT_TRUE(is_ok(s.purge_terminal(kT0 + 1'000)));
  EXPECT_EQ(this->counts(), (DispatchCounts{0, 0, 0, 0, 0, 0}));
}

// ---- ThreadRunStore: commit_run_append -------------------------------------------------------

TYPED_TEST_P(StoreConformance, CommitRunAppendAppendsAtConsecutiveSeqAndWritesRun) {
  auto& s = this->store();
  const RunRecord created = make_run("r-1");
  const Message hello = user_message("m-1", "hello");
  const Message again = user_message("m-2", "again");
  auto v1 = s.commit_run_append("t-1", {hello, again}, 0, created, nullptr, kT0);
  ASSERT_TRUE(is_ok(v1));
  EXPECT_EQ(*v1, 2u);
  EXPECT_EQ(this->version("t-1"), 2u);
  EXPECT_EQ(this->load_run("r-1"), created);

  RunRecord running = make_run("r-1", "t-1", RunStatus::running, kT0s, kT0s + 5);
  running.steps = 1;
  const Message answer = assistant_message("m-3", "answer");
  auto v2 = s.commit_run_append("t-1", {answer}, 2, running, nullptr, kT0 + 5'000);
  ASSERT_TRUE(is_ok(v2));
  EXPECT_EQ(*v2, 3u);
  EXPECT_EQ(this->load_run("r-1"), running);
  const std::vector<MessageRecord> expected{
      MessageRecord{"t-1", 1, hello, std::string("r-1"), kT0s},
      MessageRecord{"t-1", 2, again, std::string("r-1"), kT0s},
      MessageRecord{"t-1", 3, answer, std::string("r-1"), kT0s + 5},
  };
  EXPECT_EQ(this->messages("t-1"), expected);
}

TYPED_TEST_P(StoreConformance, CommitRunStepStartRecordsTheStartAndTheRunInOneWrite) {
  auto& s = this->store();
  this->commit({user_message("m-1")}, 0, make_run("r-1"));
  const RunDispatch claimed = this->enqueue_claimed(make_dispatch("d-1", "t-1", "r-1"));
  RunRecord running = make_run("r-1", "t-1", RunStatus::running, kT0s, kT0s + 1);
  running.dispatch_id = "d-1";
  DispatchStep start;
  start.kind = DispatchStep::Kind::start;
  start.instance_id = "inst-1";
  auto committed = s.commit_run_step("t-1", {}, 1, running, Fence::of(claimed), start, kT0 + 1'000);
  ASSERT_TRUE(is_ok(committed)) << describe(committed.error());
  EXPECT_EQ(committed->version, 1u);
  RunDispatch expected = claimed;
  ASSERT_TRUE(is_ok(expected.record_dispatch_start("inst-1", kT0 + 1'000)));
  EXPECT_EQ(committed->dispatch, expected);
  EXPECT_EQ(this->load("d-1"), expected);
  EXPECT_EQ(this->load_run("r-1"), running);
}

TYPED_TEST_P(StoreConformance, CommitRunStepAckWritesTheEndTheResultAndTheReleaseTogether) {
  auto& s = this->store();
  const auto scene = this->fenced_scene();
  const RunRecord done = make_run("r-1", "t-1", RunStatus::done, kT0s, kT0s + 2);
  DispatchStep end;
  end.kind = DispatchStep::Kind::ack;
  end.result = done_result("r-1", "inst-1");
  auto committed = s.commit_run_step("t-1", {assistant_message("m-2")}, 1, done, scene.fence, end, kT0 + 2'000);
  ASSERT_TRUE(is_ok(committed)) << describe(committed.error());
  EXPECT_EQ(committed->version, 2u);
  RunDispatch expected = scene.claimed;
  ASSERT_TRUE(is_ok(expected.record_run_result(*end.result, kT0 + 2'000)));
  ASSERT_TRUE(is_ok(expected.mark_acked(kT0 + 2'000)));
  EXPECT_EQ(committed->dispatch, expected);
  EXPECT_EQ(this->load("d-1"), expected);
  EXPECT_EQ(this->load_run("r-1"), done);
  EXPECT_EQ(this->version("t-1"), 2u);
  // The thread is free again: its next dispatch can be claimed.
  this->enqueue(make_dispatch("d-2", "t-1", "r-2"));
  EXPECT_EQ(this->claim_one("t-1", kT0 + 3'000).dispatch_id, "d-2");
}

TYPED_TEST_P(StoreConformance, CommitRunStepDeadLetterRecordsItsError) {
  auto& s = this->store();
  const auto scene = this->fenced_scene();
  const RunRecord done = make_run("r-1", "t-1", RunStatus::done, kT0s, kT0s + 2);
  DispatchStep end;
  end.kind = DispatchStep::Kind::dead_letter;
  end.error = "fatal";
  auto committed = s.commit_run_step("t-1", {}, std::nullopt, done, scene.fence, end, kT0 + 2'000);
  ASSERT_TRUE(is_ok(committed)) << describe(committed.error());
  EXPECT_EQ(committed->dispatch.status, DispatchStatus::dead_letter);
  EXPECT_EQ(committed->dispatch.last_error, "fatal");
  EXPECT_EQ(this->load("d-1"), committed->dispatch);
}

TYPED_TEST_P(StoreConformance, CommitRunStepThatFailsWritesNeitherTheRunNorTheDispatch) {
  auto& s = this->store();
  const auto scene = this->fenced_scene();
  const Footprint before = this->footprint();
  const RunRecord done = make_run("r-1", "t-1", RunStatus::done, kT0s, kT0s + 2);
  DispatchStep end;
  end.kind = DispatchStep::Kind::ack;
  end.result = done_result("r-1", "inst-1");
  // A version conflict: the step is not made either.
  EXPECT_TRUE(fails_with(s.commit_run_step("t-1", {assistant_message("m-2")}, 7, done, scene.fence, end, kT0 + 2'000),
                         Errc::conflict));
  EXPECT_EQ(this->footprint(), before);
  // An illegal step (a result for another run): the run is not written either.
  end.result = done_result("r-other", "inst-1");
  EXPECT_TRUE(fails_with(s.commit_run_step("t-1", {assistant_message("m-2")}, 1, done, scene.fence, end, kT0 + 2'000),
                         Errc::validation));
  EXPECT_EQ(this->footprint(), before);
}

TYPED_TEST_P(StoreConformance, CommitRunStepAppendsItsEventInTheSameWrite) {
  auto& s = this->store();
  const auto scene = this->fenced_scene();
  auto earlier = s.append_event("r-1", text_event("t-1", "r-1", "hello"), &scene.fence);
  ASSERT_TRUE(is_ok(earlier));
  const RunRecord done = make_run("r-1", "t-1", RunStatus::done, kT0s, kT0s + 2);
  DispatchStep end;
  end.kind = DispatchStep::Kind::ack;
  end.result = done_result("r-1", "inst-1");
  end.event = text_event("t-1", "", "bye", kT0 + 2'000);
  // A version conflict writes the event no more than the rest.
  const Footprint before = this->footprint();
  EXPECT_TRUE(fails_with(s.commit_run_step("t-1", {}, 7, done, scene.fence, end, kT0 + 2'000), Errc::conflict));
  EXPECT_EQ(this->footprint(), before);
  auto committed = s.commit_run_step("t-1", {}, 1, done, scene.fence, end, kT0 + 2'000);
  ASSERT_TRUE(is_ok(committed)) << describe(committed.error());
  ASSERT_TRUE(committed->event.has_value());
  AgentEvent expected = *end.event;
  expected.run_id = "r-1";  // the run's, whatever the event said
  expected.seq = earlier->seq + 1;
  EXPECT_EQ(*committed->event, expected);
  auto log = s.read_events("r-1", 0, 0);
  ASSERT_TRUE(is_ok(log));
  ASSERT_EQ(log->size(), expected.seq);
  EXPECT_EQ(log->back(), expected);
  // The next append continues after it.
  auto later = s.append_event("r-1", text_event("t-1", "r-1", "late"), nullptr);
  ASSERT_TRUE(is_ok(later));
  EXPECT_EQ(later->seq, expected.seq + 1);
  // A step without an event returns none.
  this->commit({}, std::nullopt, make_run("r-2"));
  const RunDispatch claimed = this->enqueue_claimed(make_dispatch("d-2", "t-1", "r-2"));
  DispatchStep start;
  start.kind = DispatchStep::Kind::start;
  start.instance_id = "inst-2";
  RunRecord running = make_run("r-2", "t-1", RunStatus::running);
  running.dispatch_id = "d-2";
  auto started = s.commit_run_step("t-1", {}, std::nullopt, running, Fence::of(claimed), start, kT0 + 3'000);
  ASSERT_TRUE(is_ok(started)) << describe(started.error());
  EXPECT_FALSE(started->event.has_value());
}

TYPED_TEST_P(StoreConformance, CommitRunEnqueueAppendsTheStartEventOnlyWhenItStartsTheRun) {
  auto& s = this->store();
  InlineClaim claim = inline_start_of("r-1", "d-1");
  claim.start_event = text_event("t-1", "r-1", "started", kT0);
  EnqueueOptions options;
  options.claim = claim;
  auto first = s.commit_run_enqueue("t-1", {user_message("m-1")}, 0, make_run("r-1"),
                                    make_dispatch("d-1", "t-1", "r-1"), options, kT0);
  ASSERT_TRUE(is_ok(first)) << describe(first.error());
  ASSERT_EQ(first->dispatch.status, DispatchStatus::claimed);
  AgentEvent expected = *claim.start_event;
  expected.seq = 1;
  ASSERT_TRUE(first->event.has_value());
  EXPECT_EQ(*first->event, expected);
  EXPECT_EQ(*s.read_events("r-1", 0, 0), std::vector<AgentEvent>{expected});
  // Not claimed, so not started: no event.
  options.claim->started_run = make_run("r-2", "t-1", RunStatus::running);
  options.claim->start_instance_id = "instance-2";
  options.claim->start_event = text_event("t-1", "r-2", "started", kT0 + 1);
  auto second = s.commit_run_enqueue("t-1", {}, std::nullopt, make_run("r-2"), make_dispatch("d-2", "t-1", "r-2"),
                                     options, kT0 + 1);
  ASSERT_TRUE(is_ok(second)) << describe(second.error());
  EXPECT_EQ(second->dispatch.status, DispatchStatus::queued);
  EXPECT_FALSE(second->event.has_value());
  EXPECT_TRUE(s.read_events("r-2", 0, 0)->empty());
  // A start event without a start: refused, nothing written.
  options.claim->started_run.reset();
  options.claim->start_instance_id.clear();
  EXPECT_TRUE(fails_with(s.commit_run_enqueue("t-2", {}, std::nullopt, make_run("r-3", "t-2"),
                                              make_dispatch("d-3", "t-2", "r-3"), options, kT0),
                         Errc::validation));
  EXPECT_EQ(this->load("d-3"), std::nullopt);
}

// A starter for claim_and_start that starts the run as the engine does (Running, the claimed
// dispatch's id, updated a second later) with a run_start-like event, and counts its calls.
struct CountingStarter {
  int calls = 0;
  std::optional<RunRecord> seen_run;
  std::optional<RunDispatch> seen_dispatch;
  bool decline = false;
  std::string run_id_override;
  RunStarter starter() {
    return [this](const RunDispatch& claimed, const RunRecord& run) -> std::optional<StartedRun> {
      ++calls;
      seen_dispatch = claimed;
      seen_run = run;
      if (decline) return std::nullopt;
      StartedRun started{"instance-" + claimed.dispatch_id,
                         make_run(run_id_override.empty() ? run.run_id : run_id_override, run.thread_id,
                                  RunStatus::running, run.created_at, run.created_at + 1),
                         text_event(run.thread_id, run.run_id, "started", kT0 + 1)};
      started.run.dispatch_id = claimed.dispatch_id;
      return started;
    };
  }
};

TYPED_TEST_P(StoreConformance, ClaimAndStartStartsAFirstAttemptsCreatedRunInTheClaimsWrite) {
  auto& s = this->store();
  this->commit({user_message("m-1")}, 0, make_run("r-1"));
  this->enqueue(make_dispatch("d-1", "t-1", "r-1"));
  CountingStarter counting;
  auto claimed = s.claim_and_start("t-1", kConsumer, kLeaseMs, kT0 + 1, counting.starter(), Durability::synced);
  ASSERT_TRUE(is_ok(claimed)) << describe(claimed.error());
  ASSERT_TRUE(claimed->has_value());
  const ClaimStart& out = **claimed;
  // The starter saw the dispatch as claimed and the run as stored.
  EXPECT_EQ(counting.calls, 1);
  EXPECT_EQ(counting.seen_dispatch->status, DispatchStatus::claimed);
  EXPECT_EQ(counting.seen_run, make_run("r-1"));
  // The dispatch: claimed, its start recorded; the run started; the event the run's first.
  EXPECT_EQ(out.dispatch.status, DispatchStatus::claimed);
  EXPECT_EQ(out.dispatch.claimed_by, std::optional<std::string>(kConsumer));
  EXPECT_EQ(out.dispatch.dispatch_instance_id, std::optional<std::string>("instance-d-1"));
  EXPECT_EQ(this->load("d-1"), out.dispatch);
  ASSERT_TRUE(out.run.has_value());
  EXPECT_EQ(out.run->status, RunStatus::running);
  EXPECT_EQ(this->load_run("r-1"), out.run);
  EXPECT_EQ(*s.latest_run("t-1"), out.run);
  ASSERT_TRUE(out.event.has_value());
  AgentEvent expected = text_event("t-1", "r-1", "started", kT0 + 1);
  expected.seq = 1;
  EXPECT_EQ(*out.event, expected);
  EXPECT_EQ(*s.read_events("r-1", 0, 0), std::vector<AgentEvent>{expected});
  // The run's status listings moved with it.
  auto running = s.list_runs_by_status(RunStatus::running, 0, 0);
  ASSERT_TRUE(is_ok(running));
  ASSERT_EQ(running->items.size(), 1u);
  EXPECT_EQ(running->items.front().run_id, "r-1");
  EXPECT_TRUE(s.list_runs_by_status(RunStatus::created, 0, 0)->items.empty());
  // Fenced writes of the started dispatch go on as after commit_run_step's start.
  const Fence fence = Fence::of(out.dispatch);
  auto event = s.append_event("r-1", text_event("t-1", "r-1", "more", kT0 + 2), &fence);
  ASSERT_TRUE(is_ok(event)) << describe(event.error());
  EXPECT_EQ(event->seq, 2u);
  // Nothing more to claim on the thread: nothing, and the starter is not asked.
  auto again = s.claim_and_start("t-1", kConsumer, kLeaseMs, kT0 + 3, counting.starter(), Durability::synced);
  ASSERT_TRUE(is_ok(again));
  EXPECT_FALSE(again->has_value());
  EXPECT_EQ(counting.calls, 1);
}

TYPED_TEST_P(StoreConformance, ClaimAndStartClaimsAloneWhenTheRunCannotStartThere) {
  auto& s = this->store();
  // The starter declines: the claim alone, the run still Created, no event.
  this->commit({}, std::nullopt, make_run("r-1"));
  this->enqueue(make_dispatch("d-1", "t-1", "r-1"));
  CountingStarter declining;
  declining.decline = true;
  auto alone = s.claim_and_start("t-1", kConsumer, kLeaseMs, kT0 + 1, declining.starter(), Durability::deferred);
  ASSERT_TRUE(is_ok(alone)) << describe(alone.error());
  ASSERT_TRUE(alone->has_value());
  EXPECT_EQ((*alone)->dispatch.status, DispatchStatus::claimed);
  EXPECT_FALSE((*alone)->run.has_value());
  EXPECT_FALSE((*alone)->event.has_value());
  EXPECT_EQ(declining.calls, 1);
  EXPECT_EQ(this->load_run("r-1")->status, RunStatus::created);
  EXPECT_TRUE(s.read_events("r-1", 0, 0)->empty());
  // A retry (attempt 2): the claim alone, the starter not asked.
  ASSERT_TRUE(is_ok(s.nack(Fence::of((*alone)->dispatch), kT0 + 2, "again", kT0 + 2)));
  CountingStarter counting;
  auto retry = s.claim_and_start("t-1", kConsumer, kLeaseMs, kT0 + 3, counting.starter(), Durability::synced);
  ASSERT_TRUE(is_ok(retry)) << describe(retry.error());
  ASSERT_TRUE(retry->has_value());
  EXPECT_EQ((*retry)->dispatch.attempt_count, 1u);
  EXPECT_FALSE((*retry)->run.has_value());
  EXPECT_EQ(counting.calls, 0);
  // A run that is not Created (a waiting run resumed by a new dispatch): the claim alone.
  this->commit({}, std::nullopt, make_run("r-2", "t-2", RunStatus::waiting));
  this->enqueue(make_dispatch("d-2", "t-2", "r-2"));
  auto waiting = s.claim_and_start("t-2", kConsumer, kLeaseMs, kT0 + 4, counting.starter(), Durability::synced);
  ASSERT_TRUE(is_ok(waiting)) << describe(waiting.error());
  ASSERT_TRUE(waiting->has_value());
  EXPECT_FALSE((*waiting)->run.has_value());
  EXPECT_EQ(counting.calls, 0);
  EXPECT_EQ(this->load_run("r-2")->status, RunStatus::waiting);
  // A dispatch whose run does not exist: the claim alone.
  this->enqueue(make_dispatch("d-3", "t-3", "r-missing"));
  auto missing = s.claim_and_start("t-3", kConsumer, kLeaseMs, kT0 + 5, counting.starter(), Durability::synced);
  ASSERT_TRUE(is_ok(missing)) << describe(missing.error());
  ASSERT_TRUE(missing->has_value());
  EXPECT_FALSE((*missing)->run.has_value());
  EXPECT_EQ(counting.calls, 0);
  // A thread with a claimed dispatch: nothing more is claimed.
  this->commit({}, std::nullopt, make_run("r-4", "t-3"));
  this->enqueue(make_dispatch("d-4", "t-3", "r-4"));
  auto busy = s.claim_and_start("t-3", kConsumer, kLeaseMs, kT0 + 6, counting.starter(), Durability::synced);
  ASSERT_TRUE(is_ok(busy));
  EXPECT_FALSE(busy->has_value());
  EXPECT_EQ(this->load("d-4")->status, DispatchStatus::queued);
}

TYPED_TEST_P(StoreConformance, ClaimAndStartRefusesAStartOfAnotherRunAndWritesNothing) {
  auto& s = this->store();
  this->commit({user_message("m-1")}, 0, make_run("r-1"));
  this->enqueue(make_dispatch("d-1", "t-1", "r-1"));
  const Footprint before = this->footprint();
  CountingStarter wrong;
  wrong.run_id_override = "r-other";
  EXPECT_TRUE(fails_with(s.claim_and_start("t-1", kConsumer, kLeaseMs, kT0 + 1, wrong.starter(), Durability::synced),
                         Errc::validation));
  EXPECT_EQ(this->footprint(), before);
  EXPECT_EQ(this->load("d-1")->status, DispatchStatus::queued);
  // The dispatch is still claimable.
  EXPECT_EQ(this->claim_one("t-1", kT0 + 2).dispatch_id, "d-1");
}

TYPED_TEST_P(StoreConformance, ThreadStateTellsQueuedAndClaimedWorkAndTheEpoch) {
  auto& s = this->store();
  auto unknown = s.thread_state("t-none");
  ASSERT_TRUE(is_ok(unknown));
  EXPECT_EQ(*unknown, ThreadQueueState{});
  this->enqueue(make_dispatch("d-1", "t-1", "r-1"));
  this->enqueue(make_dispatch("d-2", "t-1", "r-2"));
  EXPECT_EQ(*s.thread_state("t-1"), (ThreadQueueState{0, 2, std::nullopt}));
  EXPECT_EQ(this->claim_one("t-1", kT0 + 1).dispatch_id, "d-1");
  EXPECT_EQ(*s.thread_state("t-1"), (ThreadQueueState{0, 1, std::string("d-1")}));
  ASSERT_TRUE(is_ok(s.interrupt("t-1", kT0 + 2)));  // supersedes d-2, leaves d-1 Claimed (stale)
  EXPECT_EQ(*s.thread_state("t-1"), (ThreadQueueState{1, 0, std::string("d-1")}));
}

TYPED_TEST_P(StoreConformance, CommitRunEnqueueWritesTheRunItsMessagesAndItsDispatchTogether) {
  auto& s = this->store();
  const RunRecord created = make_run("r-1");
  const RunDispatch dispatch = make_dispatch("d-1", "t-1", "r-1");
  auto committed = s.commit_run_enqueue("t-1", {user_message("m-1")}, 0, created, dispatch,
                                        bounded_to(2), kT0);
  ASSERT_TRUE(is_ok(committed)) << describe(committed.error());
  EXPECT_EQ(committed->version, 1u);
  EXPECT_EQ(committed->dispatch.status, DispatchStatus::queued);
  EXPECT_EQ(this->load("d-1"), committed->dispatch);
  EXPECT_EQ(this->load_run("r-1"), created);
  EXPECT_EQ(this->claim_one("t-1", kT0 + 1).dispatch_id, "d-1");
}

TYPED_TEST_P(StoreConformance, CommitRunEnqueueClaimsInlineOnlyWhenTheThreadAllowsIt) {
  auto& s = this->store();
  const InlineClaim claim = inline_claim_by("consumer-a", false);
  // An idle thread: stored Claimed, with a token and a lease from now.
  auto first = s.commit_run_enqueue("t-1", {}, std::nullopt, make_run("r-1"), make_dispatch("d-1", "t-1", "r-1"),
                                    EnqueueOptions{0, claim}, kT0);
  ASSERT_TRUE(is_ok(first)) << describe(first.error());
  EXPECT_EQ(first->dispatch.status, DispatchStatus::claimed);
  EXPECT_EQ(first->dispatch.claimed_by, "consumer-a");
  EXPECT_FALSE(first->dispatch.claim_token.value_or("").empty());
  EXPECT_EQ(first->dispatch.lease_until, kT0 + 30'000);
  EXPECT_EQ(this->load("d-1"), first->dispatch);
  EXPECT_EQ(*s.thread_state("t-1"), (ThreadQueueState{0, 0, std::string("d-1")}));
  // The thread has a Claimed dispatch: stored Queued.
  auto second = s.commit_run_enqueue("t-1", {}, std::nullopt, make_run("r-2"), make_dispatch("d-2", "t-1", "r-2"),
                                     EnqueueOptions{0, claim}, kT0 + 1);
  ASSERT_TRUE(is_ok(second));
  EXPECT_EQ(second->dispatch.status, DispatchStatus::queued);
  // Another thread with a Queued dispatch: only_if_no_queued keeps the new one Queued, the
  // foreground form claims it all the same (as claim_dispatch would).
  this->enqueue(make_dispatch("d-3", "t-2", "r-3"));
  auto third = s.commit_run_enqueue("t-2", {}, std::nullopt, make_run("r-4", "t-2"), make_dispatch("d-4", "t-2", "r-4"),
                                    EnqueueOptions{0, inline_claim_by("consumer-a", true)}, kT0 + 2);
  ASSERT_TRUE(is_ok(third));
  EXPECT_EQ(third->dispatch.status, DispatchStatus::queued);
  auto fourth = s.commit_run_enqueue("t-2", {}, std::nullopt, make_run("r-5", "t-2"), make_dispatch("d-5", "t-2", "r-5"),
                                     EnqueueOptions{0, claim}, kT0 + 3);
  ASSERT_TRUE(is_ok(fourth));
  EXPECT_EQ(fourth->dispatch.status, DispatchStatus::claimed);
  // A plain enqueue takes no inline claim.
  EXPECT_TRUE(fails_with(s.enqueue(make_dispatch("d-6", "t-3", "r-6"), EnqueueOptions{0, claim}), Errc::validation));
}

TYPED_TEST_P(StoreConformance, CommitRunEnqueueStartsTheRunInTheSameWriteWhenItClaims) {
  auto& s = this->store();
  const InlineClaim claim = inline_start_of("r-1", "d-1");
  EnqueueOptions options;
  options.claim = claim;
  // Claimed: the dispatch's start is recorded and the started record is the one written.
  auto first = s.commit_run_enqueue("t-1", {user_message("m-1")}, 0, make_run("r-1"),
                                    make_dispatch("d-1", "t-1", "r-1"), options, kT0);
  ASSERT_TRUE(is_ok(first)) << describe(first.error());
  EXPECT_EQ(first->dispatch.status, DispatchStatus::claimed);
  EXPECT_EQ(first->dispatch.dispatch_instance_id, "instance-1");
  EXPECT_EQ(first->dispatch.run_status, RunStatus::running);
  EXPECT_EQ(this->load("d-1"), first->dispatch);
  EXPECT_EQ(this->load_run("r-1"), claim.started_run);
  EXPECT_EQ(s.latest_run("t-1")->value().status, RunStatus::running);
  // Not claimed (the thread has a Claimed dispatch): neither is used.
  options.claim->started_run = make_run("r-2", "t-1", RunStatus::running);
  options.claim->start_instance_id = "instance-2";
  auto second = s.commit_run_enqueue("t-1", {}, std::nullopt, make_run("r-2"), make_dispatch("d-2", "t-1", "r-2"),
                                     options, kT0 + 1);
  ASSERT_TRUE(is_ok(second)) << describe(second.error());
  EXPECT_EQ(second->dispatch.status, DispatchStatus::queued);
  EXPECT_EQ(second->dispatch.dispatch_instance_id, std::nullopt);
  EXPECT_EQ(this->load_run("r-2"), make_run("r-2"));
  // Half a start, or the start of another run: refused, nothing written.
  options.claim->start_instance_id.clear();
  EXPECT_TRUE(fails_with(s.commit_run_enqueue("t-2", {}, std::nullopt, make_run("r-3", "t-2"),
                                              make_dispatch("d-3", "t-2", "r-3"), options, kT0),
                         Errc::validation));
  options.claim->start_instance_id = "instance-3";
  EXPECT_TRUE(fails_with(s.commit_run_enqueue("t-2", {}, std::nullopt, make_run("r-3", "t-2"),
                                              make_dispatch("d-3", "t-2", "r-3"), options, kT0),
                         Errc::validation));
  EXPECT_EQ(this->load_run("r-3"), std::nullopt);
  EXPECT_EQ(this->load("d-3"), std::nullopt);
}

TYPED_TEST_P(StoreConformance, CommitRunEnqueueThatIsRefusedWritesNoRunAndNoMessage) {
  auto& s = this->store();
  this->enqueue(make_dispatch("d-0", "t-1", "r-0"));
  const auto version = this->version("t-1");
  // Past the queue bound.
  EXPECT_TRUE(fails_with(s.commit_run_enqueue("t-1", {user_message("m-1")}, version, make_run("r-1"),
                                              make_dispatch("d-1", "t-1", "r-1"), bounded_to(1), kT0),
                         Errc::queue_full));
  // A duplicate dispatch id.
  EXPECT_TRUE(fails_with(s.commit_run_enqueue("t-1", {user_message("m-1")}, version, make_run("r-1"),
                                              make_dispatch("d-0", "t-1", "r-1"), EnqueueOptions{}, kT0),
                         Errc::conflict));
  // A dispatch of another run.
  EXPECT_TRUE(fails_with(s.commit_run_enqueue("t-1", {user_message("m-1")}, version, make_run("r-1"),
                                              make_dispatch("d-1", "t-1", "r-9"), EnqueueOptions{}, kT0),
                         Errc::validation));
  // A stale version: neither is written.
  EXPECT_TRUE(fails_with(s.commit_run_enqueue("t-1", {user_message("m-1")}, version + 3, make_run("r-1"),
                                              make_dispatch("d-1", "t-1", "r-1"), EnqueueOptions{}, kT0),
                         Errc::conflict));
  EXPECT_EQ(this->version("t-1"), version);
  EXPECT_EQ(this->load_run("r-1"), std::nullopt);
  EXPECT_EQ(this->load("d-1"), std::nullopt);
}

TYPED_TEST_P(StoreConformance, CommitRunAppendWithStaleVersionIsConflictAndWritesNothing) {
  auto& s = this->store();
  const RunRecord first = make_run("r-1");
  this->commit({user_message("m-1")}, 0, first);
  const auto before = this->messages("t-1");
  for (const std::uint64_t expected : {0u, 2u}) {
    EXPECT_TRUE(fails_with(
        s.commit_run_append("t-1", {user_message("m-2")}, expected, make_run("r-2"), nullptr, kT0 + 1),
        Errc::conflict))
        << "expected version " << expected;
  }
  EXPECT_EQ(this->version("t-1"), 1u);
  EXPECT_EQ(this->messages("t-1"), before);
  EXPECT_EQ(this->load_run("r-2"), std::nullopt);
  auto latest = s.latest_run("t-1");
  ASSERT_TRUE(is_ok(latest));
  EXPECT_EQ(*latest, first);
  auto message = s.load_message_record("t-1", "m-2");
  ASSERT_TRUE(is_ok(message));
  EXPECT_EQ(*message, std::nullopt);
}

TYPED_TEST_P(StoreConformance, CommitRunAppendWithoutMessagesUpsertsRunOnly) {
  auto& s = this->store();
  this->commit({user_message("m-1")}, 0, make_run("r-1"));
  const RunRecord done = make_run("r-1", "t-1", RunStatus::done, kT0s, kT0s + 9);
  auto v = s.commit_run_append("t-1", {}, std::nullopt, done, nullptr, kT0 + 9'000);
  ASSERT_TRUE(is_ok(v));
  EXPECT_EQ(*v, 1u);
  EXPECT_EQ(this->load_run("r-1"), done);
  EXPECT_EQ(this->version("t-1"), 1u);
}

TYPED_TEST_P(StoreConformance, CommitRunAppendWithEmptyDeltaStillChecksVersion) {
  auto& s = this->store();
  const RunRecord created = make_run("r-1");
  this->commit({user_message("m-1")}, 0, created);
  EXPECT_TRUE(fails_with(s.commit_run_append("t-1", {}, 3, make_run("r-1", "t-1", RunStatus::running), nullptr, kT0),
                         Errc::conflict));
  EXPECT_EQ(this->load_run("r-1"), created);
  auto ok = s.commit_run_append("t-1", {}, 1, make_run("r-1", "t-1", RunStatus::running), nullptr, kT0);
  ASSERT_TRUE(is_ok(ok));
  EXPECT_EQ(*ok, 1u);
}

TYPED_TEST_P(StoreConformance, CommitRunAppendRejectsAlreadyCommittedMessageId) {
  auto& s = this->store();
  this->commit({user_message("m-1")}, 0, make_run("r-1"));
  const auto before = this->messages("t-1");
  EXPECT_TRUE(fails_with(s.commit_run_append("t-1", {user_message("m-2"), user_message("m-1", "again")}, 1,
                                             make_run("r-2"), nullptr, kT0 + 1),
                         Errc::validation));
  EXPECT_EQ(this->messages("t-1"), before);
  EXPECT_EQ(this->load_run("r-2"), std::nullopt);
}

TYPED_TEST_P(StoreConformance, CommitRunAppendRejectsMessageIdTwiceInDelta) {
  auto& s = this->store();
  EXPECT_TRUE(fails_with(s.commit_run_append("t-1", {user_message("m-1"), user_message("m-1", "twice")}, 0,
                                             make_run("r-1"), nullptr, kT0),
                         Errc::validation));
  EXPECT_EQ(this->version("t-1"), 0u);
  EXPECT_EQ(this->load_run("r-1"), std::nullopt);
}

TYPED_TEST_P(StoreConformance, CommitRunAppendRequiresExpectedVersionForMessages) {
  auto& s = this->store();
  EXPECT_TRUE(fails_with(
      s.commit_run_append("t-1", {user_message("m-1")}, std::nullopt, make_run("r-1"), nullptr, kT0),
      Errc::validation));
  EXPECT_EQ(this->version("t-1"), 0u);
  EXPECT_EQ(this->load_run("r-1"), std::nullopt);
}

TYPED_TEST_P(StoreConformance, CommitRunAppendRejectsRunOfAnotherThread) {
  auto& s = this->store();
  // The record names another thread.
  EXPECT_TRUE(fails_with(s.commit_run_append("t-1", {user_message("m-1")}, 0, make_run("r-1", "t-2"), nullptr, kT0),
                         Errc::validation));
  EXPECT_EQ(this->version("t-1"), 0u);
  // The run is stored on another thread already.
  const RunRecord original = make_run("r-1", "t-1");
  this->commit({user_message("m-1")}, 0, original);
  EXPECT_TRUE(fails_with(s.commit_run_append("t-2", {user_message("m-2")}, 0, make_run("r-1", "t-2"), nullptr, kT0),
                         Errc::validation));
  EXPECT_EQ(this->load_run("r-1"), original);
  EXPECT_EQ(this->version("t-2"), 0u);
  auto runs = s.list_runs("t-2", 0, 10);
  ASSERT_TRUE(is_ok(runs));
  EXPECT_EQ(runs->total, 0u);
}

TYPED_TEST_P(StoreConformance, CommitRunAppendRejectsBrokenRunOrMessages) {
  auto& s = this->store();
  RunRecord done_without_finish = make_run("r-1", "t-1", RunStatus::done);
  done_without_finish.finished_at.reset();
  EXPECT_TRUE(fails_with(s.commit_run_append("t-1", {user_message("m-1")}, 0, done_without_finish, nullptr, kT0),
                         Errc::validation));
  Message tool = user_message("m-2");
  tool.role = Role::tool;  // without tool_call_id
  EXPECT_TRUE(fails_with(s.commit_run_append("t-1", {tool}, 0, make_run("r-1"), nullptr, kT0), Errc::validation));
  EXPECT_TRUE(
      fails_with(s.commit_run_append("t-1", {user_message(" ")}, 0, make_run("r-1"), nullptr, kT0), Errc::validation));
  EXPECT_TRUE(fails_with(s.commit_run_append("", {}, std::nullopt, make_run("r-1", ""), nullptr, kT0),
                         Errc::validation));
  EXPECT_EQ(this->version("t-1"), 0u);
  EXPECT_EQ(this->load_run("r-1"), std::nullopt);
}

TYPED_TEST_P(StoreConformance, CommitRunAppendWithFenceOfAnotherRunIsValidation) {
  auto& s = this->store();
  const auto scene = this->fenced_scene();
  const Footprint before = this->footprint();
  EXPECT_TRUE(fails_with(s.commit_run_append("t-1", {assistant_message("m-2")}, 1,
                                             make_run("r-2", "t-1", RunStatus::running), &scene.fence, kT0 + 10),
                         Errc::validation));
  EXPECT_EQ(this->footprint(), before);
  EXPECT_EQ(this->load_run("r-2"), std::nullopt);
}

TYPED_TEST_P(StoreConformance, CommitRunAppendWithFenceOfAnotherThreadIsValidation) {
  auto& s = this->store();
  const auto scene = this->fenced_scene();
  const Footprint before = this->footprint();
  EXPECT_TRUE(fails_with(s.commit_run_append("t-2", {user_message("m-9")}, 0, make_run("r-9", "t-2"), &scene.fence,
                                             kT0 + 10),
                         Errc::validation));
  EXPECT_EQ(this->footprint(), before);
  EXPECT_EQ(this->version("t-2"), 0u);
  EXPECT_EQ(this->load_run("r-9"), std::nullopt);
}

TYPED_TEST_P(StoreConformance, CommitRunAppendUnderFenceStillChecksVersion) {
  auto& s = this->store();
  const auto scene = this->fenced_scene();
  const Footprint before = this->footprint();
  EXPECT_TRUE(fails_with(s.commit_run_append("t-1", {assistant_message("m-2")}, 0,
                                             make_run("r-1", "t-1", RunStatus::running), &scene.fence, kT0 + 10),
                         Errc::conflict));
  EXPECT_EQ(this->footprint(), before);
}

// ---- ThreadRunStore: reading the committed log -----------------------------------------------

TYPED_TEST_P(StoreConformance, LoadCommittedMessagesReadsFromSeqWithLimit) {
  auto& s = this->store();
  std::vector<Message> five;
  for (int i = 1; i <= 5; ++i) five.push_back(user_message("m-" + std::to_string(i)));
  this->commit(five, 0, make_run("r-1"));
  struct Case {
    std::uint64_t from_seq;
    std::uint32_t limit;
    std::vector<std::uint64_t> seqs;
  };
  for (const auto& c : std::vector<Case>{{0, 0, {1, 2, 3, 4, 5}},
                                         {1, 0, {1, 2, 3, 4, 5}},
                                         {3, 0, {3, 4, 5}},
                                         {3, 2, {3, 4}},
                                         {1, 1, {1}},
                                         {5, 10, {5}},
                                         {6, 0, {}}}) {
    auto records = s.load_committed_messages("t-1", c.from_seq, c.limit);
    ASSERT_TRUE(is_ok(records));
    EXPECT_EQ(seqs_of(*records), c.seqs) << "from " << c.from_seq << " limit " << c.limit;
    for (const auto& r : *records) EXPECT_EQ(r.message.id, "m-" + std::to_string(r.seq));
  }
}

TYPED_TEST_P(StoreConformance, UnknownThreadHasEmptyHistory) {
  auto& s = this->store();
  EXPECT_EQ(this->version("t-unknown"), 0u);
  EXPECT_TRUE(this->messages("t-unknown").empty());
  auto range = s.load_message_records_range("t-unknown", 1, 10);
  ASSERT_TRUE(is_ok(range));
  EXPECT_TRUE(range->empty());
  auto record = s.load_message_record("t-unknown", "m-1");
  ASSERT_TRUE(is_ok(record));
  EXPECT_EQ(*record, std::nullopt);
  auto latest = s.latest_run("t-unknown");
  ASSERT_TRUE(is_ok(latest));
  EXPECT_EQ(*latest, std::nullopt);
  auto runs = s.list_runs("t-unknown", 0, 10);
  ASSERT_TRUE(is_ok(runs));
  EXPECT_TRUE(runs->items.empty());
  EXPECT_EQ(runs->total, 0u);
  EXPECT_EQ(this->load_run("r-unknown"), std::nullopt);
}

TYPED_TEST_P(StoreConformance, LoadMessageRecordFindsMessageById) {
  auto& s = this->store();
  this->commit({user_message("m-1"), user_message("m-2", "second")}, 0, make_run("r-1"), kT0 + 3'000);
  this->commit({user_message("m-9")}, 0, make_run("r-9", "t-2"));
  auto found = s.load_message_record("t-1", "m-2");
  ASSERT_TRUE(is_ok(found));
  EXPECT_EQ(*found, (MessageRecord{"t-1", 2, user_message("m-2", "second"), std::string("r-1"), kT0s + 3}));
  auto unknown = s.load_message_record("t-1", "m-3");
  ASSERT_TRUE(is_ok(unknown));
  EXPECT_EQ(*unknown, std::nullopt);
  auto other_thread = s.load_message_record("t-1", "m-9");
  ASSERT_TRUE(is_ok(other_thread));
  EXPECT_EQ(*other_thread, std::nullopt);
}

TYPED_TEST_P(StoreConformance, LoadMessageRecordsRangeIsInclusiveAndClipped) {
  auto& s = this->store();
  std::vector<Message> five;
  for (int i = 1; i <= 5; ++i) five.push_back(user_message("m-" + std::to_string(i)));
  this->commit(five, 0, make_run("r-1"));
  struct Case {
    std::uint64_t from_seq;
    std::uint64_t to_seq;
    std::vector<std::uint64_t> seqs;
  };
  for (const auto& c : std::vector<Case>{{2, 4, {2, 3, 4}},
                                         {1, 5, {1, 2, 3, 4, 5}},
                                         {4, 99, {4, 5}},
                                         {0, 1, {1}},
                                         {3, 3, {3}},
                                         {3, 2, {}},
                                         {6, 9, {}}}) {
    auto records = s.load_message_records_range("t-1", c.from_seq, c.to_seq);
    ASSERT_TRUE(is_ok(records));
    EXPECT_EQ(seqs_of(*records), c.seqs) << c.from_seq << ".." << c.to_seq;
  }
}

// ---- ThreadRunStore: runs --------------------------------------------------------------------

TYPED_TEST_P(StoreConformance, LatestRunIsTheGreatestUpdatedAtWrittenLast) {
  auto& s = this->store();
  auto latest_id = [&] { return this->latest_run_id("t-1"); };
  this->commit({}, std::nullopt, make_run("r-1", "t-1", RunStatus::created, kT0s, kT0s + 100));
  EXPECT_EQ(latest_id(), "r-1");
  this->commit({}, std::nullopt, make_run("r-2", "t-1", RunStatus::created, kT0s, kT0s + 50));
  EXPECT_EQ(latest_id(), "r-1") << "an older updated_at written later does not win";
  this->commit({}, std::nullopt, make_run("r-3", "t-1", RunStatus::created, kT0s, kT0s + 100));
  EXPECT_EQ(latest_id(), "r-3") << "a tie goes to the run written last";
  this->commit({}, std::nullopt, make_run("r-1", "t-1", RunStatus::running, kT0s, kT0s + 100));
  EXPECT_EQ(latest_id(), "r-1") << "rewriting a run counts as writing it last";
  const RunRecord newest = make_run("r-2", "t-1", RunStatus::done, kT0s, kT0s + 200);
  this->commit({}, std::nullopt, newest);
  auto latest = s.latest_run("t-1");
  ASSERT_TRUE(is_ok(latest));
  EXPECT_EQ(*latest, newest);
}

TYPED_TEST_P(StoreConformance, LatestRunMovesToAnotherRunWhenTheLatestIsRewrittenOlder) {
  auto latest_id = [&] { return this->latest_run_id("t-1"); };
  this->commit({}, std::nullopt, make_run("r-1", "t-1", RunStatus::created, kT0s, kT0s + 100));
  this->commit({}, std::nullopt, make_run("r-2", "t-1", RunStatus::created, kT0s, kT0s + 90));
  EXPECT_EQ(latest_id(), "r-1");
  this->commit({}, std::nullopt, make_run("r-1", "t-1", RunStatus::running, kT0s, kT0s + 80));
  EXPECT_EQ(latest_id(), "r-2") << "r-1 moved back behind r-2";
  this->commit({}, std::nullopt, make_run("r-3", "t-1", RunStatus::created, kT0s, kT0s + 95));
  EXPECT_EQ(latest_id(), "r-3") << "the watermark moved back with the latest run";
}

TYPED_TEST_P(StoreConformance, ListRunsOrdersByCreatedAtThenRunId) {
  auto& s = this->store();
  this->commit({}, std::nullopt, make_run("r-c", "t-1", RunStatus::created, kT0s + 10));
  this->commit({}, std::nullopt, make_run("r-a", "t-1", RunStatus::created, kT0s + 30));
  this->commit({}, std::nullopt, make_run("r-d", "t-1", RunStatus::created, kT0s + 20));
  this->commit({}, std::nullopt, make_run("r-b", "t-1", RunStatus::created, kT0s + 20));
  this->commit({}, std::nullopt, make_run("r-x", "t-2", RunStatus::created, kT0s));
  auto all = s.list_runs("t-1", 0, 100);
  ASSERT_TRUE(is_ok(all));
  EXPECT_EQ(run_ids_of(all->items), (std::vector<std::string>{"r-c", "r-b", "r-d", "r-a"}));
  EXPECT_EQ(all->total, 4u);
  EXPECT_EQ(all->items[0], make_run("r-c", "t-1", RunStatus::created, kT0s + 10));
  auto page = s.list_runs("t-1", 1, 2);
  ASSERT_TRUE(is_ok(page));
  EXPECT_EQ(run_ids_of(page->items), (std::vector<std::string>{"r-b", "r-d"}));
  EXPECT_EQ(page->total, 4u);
  auto past = s.list_runs("t-1", 4, 2);
  ASSERT_TRUE(is_ok(past));
  EXPECT_TRUE(past->items.empty());
  EXPECT_EQ(past->total, 4u);
}

TYPED_TEST_P(StoreConformance, ListRunsByStatusSpansThreadsOrderedByRunId) {
  auto& s = this->store();
  this->commit({}, std::nullopt, make_run("r-b", "t-1", RunStatus::waiting));
  this->commit({}, std::nullopt, make_run("r-a", "t-2", RunStatus::waiting));
  this->commit({}, std::nullopt, make_run("r-c", "t-1", RunStatus::done));
  this->commit({}, std::nullopt, make_run("r-d", "t-3", RunStatus::waiting));
  auto waiting = s.list_runs_by_status(RunStatus::waiting, 0, 100);
  ASSERT_TRUE(is_ok(waiting));
  EXPECT_EQ(run_ids_of(waiting->items), (std::vector<std::string>{"r-a", "r-b", "r-d"}));
  EXPECT_EQ(waiting->total, 3u);
  auto page = s.list_runs_by_status(RunStatus::waiting, 1, 1);
  ASSERT_TRUE(is_ok(page));
  EXPECT_EQ(run_ids_of(page->items), std::vector<std::string>{"r-b"});
  EXPECT_EQ(page->total, 3u);
  auto running = s.list_runs_by_status(RunStatus::running, 0, 100);
  ASSERT_TRUE(is_ok(running));
  EXPECT_TRUE(running->items.empty());
  EXPECT_EQ(running->total, 0u);

  // A status change moves the run between the lists.
  this->commit({}, std::nullopt, make_run("r-b", "t-1", RunStatus::done, kT0s, kT0s + 1));
  waiting = s.list_runs_by_status(RunStatus::waiting, 0, 100);
  ASSERT_TRUE(is_ok(waiting));
  EXPECT_EQ(run_ids_of(waiting->items), (std::vector<std::string>{"r-a", "r-d"}));
  auto done = s.list_runs_by_status(RunStatus::done, 0, 100);
  ASSERT_TRUE(is_ok(done));
  EXPECT_EQ(run_ids_of(done->items), (std::vector<std::string>{"r-b", "r-c"}));
  // The ids alone, from the same index.
  auto waiting_ids = s.run_ids_by_status(RunStatus::waiting);
  ASSERT_TRUE(is_ok(waiting_ids));
  EXPECT_EQ(*waiting_ids, (std::vector<std::string>{"r-a", "r-d"}));
  auto done_ids = s.run_ids_by_status(RunStatus::done);
  ASSERT_TRUE(is_ok(done_ids));
  EXPECT_EQ(*done_ids, (std::vector<std::string>{"r-b", "r-c"}));
  auto created_ids = s.run_ids_by_status(RunStatus::created);
  ASSERT_TRUE(is_ok(created_ids));
  EXPECT_TRUE(created_ids->empty());
}

TYPED_TEST_P(StoreConformance, ReusableWaitingRunIsTheLatestRunWhenWaiting) {
  auto& s = this->store();
  auto reusable = [&]() -> std::optional<RunRecord> {
    auto r = s.reusable_waiting_run("t-1");
    if (!r) {
      ADD_FAILURE() << describe(r.error());
      return std::nullopt;
    }
    return *r;
  };
  EXPECT_EQ(reusable(), std::nullopt);
  this->commit({}, std::nullopt, make_run("r-1", "t-1", RunStatus::created, kT0s, kT0s + 1));
  EXPECT_EQ(reusable(), std::nullopt);
  const RunRecord waiting = make_run("r-1", "t-1", RunStatus::waiting, kT0s, kT0s + 2);
  this->commit({}, std::nullopt, waiting);
  EXPECT_EQ(reusable(), waiting);
  // A newer run that is not waiting hides it.
  this->commit({}, std::nullopt, make_run("r-2", "t-1", RunStatus::done, kT0s, kT0s + 3));
  EXPECT_EQ(reusable(), std::nullopt);
  auto other = s.reusable_waiting_run("t-2");
  ASSERT_TRUE(is_ok(other));
  EXPECT_EQ(*other, std::nullopt);
}

// Every field of the stored values survives the store (codecs, indexes).
TYPED_TEST_P(StoreConformance, RunRecordsAndMessagesRoundTripEveryField) {
  auto& s = this->store();
  RunRecord done = samples::full_run_record();  // thread-1, Done
  done.waiting.reset();                         // a Done run carries no waiting state
  const Message assistant = samples::full_message();
  const Message tool = samples::full_tool_message();
  auto v = s.commit_run_append(done.thread_id, {assistant, tool}, 0, done, nullptr, kT0);
  ASSERT_TRUE(is_ok(v));
  EXPECT_EQ(this->load_run(done.run_id), done);
  EXPECT_EQ(this->messages(done.thread_id),
            (std::vector<MessageRecord>{MessageRecord{done.thread_id, 1, assistant, done.run_id, kT0s},
                                        MessageRecord{done.thread_id, 2, tool, done.run_id, kT0s}}));

  RunRecord waiting = samples::full_run_record();
  waiting.run_id = "run-2";
  waiting.status = RunStatus::waiting;
  waiting.outcome.reset();
  waiting.finished_at.reset();
  ASSERT_TRUE(is_ok(s.commit_run_append(waiting.thread_id, {}, std::nullopt, waiting, nullptr, kT0)));
  EXPECT_EQ(this->load_run("run-2"), waiting);
}

// ---- ThreadRunStore: event log ---------------------------------------------------------------

TYPED_TEST_P(StoreConformance, AppendEventAssignsConsecutiveSeqPerRun) {
  auto& s = this->store();
  for (int i = 1; i <= 3; ++i) {
    AgentEvent e = text_event("t-1", "r-1", "part " + std::to_string(i), kT0 + i);
    e.seq = 99;  // assigned by the log, whatever the caller says
    auto stored = s.append_event("r-1", e, nullptr);
    ASSERT_TRUE(is_ok(stored));
    AgentEvent expected = e;
    expected.seq = static_cast<std::uint64_t>(i);
    EXPECT_EQ(*stored, expected);
  }
  auto other = s.append_event("r-2", text_event("t-1", "r-2", "other run"), nullptr);
  ASSERT_TRUE(is_ok(other));
  EXPECT_EQ(other->seq, 1u);
  EXPECT_EQ(seqs_of(this->events("r-1")), (std::vector<std::uint64_t>{1, 2, 3}));
  EXPECT_EQ(this->events("r-1")[1].text, "part 2");
}

TYPED_TEST_P(StoreConformance, AppendEventStoresItUnderTheGivenRun) {
  auto& s = this->store();
  auto stored = s.append_event("r-1", text_event("t-1", "r-elsewhere", "x"), nullptr);
  ASSERT_TRUE(is_ok(stored));
  EXPECT_EQ(stored->run_id, "r-1");
  EXPECT_EQ(this->events("r-1"), std::vector<AgentEvent>{*stored});
  EXPECT_TRUE(this->events("r-elsewhere").empty());
  EXPECT_TRUE(fails_with(s.append_event("", text_event("t-1", "", "x"), nullptr), Errc::validation));
}

TYPED_TEST_P(StoreConformance, ReadEventsFromAnyOffsetWithLimit) {
  auto& s = this->store();
  for (int i = 1; i <= 4; ++i)
    ASSERT_TRUE(is_ok(s.append_event("r-1", text_event("t-1", "r-1", "e" + std::to_string(i), kT0 + i), nullptr)));
  struct Case {
    std::uint64_t after_seq;
    std::uint32_t limit;
    std::vector<std::uint64_t> seqs;
  };
  for (const auto& c : std::vector<Case>{{0, 0, {1, 2, 3, 4}},
                                         {1, 0, {2, 3, 4}},
                                         {1, 2, {2, 3}},
                                         {3, 5, {4}},
                                         {4, 0, {}},
                                         {10, 0, {}}}) {
    auto events = s.read_events("r-1", c.after_seq, c.limit);
    ASSERT_TRUE(is_ok(events));
    EXPECT_EQ(seqs_of(*events), c.seqs) << "after " << c.after_seq << " limit " << c.limit;
  }
  auto unknown = s.read_events("r-unknown", 0, 0);
  ASSERT_TRUE(is_ok(unknown));
  EXPECT_TRUE(unknown->empty());
}

TYPED_TEST_P(StoreConformance, AppendEventUnderFenceOfAnotherRunIsValidation) {
  auto& s = this->store();
  const auto scene = this->fenced_scene();
  EXPECT_TRUE(fails_with(s.append_event("r-2", text_event("t-1", "r-2", "x", kT0 + 10), &scene.fence),
                         Errc::validation));
  EXPECT_TRUE(this->events("r-2").empty());
  EXPECT_EQ(this->load("d-1"), scene.claimed);
}

TYPED_TEST_P(StoreConformance, AgentEventRoundTripsEveryField) {
  auto& s = this->store();
  const AgentEvent full = samples::full_agent_event();
  auto stored = s.append_event(full.run_id, full, nullptr);
  ASSERT_TRUE(is_ok(stored));
  AgentEvent expected = full;
  expected.seq = 1;
  EXPECT_EQ(*stored, expected);
  EXPECT_EQ(this->events(full.run_id), std::vector<AgentEvent>{expected});
}

// clang-format off
REGISTER_TYPED_TEST_SUITE_P(StoreConformance,
                            CommitRunEnqueueClaimsInlineOnlyWhenTheThreadAllowsIt,
                            CommitRunEnqueueAppendsTheStartEventOnlyWhenItStartsTheRun,
                            ClaimAndStartStartsAFirstAttemptsCreatedRunInTheClaimsWrite,
                            ClaimAndStartClaimsAloneWhenTheRunCannotStartThere,
                            ClaimAndStartRefusesAStartOfAnotherRunAndWritesNothing,
                            CommitRunStepAppendsItsEventInTheSameWrite,
                            CommitRunEnqueueStartsTheRunInTheSameWriteWhenItClaims,
                            ThreadStateTellsQueuedAndClaimedWorkAndTheEpoch,
                            CommitRunEnqueueWritesTheRunItsMessagesAndItsDispatchTogether,
                            CommitRunEnqueueThatIsRefusedWritesNoRunAndNoMessage,
                            CommitRunStepStartRecordsTheStartAndTheRunInOneWrite,
                            CommitRunStepAckWritesTheEndTheResultAndTheReleaseTogether,
                            CommitRunStepDeadLetterRecordsItsError,
                            CommitRunStepThatFailsWritesNeitherTheRunNorTheDispatch,
                            CommitRunStepWithStaleTokenIsFencedAndWritesNothing,
                            CommitRunStepAfterInterruptIsFencedAndOnlySupersedes,
                            CommitRunStepAfterLeaseReclaimIsFencedAndWritesNothing,
                            EnqueueStoresQueuedRecordStampedWithThreadEpoch,
                            EnqueueAfterInterruptGetsNewEpochAndIsClaimable,
                            EnqueueRejectsDuplicateDispatchIdWithConflict,
                            EnqueueRejectsIdOfTerminalDispatchWithConflict,
                            EnqueueRejectsInvalidRecordsWithValidation,
                            EnqueueRejectsDedupeKeyHeldByQueuedDispatch,
                            EnqueueRejectsDedupeKeyHeldByClaimedDispatch,
                            EnqueueAcceptsDedupeKeyHeldOnAnotherThread,
                            EnqueueReusesDedupeKeyOnceHolderIsTerminal,
                            EnqueuePastQueueBoundIsQueueFull,
                            EnqueueWithoutBoundAcceptsManyPerThread,
                            ClaimReturnsQueuedDispatchAsClaimed,
                            ClaimMintsNewTokenPerClaim,
                            ClaimOnUnknownThreadReturnsNothing,
                            ClaimRespectsAvailableAt,
                            ClaimOrdersByPriorityFirst,
                            ClaimOrdersByAvailableAtBeforeCreatedAt,
                            ClaimIsFifoWithinSamePriority,
                            ClaimBreaksFullTiesByDispatchId,
                            ClaimReturnsAtMostOneEvenWithLargerLimit,
                            ClaimKeepsThreadExclusive,
                            ClaimOnOneThreadDoesNotBlockAnother,
                            ClaimAfterInterruptSkipsSupersededAndTakesNewWork,
                            ClaimDispatchClaimsTheNamedDispatch,
                            ClaimDispatchIgnoresAvailableAt,
                            ClaimDispatchReturnsNoneForUnknownOrNotQueued,
                            ClaimDispatchReturnsNoneWhileThreadHasAClaim,
                            ClaimDispatchOfSupersededDispatchReturnsNone,
                            QueuedThreadIdsListsThreadsWithClaimableWork,
                            QueuedThreadIdsIncludesThreadOnceItsClaimEnds,
                            QueuedThreadIdsHonoursLimit,
                            NextAvailableAtIsEarliestFutureQueuedDispatch,
                            NextAvailableAtReportsNackRetry,
                            AckTransitionsToAckedKeepingProjection,
                            AckTwiceIsFenced,
                            NackReturnsToQueuedWithBackoff,
                            NackedDispatchIsClaimableOnlyFromRetryAt,
                            NackDeadLettersAtMaxAttempts,
                            DeadLetterTerminalizesWithErrorAndKeepsAttempts,
                            ExtendLeaseSetsDeadlineFromNow,
                            ExtendedLeaseIsNotReclaimedAtOldDeadline,
                            RecordDispatchStartMarksRunning,
                            RecordRunResultSetsProjectionAndStaysClaimed,
                            RecordRunResultForAnotherRunIsValidationAndWritesNothing,
                            RecordProjectionOnQueuedDispatchIsFencedAndWritesNothing,
                            SupersedeClaimedTerminalizesTheClaim,
                            SupersedeClaimedOfStaleClaimRaisesItsEpoch,
                            SupersedeClaimedWithWrongTokenIsFencedAndWritesNothing,
                            SupersedeClaimedOfQueuedOrUnknownDispatchFails,
                            DeferredWritesApplyAsSyncedOnesDo,
                            CancelQueuedDispatch,
                            CancelClaimedDispatchReturnsNoneAndKeepsClaim,
                            CancelUnknownOrTerminalDispatchReturnsNone,
                            AckWithStaleTokenIsFencedAndWritesNothing,
                            NackWithStaleTokenIsFencedAndWritesNothing,
                            DeadLetterWithStaleTokenIsFencedAndWritesNothing,
                            ExtendLeaseWithStaleTokenIsFencedAndWritesNothing,
                            RecordDispatchStartWithStaleTokenIsFencedAndWritesNothing,
                            RecordRunResultWithStaleTokenIsFencedAndWritesNothing,
                            CommitRunAppendWithStaleTokenIsFencedAndWritesNothing,
                            AppendEventWithStaleTokenIsFencedAndWritesNothing,
                            AckAfterInterruptIsFencedAndOnlySupersedes,
                            NackAfterInterruptIsFencedAndOnlySupersedes,
                            DeadLetterAfterInterruptIsFencedAndOnlySupersedes,
                            ExtendLeaseAfterInterruptIsFencedAndOnlySupersedes,
                            RecordDispatchStartAfterInterruptIsFencedAndOnlySupersedes,
                            RecordRunResultAfterInterruptIsFencedAndOnlySupersedes,
                            CommitRunAppendAfterInterruptIsFencedAndOnlySupersedes,
                            AppendEventAfterInterruptIsFencedAndOnlySupersedes,
                            AckAfterLeaseReclaimIsFencedAndWritesNothing,
                            NackAfterLeaseReclaimIsFencedAndWritesNothing,
                            DeadLetterAfterLeaseReclaimIsFencedAndWritesNothing,
                            ExtendLeaseAfterLeaseReclaimIsFencedAndWritesNothing,
                            RecordDispatchStartAfterLeaseReclaimIsFencedAndWritesNothing,
                            RecordRunResultAfterLeaseReclaimIsFencedAndWritesNothing,
                            CommitRunAppendAfterLeaseReclaimIsFencedAndWritesNothing,
                            AppendEventAfterLeaseReclaimIsFencedAndWritesNothing,
                            FencedWritesOnUnknownDispatchAreNotFound,
                            FencedWritesWithAnotherEpochAreFencedAndWriteNothing,
                            FencedWritesWithTheOwnersFenceSucceed,
                            InterruptSupersedesEveryQueuedDispatch,
                            InterruptReportsActiveClaimAndLeavesItClaimed,
                            InterruptOfUnknownThreadStartsEpochAtOne,
                            CurrentEpochTracksInterrupts,
                            InterruptTwiceKeepsStaleClaimUntilItsOwnerWrites,
                            ReclaimRequeuesExpiredLease,
                            ReclaimLeavesLeaseEndingExactlyNow,
                            ReclaimDeadLettersAtMaxAttempts,
                            ReclaimSupersedesStaleClaimAndReturnsIt,
                            SecondReclaimReturnsNothing,
                            ReclaimHonoursLimit,
                            ListClaimedDispatchesOfAConsumerOrderedByLease,
                            ReclaimIgnoresLiveLeasesAndOtherStatuses,
                            PurgeTerminalRemovesOnlyTerminalOlderThanCutoff,
                            PurgeDeletesEventLogWithTheRunsLastDispatch,
                            PurgeKeepsEventLogOfRunsItDidNotTouch,
                            PurgeKeepsThreadEpochAndHistory,
                            ListDispatchesOrdersByPriorityThenCreatedAtThenId,
                            ListDispatchesNewestFirstOrdersByCreatedAtDescending,
                            ListDispatchesFiltersByStatus,
                            ListDispatchesPagesWithOffsetLimitAndTotal,
                            ListDispatchesOfUnknownThreadIsEmpty,
                            ListTerminalDispatchesSpansThreadsInUpdateOrder,
                            ListTerminalDispatchesBreaksTiesByCreatedAtThenId,
                            CountDispatchesByStatusTracksLifecycle,
                            CommitRunAppendAppendsAtConsecutiveSeqAndWritesRun,
                            CommitRunAppendWithStaleVersionIsConflictAndWritesNothing,
                            CommitRunAppendWithoutMessagesUpsertsRunOnly,
                            CommitRunAppendWithEmptyDeltaStillChecksVersion,
                            CommitRunAppendRejectsAlreadyCommittedMessageId,
                            CommitRunAppendRejectsMessageIdTwiceInDelta,
                            CommitRunAppendRequiresExpectedVersionForMessages,
                            CommitRunAppendRejectsRunOfAnotherThread,
                            CommitRunAppendRejectsBrokenRunOrMessages,
                            CommitRunAppendWithFenceOfAnotherRunIsValidation,
                            CommitRunAppendWithFenceOfAnotherThreadIsValidation,
                            CommitRunAppendUnderFenceStillChecksVersion,
                            LoadCommittedMessagesReadsFromSeqWithLimit,
                            UnknownThreadHasEmptyHistory,
                            LoadMessageRecordFindsMessageById,
                            LoadMessageRecordsRangeIsInclusiveAndClipped,
                            LatestRunIsTheGreatestUpdatedAtWrittenLast,
                            LatestRunMovesToAnotherRunWhenTheLatestIsRewrittenOlder,
                            ListRunsOrdersByCreatedAtThenRunId,
                            ListRunsByStatusSpansThreadsOrderedByRunId,
                            ReusableWaitingRunIsTheLatestRunWhenWaiting,
                            RunRecordsAndMessagesRoundTripEveryField,
                            AppendEventAssignsConsecutiveSeqPerRun,
                            AppendEventStoresItUnderTheGivenRun,
                            ReadEventsFromAnyOffsetWithLimit,
                            AppendEventUnderFenceOfAnotherRunIsValidation,
                            AgentEventRoundTripsEveryField);
// clang-format on

}  // namespace mbx::store_tests
