// RocksdbStore durability across close / reopen: each scenario runs the same steps on a
// MemoryStore (the reference model) and on a RocksdbStore, closes and reopens the RocksDB
// folder after EVERY step, and checks that (1) both stores answered the step alike, (2) the
// reopen changed nothing observable, and (3) the reopened store reads exactly like the model
// (claim tokens aside: each store mints its own). Also checks verify() after each reopen.
#include "store/store.hpp"
#include "tests/messages/samples.hpp"
#include "tests/store/store_factories.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

namespace mbx {

// Printed when a step's answers differ (found by ADL).
static void PrintTo(const InterruptResult& r, std::ostream* os) {
  *os << "{epoch " << r.new_epoch << " active " << ::testing::PrintToString(r.active_dispatch) << " superseded "
      << r.superseded_count << " " << ::testing::PrintToString(r.superseded) << "}";
}

namespace store_tests {
namespace {

constexpr std::int64_t kFar = kT0 + 1'000'000'000;  // later than every step

// The ids a scenario touches; observe() reads all of them.
struct Scope {
  std::vector<std::string> threads;
  std::vector<std::string> dispatches;
  std::vector<std::string> runs;
};

// Everything a store says through the contract about the scope.
struct Observed {
  std::map<std::string, std::optional<RunDispatch>> dispatches;
  std::map<std::string, std::vector<RunDispatch>> listed;         // per thread, every status
  std::map<std::string, std::vector<RunDispatch>> listed_newest;  // per thread, newest first
  std::map<std::string, std::uint64_t> epochs;
  std::map<std::string, std::uint64_t> versions;
  std::map<std::string, std::vector<MessageRecord>> messages;
  std::map<std::string, std::optional<MessageRecord>> messages_by_id;  // "thread/message id"
  std::map<std::string, std::vector<RunRecord>> runs_of_thread;
  std::map<std::string, std::optional<RunRecord>> latest_runs;
  std::map<std::string, std::optional<RunRecord>> reusable_runs;
  std::map<std::string, std::optional<RunRecord>> runs;
  std::map<std::string, std::vector<AgentEvent>> events;
  std::array<std::vector<RunRecord>, 4> runs_by_status;
  DispatchCounts counts{};
  std::vector<RunDispatch> terminal;
  std::map<std::int64_t, std::vector<std::string>> queued_threads;  // at probe times
  std::map<std::int64_t, std::optional<std::int64_t>> next_available;
  std::vector<std::string> errors;  // reads that failed

  friend bool operator==(const Observed&, const Observed&) = default;
};

constexpr std::array<std::int64_t, 4> kProbeTimes{kT0, kT0 + 4'999, kT0 + 5'000, kFar};
constexpr std::array<DispatchStatus, 6> kAllStatuses{DispatchStatus::queued,     DispatchStatus::claimed,
                                                     DispatchStatus::acked,      DispatchStatus::cancelled,
                                                     DispatchStatus::superseded, DispatchStatus::dead_letter};

template <class T>
void take(Observed& o, const char* what, Result<T> r, T& out) {
  if (r) {
    out = std::move(*r);
  } else {
    o.errors.push_back(std::string(what) + ": " + describe(r.error()));
  }
}

Observed observe(Store& s, const Scope& scope) {
  Observed o;
  const std::vector<DispatchStatus> every(kAllStatuses.begin(), kAllStatuses.end());
  for (const auto& id : scope.dispatches) take(o, "load_dispatch", s.load_dispatch(id), o.dispatches[id]);
  for (const auto& t : scope.threads) {
    auto page = s.list_dispatches(t, every, 0, 1000, false);
    if (page) o.listed[t] = page->items;
    auto newest = s.list_dispatches(t, every, 0, 1000, true);
    if (newest) o.listed_newest[t] = newest->items;
    if (!page || !newest) o.errors.push_back("list_dispatches " + t);
    take(o, "current_epoch", s.current_epoch(t), o.epochs[t]);
    take(o, "committed_version", s.committed_version(t), o.versions[t]);
    take(o, "load_committed_messages", s.load_committed_messages(t, 1, 0), o.messages[t]);
    for (const auto& m : o.messages[t])
      take(o, "load_message_record", s.load_message_record(t, m.message.id), o.messages_by_id[t + "/" + m.message.id]);
    auto runs = s.list_runs(t, 0, 200);
    if (runs) {
      o.runs_of_thread[t] = runs->items;
    } else {
      o.errors.push_back("list_runs " + t);
    }
    take(o, "latest_run", s.latest_run(t), o.latest_runs[t]);
    take(o, "reusable_waiting_run", s.reusable_waiting_run(t), o.reusable_runs[t]);
  }
  for (const auto& r : scope.runs) {
    take(o, "load_run", s.load_run(r), o.runs[r]);
    take(o, "read_events", s.read_events(r, 0, 0), o.events[r]);
  }
  for (std::size_t i = 0; i < o.runs_by_status.size(); ++i) {
    auto page = s.list_runs_by_status(static_cast<RunStatus>(i), 0, 200);
    if (page) {
      o.runs_by_status[i] = page->items;
    } else {
      o.errors.push_back("list_runs_by_status");
    }
  }
  take(o, "count_dispatches_by_status", s.count_dispatches_by_status(), o.counts);
  take(o, "list_terminal_dispatches", s.list_terminal_dispatches(0, 1000), o.terminal);
  for (const auto now : kProbeTimes) {
    take(o, "queued_thread_ids", s.queued_thread_ids(now, 1000), o.queued_threads[now]);
    take(o, "next_available_at", s.next_available_at(now), o.next_available[now]);
  }
  return o;
}

// Claim tokens are minted per store; compare everything else.
RunDispatch masked(RunDispatch d) {
  if (d.claim_token) d.claim_token = "<token>";
  return d;
}
std::optional<RunDispatch> masked(std::optional<RunDispatch> d) {
  if (d) d = masked(*d);
  return d;
}
std::vector<RunDispatch> masked(std::vector<RunDispatch> ds) {
  for (auto& d : ds) d = masked(d);
  return ds;
}
Observed masked(Observed o) {
  for (auto& [id, d] : o.dispatches) d = masked(d);
  for (auto& [t, ds] : o.listed) ds = masked(ds);
  for (auto& [t, ds] : o.listed_newest) ds = masked(ds);
  o.terminal = masked(o.terminal);
  return o;
}
InterruptResult masked(InterruptResult r) {
  r.active_dispatch = masked(r.active_dispatch);
  r.superseded = masked(r.superseded);
  return r;
}
template <class T>
T masked(T value) {
  return value;
}

bool same_answer(const InterruptResult& a, const InterruptResult& b) {
  return a.new_epoch == b.new_epoch && a.active_dispatch == b.active_dispatch &&
         a.superseded_count == b.superseded_count && a.superseded == b.superseded;
}
template <class T>
bool same_answer(const T& a, const T& b) {
  return a == b;
}

// One line per differing member, for the failure message.
std::string differences(const Observed& a, const Observed& b) {
  std::ostringstream out;
  auto cmp = [&](const char* name, const auto& x, const auto& y) {
    if (!(x == y))
      out << "\n  " << name << ":\n    rocksdb: " << ::testing::PrintToString(x)
          << "\n    memory:  " << ::testing::PrintToString(y);
  };
  cmp("dispatches", a.dispatches, b.dispatches);
  cmp("list_dispatches", a.listed, b.listed);
  cmp("list_dispatches newest first", a.listed_newest, b.listed_newest);
  cmp("epochs", a.epochs, b.epochs);
  cmp("versions", a.versions, b.versions);
  cmp("messages", a.messages, b.messages);
  cmp("load_message_record", a.messages_by_id, b.messages_by_id);
  cmp("list_runs", a.runs_of_thread, b.runs_of_thread);
  cmp("latest_run", a.latest_runs, b.latest_runs);
  cmp("reusable_waiting_run", a.reusable_runs, b.reusable_runs);
  cmp("runs", a.runs, b.runs);
  cmp("events", a.events, b.events);
  cmp("list_runs_by_status", a.runs_by_status, b.runs_by_status);
  cmp("counts", a.counts, b.counts);
  cmp("list_terminal_dispatches", a.terminal, b.terminal);
  cmp("queued_thread_ids", a.queued_threads, b.queued_threads);
  cmp("next_available_at", a.next_available, b.next_available);
  cmp("read errors", a.errors, b.errors);
  return out.str();
}

// One store and the fences its claims handed out (dispatch id -> fence).
struct Side {
  std::unique_ptr<Store> store;
  std::map<std::string, Fence> fences;

  [[nodiscard]] Fence fence(const std::string& dispatch_id) const {
    auto it = fences.find(dispatch_id);
    return it == fences.end() ? Fence{dispatch_id, "never-claimed", 0} : it->second;
  }
};

class RocksdbPersistenceTest : public ::testing::Test {
protected:
  explicit RocksdbPersistenceTest(bool sync = false) : rocksdb_factory_(sync) {}

  void SetUp() override {
    model_.store = model_factory_.open();
    rocksdb_.store = rocksdb_factory_.open();
    ASSERT_NE(rocksdb_.store, nullptr);
  }

  // Runs `op` on the model and on RocksDB, compares the answers, then reopens RocksDB and
  // compares the whole observable state.
  template <class Op>
  void step(const std::string& what, Op op) {
    SCOPED_TRACE("step: " + what);
    ASSERT_NE(rocksdb_.store, nullptr);
    auto expected = op(model_);
    auto actual = op(rocksdb_);
    using T = typename decltype(expected)::value_type;
    ASSERT_EQ(static_cast<bool>(actual), static_cast<bool>(expected))
        << "rocksdb: " << (actual ? "ok" : describe(actual.error()))
        << "; memory: " << (expected ? "ok" : describe(expected.error()));
    if (!expected) {
      EXPECT_EQ(actual.error().code, expected.error().code) << describe(actual.error());
    } else if constexpr (!std::is_void_v<T>) {
      EXPECT_TRUE(same_answer(masked(*actual), masked(*expected)))
          << "rocksdb answered " << ::testing::PrintToString(masked(*actual)) << "\nmemory answered "
          << ::testing::PrintToString(masked(*expected));
    }
    check_after_reopen();
  }

  void check_after_reopen() {
    const Observed before = observe(*rocksdb_.store, scope_);
    rocksdb_factory_.reopen(rocksdb_.store);
    ASSERT_NE(rocksdb_.store, nullptr);
    const Observed after = observe(*rocksdb_.store, scope_);
    EXPECT_TRUE(after == before) << "the reopen changed:" << differences(after, before);
    const Observed model = observe(*model_.store, scope_);
    EXPECT_TRUE(masked(after) == masked(model)) << "rocksdb differs from the model:"
                                                << differences(masked(after), masked(model));
    EXPECT_TRUE(after.errors.empty()) << ::testing::PrintToString(after.errors);
    auto problems = rocksdb_.store->verify();
    ASSERT_TRUE(is_ok(problems));
    EXPECT_TRUE(problems->empty()) << ::testing::PrintToString(*problems);
  }

  // Step builders: each returns the op for step().
  static auto enqueue(RunDispatch d, EnqueueOptions options = {}) {
    return [d = std::move(d), options](Side& side) { return side.store->enqueue(d, options); };
  }
  static auto claim(std::string thread_id, std::int64_t now_ms, std::string consumer = kConsumer) {
    return [thread_id = std::move(thread_id), now_ms, consumer = std::move(consumer)](Side& side) {
      auto r = side.store->claim(thread_id, consumer, kLeaseMs, now_ms, 1);
      if (r)
        for (const auto& d : *r) side.fences[d.dispatch_id] = Fence::of(d);
      return r;
    };
  }
  static auto claim_dispatch(std::string dispatch_id, std::int64_t now_ms) {
    return [dispatch_id = std::move(dispatch_id), now_ms](Side& side) {
      auto r = side.store->claim_dispatch(dispatch_id, kConsumer, kLeaseMs, now_ms);
      if (r && *r) side.fences[dispatch_id] = Fence::of(**r);
      return r;
    };
  }
  static auto ack(std::string id, std::int64_t now_ms) {
    return [id = std::move(id), now_ms](Side& side) { return side.store->ack(side.fence(id), now_ms); };
  }
  static auto nack(std::string id, std::int64_t retry_at_ms, std::int64_t now_ms) {
    return [id = std::move(id), retry_at_ms, now_ms](Side& side) {
      return side.store->nack(side.fence(id), retry_at_ms, "transient", now_ms);
    };
  }
  static auto dead_letter(std::string id, std::int64_t now_ms) {
    return [id = std::move(id), now_ms](Side& side) {
      return side.store->dead_letter(side.fence(id), "fatal", now_ms);
    };
  }
  static auto extend_lease(std::string id, std::int64_t lease_ms, std::int64_t now_ms) {
    return [id = std::move(id), lease_ms, now_ms](Side& side) {
      return side.store->extend_lease(side.fence(id), lease_ms, now_ms);
    };
  }
  static auto start(std::string id, std::string instance, std::int64_t now_ms) {
    return [id = std::move(id), instance = std::move(instance), now_ms](Side& side) {
      return side.store->record_dispatch_start(side.fence(id), instance, now_ms);
    };
  }
  static auto result(std::string id, RunDispatchResult res, std::int64_t now_ms) {
    return [id = std::move(id), res = std::move(res), now_ms](Side& side) {
      return side.store->record_run_result(side.fence(id), res, now_ms);
    };
  }
  static auto supersede_claimed(std::string id, std::int64_t now_ms, Durability durability = Durability::synced) {
    return [id = std::move(id), now_ms, durability](Side& side) {
      return side.store->supersede_claimed(side.fence(id), now_ms, "superseded before execution start", durability);
    };
  }
  static auto cancel(std::string id, std::int64_t now_ms) {
    return [id = std::move(id), now_ms](Side& side) { return side.store->cancel(id, now_ms); };
  }
  static auto interrupt(std::string thread_id, std::int64_t now_ms, Durability durability = Durability::synced) {
    return [thread_id = std::move(thread_id), now_ms, durability](Side& side) {
      return side.store->interrupt(thread_id, now_ms, durability);
    };
  }
  static auto reclaim(std::int64_t now_ms) {
    return [now_ms](Side& side) { return side.store->reclaim_expired_leases(now_ms, 100); };
  }
  static auto purge(std::int64_t older_than_ms) {
    return [older_than_ms](Side& side) { return side.store->purge_terminal(older_than_ms); };
  }
  // An unfenced commit, or one under the fence of `fenced_by` (a dispatch id).
  static auto commit(std::vector<Message> messages, std::optional<std::uint64_t> expected, RunRecord run,
                     std::int64_t now_ms, std::optional<std::string> fenced_by = std::nullopt,
                     Durability durability = Durability::synced) {
    return [messages = std::move(messages), expected, run = std::move(run), now_ms, fenced_by = std::move(fenced_by),
            durability](Side& side) {
      const Fence fence = fenced_by ? side.fence(*fenced_by) : Fence{};
      return side.store->commit_run_append(run.thread_id, messages, expected, run, fenced_by ? &fence : nullptr,
                                           now_ms, durability);
    };
  }
  static auto append_event(AgentEvent event, std::optional<std::string> fenced_by = std::nullopt) {
    return [event = std::move(event), fenced_by = std::move(fenced_by)](Side& side) {
      const Fence fence = fenced_by ? side.fence(*fenced_by) : Fence{};
      return side.store->append_event(event.run_id, event, fenced_by ? &fence : nullptr);
    };
  }

  MemoryStoreFactory model_factory_;
  RocksdbStoreFactory rocksdb_factory_;
  Side model_;
  Side rocksdb_;
  Scope scope_;
};

TEST_F(RocksdbPersistenceTest, DispatchLifecycleSurvivesReopenAfterEveryStep) {
  scope_ = {{"t-1"}, {"d-1"}, {"r-1"}};
  RunRecord done = make_run("r-1", "t-1", RunStatus::done, kT0s, kT0s + 5);
  done.final_output = "the answer";
  done.steps = 1;
  step("commit the user message", commit({user_message("m-1")}, 0, make_run("r-1"), kT0));
  step("enqueue", enqueue(make_dispatch("d-1", "t-1", "r-1")));
  step("claim", claim("t-1", kT0 + 1));
  step("extend the lease", extend_lease("d-1", 60'000, kT0 + 2));
  step("record the start", start("d-1", "inst-1", kT0 + 3));
  step("append an event", append_event(text_event("t-1", "r-1", "thinking", kT0 + 4), "d-1"));
  step("append another event", append_event(text_event("t-1", "r-1", "done", kT0 + 4), "d-1"));
  step("commit the answer under the fence",
       commit({assistant_message("m-2", "the answer")}, 1, done, kT0 + 5'000, "d-1"));
  step("record the result", result("d-1", done_result("r-1", "inst-1"), kT0 + 5'001));
  step("ack", ack("d-1", kT0 + 5'002));
  step("ack again is fenced", ack("d-1", kT0 + 5'003));
  step("purge", purge(kFar));
}

TEST_F(RocksdbPersistenceTest, RetriesAndDeadLettersSurviveReopen) {
  scope_ = {{"t-1", "t-2"}, {"d-1", "d-2"}, {"r-d-1", "r-d-2"}};
  RunDispatch twice = make_dispatch("d-1", "t-1");
  twice.max_attempts = 2;
  step("enqueue d-1", enqueue(twice));
  step("enqueue d-2", enqueue(make_dispatch("d-2", "t-2")));
  step("claim d-1", claim("t-1", kT0));
  step("start d-1", start("d-1", "inst-1", kT0 + 1));
  step("nack d-1", nack("d-1", kT0 + 5'000, kT0 + 10));
  step("claim before retry_at", claim("t-1", kT0 + 4'999));
  step("claim at retry_at", claim("t-1", kT0 + 5'000));
  step("reclaim the expired lease (dead letter)", reclaim(kT0 + 5'000 + kLeaseMs + 1));
  step("claim d-2", claim("t-2", kT0 + 6'000));
  step("dead-letter d-2", dead_letter("d-2", kT0 + 6'001));
  step("purge before the cutoff", purge(kT0 + 6'001));
  step("purge", purge(kFar));
}

TEST_F(RocksdbPersistenceTest, InterruptsAndSupersedesSurviveReopen) {
  scope_ = {{"t-1"}, {"d-1", "d-2", "d-3", "d-4", "d-5", "d-6"}, {"r-d-1", "r-d-4", "r-d-6"}};
  step("enqueue d-1", enqueue(make_dispatch("d-1", "t-1", "", kT0)));
  step("claim d-1", claim("t-1", kT0 + 1));
  step("enqueue d-2", enqueue(make_dispatch("d-2", "t-1", "", kT0 + 2)));
  step("enqueue d-3", enqueue(make_dispatch("d-3", "t-1", "", kT0 + 3)));
  step("interrupt", interrupt("t-1", kT0 + 10));
  step("enqueue d-4 at the new epoch", enqueue(make_dispatch("d-4", "t-1", "", kT0 + 11)));
  step("stale start supersedes d-1", start("d-1", "inst-1", kT0 + 12));
  step("claim d-4", claim("t-1", kT0 + 13));
  step("interrupt again", interrupt("t-1", kT0 + 20));
  step("supersede the stale claim", supersede_claimed("d-4", kT0 + 21));
  step("enqueue d-5", enqueue(make_dispatch("d-5", "t-1", "", kT0 + 22)));
  step("cancel d-5", cancel("d-5", kT0 + 23));
  step("cancel d-5 again", cancel("d-5", kT0 + 24));
  step("enqueue d-6 with a guard", [](Side& side) {
    RunDispatch d = make_dispatch("d-6", "t-1", "", kT0 + 25);
    d.available_at = kT0 + 60'000;
    return side.store->enqueue(d, {});
  });
  step("claim_dispatch d-6", claim_dispatch("d-6", kT0 + 26));
  step("reclaim d-6", reclaim(kT0 + 26 + kLeaseMs + 1));
  step("purge", purge(kFar));
}

TEST_F(RocksdbPersistenceTest, DedupeKeysAndQueueBoundsSurviveReopen) {
  scope_ = {{"t-1"}, {"d-1", "d-2", "d-3", "d-4"}, {}};
  EnqueueOptions one;
  one.max_queued_per_thread = 1;
  auto keyed = [](const std::string& id) {
    RunDispatch d = make_dispatch(id, "t-1");
    d.dedupe_key = "key";
    return d;
  };
  step("enqueue keyed d-1", enqueue(keyed("d-1"), one));
  step("same key is a conflict", enqueue(keyed("d-2")));
  step("the queue is full", enqueue(make_dispatch("d-3", "t-1"), one));
  step("the id is taken", enqueue(make_dispatch("d-1", "t-1")));
  step("claim d-1", claim("t-1", kT0));
  step("room again", enqueue(make_dispatch("d-3", "t-1"), one));
  step("a claim still holds the key", enqueue(keyed("d-4")));
  step("ack d-1", ack("d-1", kT0 + 1));
  step("the key is free", enqueue(keyed("d-4")));
}

TEST_F(RocksdbPersistenceTest, HistorySurvivesReopen) {
  scope_ = {{"t-1", "t-2"}, {}, {"r-1", "r-2", "r-3", "r-4"}};
  step("commit r-1 with two messages",
       commit({user_message("m-1"), user_message("m-2")}, 0,
              make_run("r-1", "t-1", RunStatus::created, kT0s, kT0s + 1), kT0));
  step("commit waiting r-2", commit({}, std::nullopt, make_run("r-2", "t-1", RunStatus::waiting, kT0s, kT0s + 5), kT0));
  step("commit r-3 at the same updated_at",
       commit({}, std::nullopt, make_run("r-3", "t-1", RunStatus::created, kT0s + 1, kT0s + 5), kT0));
  step("rewrite r-2", commit({}, std::nullopt, make_run("r-2", "t-1", RunStatus::waiting, kT0s, kT0s + 5), kT0));
  step("stale version", commit({user_message("m-3")}, 0, make_run("r-1", "t-1", RunStatus::running), kT0));
  step("duplicate message id", commit({user_message("m-1")}, 2, make_run("r-1", "t-1", RunStatus::running), kT0));
  step("commit r-1 done with a third message",
       commit({assistant_message("m-3")}, 2, make_run("r-1", "t-1", RunStatus::done, kT0s, kT0s + 9), kT0 + 9'000));
  step("commit r-4 on another thread",
       commit({user_message("m-4")}, 0, make_run("r-4", "t-2", RunStatus::running, kT0s, kT0s + 2), kT0));
  for (int i = 1; i <= 3; ++i)
    step("append event " + std::to_string(i), append_event(text_event("t-1", "r-1", "e" + std::to_string(i), kT0 + i)));
  AgentEvent full = samples::full_agent_event();
  full.thread_id = "t-1";
  full.run_id = "r-1";
  step("append an event with every field", append_event(full));
}

class RocksdbSyncedPersistenceTest : public RocksdbPersistenceTest {
protected:
  RocksdbSyncedPersistenceTest() : RocksdbPersistenceTest(/*sync=*/true) {}
};

TEST_F(RocksdbSyncedPersistenceTest, SyncedWritesSurviveReopen) {
  scope_ = {{"t-1"}, {"d-1"}, {"r-1"}};
  step("commit", commit({user_message("m-1")}, 0, make_run("r-1"), kT0));
  step("enqueue", enqueue(make_dispatch("d-1", "t-1", "r-1")));
  step("claim", claim("t-1", kT0 + 1));
  step("append an event", append_event(text_event("t-1", "r-1", "x", kT0 + 2), "d-1"));
  step("ack", ack("d-1", kT0 + 3));
}

// A deferred write skips its fsync but is in the log like any other: a clean reopen has it.
TEST_F(RocksdbSyncedPersistenceTest, DeferredWritesSurviveReopen) {
  scope_ = {{"t-1"}, {"d-1", "d-2", "d-3"}, {"r-1"}};
  step("commit", commit({user_message("m-1")}, 0, make_run("r-1"), kT0));
  step("enqueue", enqueue(make_dispatch("d-1", "t-1", "r-1")));
  step("claim", claim("t-1", kT0 + 1));
  step("enqueue another", enqueue(make_dispatch("d-2", "t-1", "", kT0 + 2)));
  step("deferred interrupt", interrupt("t-1", kT0 + 3, Durability::deferred));
  step("deferred supersede of the stale claim", supersede_claimed("d-1", kT0 + 4, Durability::deferred));
  step("deferred close",
       commit({assistant_message("m-2")}, 1, make_run("r-1", "t-1", RunStatus::done, kT0s, kT0s + 5), kT0 + 5,
              std::nullopt, Durability::deferred));
  step("enqueue at the new epoch", enqueue(make_dispatch("d-3", "t-1", "", kT0 + 6)));
  step("deferred claim", [](Side& side) {
    return side.store->claim("t-1", "consumer-a", kLeaseMs, kT0 + 7, 1, Durability::deferred);
  });
  step("deferred nack", [](Side& side) -> Result<RunDispatch> {
    auto d = side.store->load_dispatch("d-3");
    if (!d) return d.error();
    if (!*d) return not_found_error("d-3");
    return side.store->nack(Fence::of(**d), kT0 + 9, "released", kT0 + 8, Durability::deferred);
  });
}

}  // namespace
}  // namespace store_tests
}  // namespace mbx
