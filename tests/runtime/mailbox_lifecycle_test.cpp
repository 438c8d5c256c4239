// Scenario tests of what happens to a run after its submit: HITL suspend and resume, the
// seed's inline-claim race, a crash between enqueue and claim, lease loss, retries and dead
// letters, cancel, racing foreground submits, restart recovery.
#include "runtime/instrumented_store.hpp"
#include "runtime/run_preparation.hpp"
#include "store/rocksdb/rocksdb_store.hpp"
#include "tests/runtime/mailbox_test_support.hpp"

#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <thread>

namespace mbx::testing {
namespace {

using namespace std::chrono_literals;
using MailboxLifecycleTest = MailboxFixture;

TEST_F(MailboxLifecycleTest, HitlSuspendsThenADecisionResumesTheSameRun) {
  start();
  auto s = mailbox_->submit(request("t1", "approve"));
  ASSERT_TRUE(s);
  auto events = collect(s->events);
  ASSERT_TRUE(eventually([&] {
    auto r = run_of(store_, s->result.run_id);
    return r && r->status == RunStatus::waiting;
  }));
  EXPECT_EQ(events.back().termination->kind, TerminationKind::suspended);
  EXPECT_TRUE(eventually([&] { return status_of(store_, s->result.dispatch_id) == DispatchStatus::acked; }));
  auto waiting = run_of(store_, s->result.run_id);
  ASSERT_TRUE(waiting->is_resumable_waiting());
  EXPECT_EQ(waiting->waiting->tickets.front().tool_call_id, "approve-1");

  auto wrong = mailbox_->decide(s->result.run_id, "not-a-call", ToolCallResume{});
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code, Errc::validation);
  auto resumed = mailbox_->decide(s->result.run_id, "approve-1", ToolCallResume{ResumeAction::resume, {}, {}});
  ASSERT_TRUE(resumed) << describe(resumed.error());
  EXPECT_EQ(resumed->run_id, s->result.run_id);  // same run id
  EXPECT_NE(resumed->dispatch_id, s->result.dispatch_id);
  ASSERT_TRUE(eventually([&] { return run_done(store_, s->result.run_id); }));
  auto run = run_of(store_, s->result.run_id);
  EXPECT_EQ(run->final_output, "resumed approved");
  auto execs = executor_.executions();
  ASSERT_EQ(execs.size(), 2u);
  EXPECT_TRUE(execs[1].resumed);
  // Next input on a waiting thread also resumes the waiting run (same run id).
  auto again = mailbox_->submit(request("t2", "approve"));
  ASSERT_TRUE(again);
  collect(again->events);
  ASSERT_TRUE(eventually([&] { return run_of(store_, again->result.run_id)->status == RunStatus::waiting; }));
  auto next = mailbox_->submit(request("t2", "echo more"));
  ASSERT_TRUE(next) << describe(next.error());
  EXPECT_EQ(next->result.run_id, again->result.run_id);
  collect(next->events);
}

// A store where another consumer claims the thread just before our inline claim (race_next),
// or where the node dies right after its enqueue, before its claim (fail_next: the enqueue is
// written without its inline claim and the separate claim fails).
class RacingStore final : public InstrumentedStore {
public:
  RacingStore(Store& inner, Metrics& m) : InstrumentedStore(inner, m) {}
  Result<StepCommit> commit_run_enqueue(const std::string& thread_id, const std::vector<Message>& messages,
                                        std::optional<std::uint64_t> expected_version, const RunRecord& run,
                                        const RunDispatch& dispatch, const EnqueueOptions& options,
                                        std::int64_t now_ms) override {
    if (race_next.exchange(false)) {
      auto other = RunDispatch::queued("other-" + dispatch.dispatch_id, thread_id, "other-run", now_ms);
      std::ignore = inner().enqueue(other, EnqueueOptions{});
      std::ignore = inner().claim_dispatch(other.dispatch_id, "other-node", 60'000, now_ms);
    }
    EnqueueOptions without_claim = options;
    if (fail_next) without_claim.claim.reset();
    return InstrumentedStore::commit_run_enqueue(thread_id, messages, expected_version, run, dispatch,
                                                 fail_next ? without_claim : options, now_ms);
  }
  Result<std::optional<RunDispatch>> claim_dispatch(const std::string& id, const std::string& consumer,
                                                    std::int64_t lease_ms, std::int64_t now_ms) override {
    if (fail_next.exchange(false)) return store_error("simulated crash between enqueue and claim");
    return InstrumentedStore::claim_dispatch(id, consumer, lease_ms, now_ms);
  }
  std::atomic<bool> race_next{false};
  std::atomic<bool> fail_next{false};
};

TEST_F(MailboxLifecycleTest, LosingTheInlineClaimRaceCancelsOwnDispatchAndConflicts) {
  Metrics m;
  RacingStore racing(store_, m);
  start(fast_config(), &racing);
  racing.race_next = true;
  auto s = mailbox_->submit(request("t1", "echo lost"));
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, Errc::conflict);
  EXPECT_EQ(s.error().message, "thread has an active run; cannot claim inline");
  auto page = store_.list_dispatches("t1", {DispatchStatus::cancelled}, 0, 0, false);
  ASSERT_EQ(page->items.size(), 1u);
  auto run = run_of(store_, page->items.front().run_id);
  EXPECT_EQ(run->status, RunStatus::done);
  EXPECT_EQ(run->termination_reason->detail, "inline dispatch cancelled after claim race");
  EXPECT_EQ(executor_.executions().size(), 0u);
  mailbox_->stop();  // before `racing` goes away
}

TEST_F(MailboxLifecycleTest, AKeyedSubmitThatLostTheClaimRaceCanBeRetriedWithTheSameKey) {
  Metrics m;
  RacingStore racing(store_, m);
  start(fast_config(), &racing);
  SubmitOptions keyed;
  keyed.idempotency_key = "k";
  racing.race_next = true;
  auto lost = mailbox_->submit(request("t1", "echo retry me"), keyed);
  ASSERT_FALSE(lost);
  EXPECT_EQ(lost.error().code, Errc::conflict);
  // The other node's claim goes away; the client retries with the same key.
  auto other = store_.list_dispatches("t1", {DispatchStatus::claimed}, 0, 0, false);
  ASSERT_EQ(other->items.size(), 1u);
  ASSERT_TRUE(store_.ack(Fence::of(other->items.front()), SystemClock().now_ms()));
  auto retried = mailbox_->submit(request("t1", "echo retry me"), keyed);
  ASSERT_TRUE(retried) << describe(retried.error());
  EXPECT_FALSE(retried->result.replayed);  // the failed attempt is not replayed
  collect(retried->events);
  ASSERT_TRUE(eventually([&] { return run_done(store_, retried->result.run_id); }));
  EXPECT_EQ(run_of(store_, retried->result.run_id)->final_output, "retry me");
  mailbox_->stop();  // before `racing` goes away
}

TEST_F(MailboxLifecycleTest, ACrashBetweenEnqueueAndClaimIsRecoveredAfterTheGuard) {
  Metrics m;
  RacingStore racing(store_, m);
  start(fast_config(), &racing);  // guard 300 ms
  racing.fail_next = true;
  auto s = mailbox_->submit(request("t1", "echo recovered"));
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, Errc::store);
  auto queued = store_.list_dispatches("t1", {DispatchStatus::queued}, 0, 0, false);
  ASSERT_EQ(queued->items.size(), 1u);
  const auto run_id = queued->items.front().run_id;
  // Nobody claims it before the guard; the supervisor's timer wakes it after.
  ASSERT_TRUE(eventually([&] { return run_done(store_, run_id); }, 5s));
  EXPECT_EQ(run_of(store_, run_id)->final_output, "recovered");
  mailbox_->stop();  // before `racing` goes away
}

TEST_F(MailboxLifecycleTest, ALostLeaseCancelsTheRunWithoutAckAndTheRetryRepairsTheTranscript) {
  start();
  auto s = mailbox_->submit(request("t1", "tool-block-once"));
  ASSERT_TRUE(s);
  ASSERT_TRUE(eventually([&] { return history_has_tool_call(store_, "t1", "call-1"); }));
  // Another sweeper decided the lease expired: the dispatch is queued again (attempt 1).
  auto claimed = store_.load_dispatch(s->result.dispatch_id);
  ASSERT_TRUE(claimed && *claimed);
  auto reclaimed = store_.reclaim_expired_leases(*(*claimed)->lease_until + 1, 0);
  ASSERT_TRUE(reclaimed);
  ASSERT_EQ(reclaimed->size(), 1u);
  ASSERT_TRUE(eventually([&] { return status_of(store_, s->result.dispatch_id) == DispatchStatus::acked; }));
  auto d = store_.load_dispatch(s->result.dispatch_id);
  EXPECT_EQ((*d)->attempt_count, 1u);
  EXPECT_EQ(executor_.count(s->result.run_id), 2u);
  EXPECT_EQ(run_of(store_, s->result.run_id)->final_output, "second attempt");
  EXPECT_NE(mailbox_->metrics_text().find("mailbox_leases_lost_total 1"), std::string::npos);
  auto history = store_.load_committed_messages("t1", 1, 0);
  int results = 0;
  for (const auto& r : *history) results += r.message.tool_call_id == "call-1" ? 1 : 0;
  EXPECT_EQ(results, 1);  // the first attempt's tool call got exactly one (synthetic) result
}

// A node that dies at the run's end write: the write is not made (die_at_run_end), or only its
// run part is, without the dispatch's release (die_between_end_and_ack: what a node of an
// earlier version, which released in a separate write, left when it died in between). Either
// way the node does nothing more for that run; its lease then runs out, as a killed node's would.
class DyingStore final : public InstrumentedStore {
public:
  DyingStore(Store& inner, Metrics& m) : InstrumentedStore(inner, m) {}
  using InstrumentedStore::commit_run_step;
  Result<StepCommit> commit_run_step(const std::string& thread_id, const std::vector<Message>& messages,
                                     std::optional<std::uint64_t> expected_version, const RunRecord& record,
                                     const Fence& fence, const DispatchStep& step, std::int64_t now_ms,
                                     Durability durability) override {
    if (step.kind != DispatchStep::Kind::start && die_at_run_end.exchange(false))
      return store_error("simulated crash before the run's end was written");
    if (step.kind != DispatchStep::Kind::start && die_between_end_and_ack.exchange(false)) {
      std::ignore = InstrumentedStore::commit_run_append(thread_id, messages, expected_version, record, &fence, now_ms);
      return store_error("simulated crash between the run's end and its ack");
    }
    return InstrumentedStore::commit_run_step(thread_id, messages, expected_version, record, fence, step, now_ms,
                                              durability);
  }
  std::atomic<bool> die_at_run_end{false};
  std::atomic<bool> die_between_end_and_ack{false};
};

int answers_of(Store& store, const std::string& thread_id, const std::string& run_id) {
  int n = 0;
  for (const auto& r : *store.load_committed_messages(thread_id, 1, 0))
    n += r.message.role == Role::assistant && r.message.metadata.run_id == run_id ? 1 : 0;
  return n;
}

TEST_F(MailboxLifecycleTest, ARetryAfterACrashBetweenTheAnswerAndTheRunsEndNeverAnswersTwice) {
  Metrics m;
  DyingStore dying(store_, m);
  auto config = fast_config();
  config.lease_ms = 400;
  start(config, &dying);
  dying.die_at_run_end = true;
  auto s = mailbox_->submit_background(request("t1", "echo only once"));
  ASSERT_TRUE(s);
  // The answer is committed, the end is not; the lease runs out and the retry runs the agent again.
  ASSERT_TRUE(eventually([&] { return status_of(store_, s->dispatch_id) == DispatchStatus::acked; }, 10s));
  EXPECT_EQ(executor_.count(s->run_id), 2u);
  EXPECT_EQ((*store_.load_dispatch(s->dispatch_id))->attempt_count, 1u);
  EXPECT_EQ(answers_of(store_, "t1", s->run_id), 1);  // the retry's commit of the same reply id wrote nothing
  EXPECT_EQ(run_of(store_, s->run_id)->final_output, "only once");
  mailbox_->stop();  // before `dying` goes away
}

TEST_F(MailboxLifecycleTest, ACrashBetweenTheRunsEndAndItsAckAcksWithoutRunningAgain) {
  Metrics m;
  DyingStore dying(store_, m);
  auto config = fast_config();
  config.lease_ms = 400;
  start(config, &dying);
  dying.die_between_end_and_ack = true;
  auto s = mailbox_->submit_background(request("t1", "echo done before the crash"));
  ASSERT_TRUE(s);
  ASSERT_TRUE(eventually([&] { return status_of(store_, s->dispatch_id) == DispatchStatus::acked; }, 10s));
  EXPECT_EQ(executor_.count(s->run_id), 1u);  // the reclaimed dispatch found its run ended by itself
  EXPECT_EQ((*store_.load_dispatch(s->dispatch_id))->attempt_count, 1u);
  EXPECT_EQ(answers_of(store_, "t1", s->run_id), 1);
  mailbox_->stop();
}

TEST_F(MailboxLifecycleTest, TransientErrorsAreRetriedWithBackoffThenDeadLettered) {
  start();
  auto s = mailbox_->submit_background(request("t1", "transient"));
  ASSERT_TRUE(s);
  ASSERT_TRUE(eventually([&] { return status_of(store_, s->dispatch_id) == DispatchStatus::dead_letter; }));
  EXPECT_EQ(executor_.count(s->run_id), 5u);  // default max attempts
  auto run = run_of(store_, s->run_id);
  EXPECT_EQ(run->status, RunStatus::done);
  EXPECT_EQ(run->termination_reason->kind, TerminationKind::error);
  EXPECT_EQ(run->termination_reason->detail, "transient failure");
}

TEST_F(MailboxLifecycleTest, PermanentErrorsAndThrowingExecutorsDeadLetterAtOnce) {
  start();
  auto p = mailbox_->submit_background(request("t1", "permanent"));
  auto t = mailbox_->submit_background(request("t2", "throw"));
  ASSERT_TRUE(p && t);
  for (const auto& r : {*p, *t}) {
    ASSERT_TRUE(eventually([&] { return status_of(store_, r.dispatch_id) == DispatchStatus::dead_letter; }));
    EXPECT_EQ(executor_.count(r.run_id), 1u);
    EXPECT_EQ(run_of(store_, r.run_id)->termination_reason->kind, TerminationKind::error);
  }
  EXPECT_EQ(run_of(store_, t->run_id)->termination_reason->detail, "executor threw: scripted failure");
}

TEST_F(MailboxLifecycleTest, CancelRunStopsARunningRunAndAnswersItsToolCall) {
  start();
  auto s = mailbox_->submit(request("t1", "tool-block"));
  ASSERT_TRUE(s);
  ASSERT_TRUE(eventually([&] { return history_has_tool_call(store_, "t1", "call-1"); }));
  ASSERT_TRUE(mailbox_->cancel_run(s->result.run_id));
  auto run = run_of(store_, s->result.run_id);
  EXPECT_EQ(run->status, RunStatus::done);
  EXPECT_EQ(run->termination_reason->kind, TerminationKind::cancelled);
  EXPECT_EQ(status_of(store_, s->result.dispatch_id), DispatchStatus::acked);
  auto history = store_.load_committed_messages("t1", 1, 0);
  EXPECT_EQ(history->back().message.tool_call_id, "call-1");
  // A queued run is cancelled in the store.
  auto blocker = mailbox_->submit(request("t2", "block"));
  ASSERT_TRUE(blocker);
  auto queued = mailbox_->submit_background(request("t2", "echo q"));
  ASSERT_TRUE(queued);
  ASSERT_TRUE(mailbox_->cancel_run(queued->run_id));
  EXPECT_EQ(status_of(store_, queued->dispatch_id), DispatchStatus::cancelled);
  EXPECT_TRUE(run_done(store_, queued->run_id));
  auto missing = mailbox_->cancel_run("no-such-run");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Errc::not_found);
  ASSERT_TRUE(mailbox_->interrupt_thread("t2"));
}

TEST_F(MailboxLifecycleTest, TwoRacingForegroundSubmitsLeaveExactlyOneRunningRun) {
  start();
  for (int round = 0; round < 8; ++round) {
    const std::string thread = "race-" + std::to_string(round);
    Result<Submission> a = internal_error("unset");
    Result<Submission> b = internal_error("unset");
    std::thread ta([&] { a = mailbox_->submit(request(thread, "block")); });
    std::thread tb([&] { b = mailbox_->submit(request(thread, "block")); });
    ta.join();
    tb.join();
    ASSERT_TRUE(a || b) << describe(a.error()) << " / " << describe(b.error());
    for (auto* r : {&a, &b})
      if (!*r) {
        EXPECT_EQ(r->error().code, Errc::conflict) << describe(r->error());
      }
    if (a && b) {  // both started: the earlier one was interrupted by the later one
      const bool a_done = eventually([&] { return run_done(store_, a->result.run_id); }, 2s);
      const bool b_done = eventually([&] { return run_done(store_, b->result.run_id); }, 200ms);
      EXPECT_NE(a_done, b_done);
    }
    ASSERT_TRUE(eventually([&] {
      auto claimed = store_.list_dispatches(thread, {DispatchStatus::claimed}, 0, 0, false);
      return claimed && claimed->total == 1;
    }));
    ASSERT_TRUE(eventually([&] {  // claimed at once; Running once its worker started it
      auto active = mailbox_->active_run(thread);
      return active && *active && (*active)->status == RunStatus::running;
    }));
    ASSERT_TRUE(mailbox_->interrupt_thread(thread));
  }
}

TEST_F(MailboxLifecycleTest, RestartRecoversClaimedAndQueuedWorkOnRocksdb) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("mbx-restart-" + std::to_string(::getpid()) + "-" + std::to_string(std::rand()));
  std::vector<std::string> runs;
  {
    auto db = RocksdbStore::open(RocksdbOptions{dir.string()});
    ASSERT_TRUE(db) << describe(db.error());
    // What a killed node leaves: one claimed dispatch (its consumer id is ours) and queued ones.
    SystemClock clock;
    RunPreparer preparer(**db, clock, default_id_source(), fast_config());
    for (int i = 0; i < 4; ++i) {
      auto req = request("t" + std::to_string(i % 2), "echo r" + std::to_string(i));
      ensure_dispatch_id_hint(req, default_id_source());
      auto prepared = preparer.prepare(req);
      ASSERT_TRUE(prepared) << describe(prepared.error());
      auto d = preparer.build_dispatch(req, clock.now_ms());
      ASSERT_TRUE((*db)->enqueue(*d, EnqueueOptions{}));
      runs.push_back(prepared->run_id);
    }
    auto claimed = (*db)->claim("t0", "test-node", 600'000, clock.now_ms(), 1);
    ASSERT_TRUE(claimed && claimed->size() == 1);
  }
  auto db = RocksdbStore::open(RocksdbOptions{dir.string()});
  ASSERT_TRUE(db);
  {
    auto m = Mailbox::start(**db, executor_, fast_config());
    ASSERT_TRUE(m) << describe(m.error());
    for (const auto& r : runs) ASSERT_TRUE(eventually([&] { return run_done(**db, r); })) << r;
    (*m)->stop();
  }
  for (const auto& r : runs) EXPECT_EQ(executor_.count(r), 1u);
  auto problems = (*db)->verify();
  ASSERT_TRUE(problems);
  EXPECT_TRUE(problems->empty());
  db->reset();
  std::filesystem::remove_all(dir);
}

TEST_F(MailboxLifecycleTest, ThreadsTakeTurnsForScarceRunThreadsAndNoClaimWaitsForOne) {
  // Work a restarted node finds: two runs queued on each of threads "a" and "b", one run thread.
  SystemClock clock;
  RunPreparer preparer(store_, clock, default_id_source(), fast_config());
  std::vector<std::string> runs;
  std::map<std::string, std::string> first_dispatch;  // thread -> its first dispatch
  for (const auto& [thread, script] : std::vector<std::pair<std::string, std::string>>{
           {"a", "slow 400 a1"}, {"b", "slow 400 b1"}, {"a", "echo a2"}, {"b", "echo b2"}}) {
    auto req = request(thread, script);
    ensure_dispatch_id_hint(req, default_id_source());
    auto prepared = preparer.prepare(req);
    ASSERT_TRUE(prepared) << describe(prepared.error());
    auto d = preparer.build_dispatch(req, clock.now_ms());
    ASSERT_TRUE(d && store_.enqueue(*d, EnqueueOptions{}));
    runs.push_back(prepared->run_id);
    first_dispatch.emplace(thread, d->dispatch_id);
  }
  MailboxConfig config = fast_config();
  config.run_threads = 1;
  start(config);
  // While one thread's first run holds the run thread, the other thread's first dispatch stays
  // Queued: a claim is made when a run thread is free to run it, never ahead of one.
  ASSERT_TRUE(eventually([&] { return executor_.running() == 1; }));
  const std::string first = executor_.executions().front().thread_id;
  const std::string other = first == "a" ? "b" : "a";
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(executor_.executions().size(), 1u);
  EXPECT_EQ(status_of(store_, first_dispatch[other]), DispatchStatus::queued);
  for (const auto& r : runs) ASSERT_TRUE(eventually([&] { return run_done(store_, r); })) << r;
  // The threads take turns: after a run, its thread's next claim queues behind the other's.
  std::vector<std::string> threads, scripts;
  for (const auto& e : executor_.executions()) {
    threads.push_back(e.thread_id);
    scripts.push_back(e.script);
  }
  EXPECT_EQ(threads, (std::vector<std::string>{first, other, first, other}));
  EXPECT_EQ(scripts, (std::vector<std::string>{"slow", "slow", "echo", "echo"}));
}

TEST_F(MailboxLifecycleTest, RecoveryChecksManyOpenRunsWhileTheirThreadsRun) {
  // Many open runs left by an earlier process: most are queued, some lost their dispatch
  // before the enqueue (rebuilt), some have a cancelled one (closed). The check runs after
  // start, while the queued runs already execute.
  SystemClock clock;
  RunPreparer preparer(store_, clock, default_id_source(), fast_config());
  std::vector<std::string> runs, rebuilt, closed;
  for (int i = 0; i < 5'000; ++i) {
    auto req = request("t" + std::to_string(i % 50), "echo r" + std::to_string(i));
    ensure_dispatch_id_hint(req, default_id_source());
    auto prepared = preparer.prepare(req);
    ASSERT_TRUE(prepared) << describe(prepared.error());
    runs.push_back(prepared->run_id);
    if (i % 1'000 == 7) {
      rebuilt.push_back(prepared->run_id);
      continue;
    }
    auto d = preparer.build_dispatch(req, clock.now_ms());
    ASSERT_TRUE(d && store_.enqueue(*d, EnqueueOptions{}));
    if (i % 1'000 == 9) {
      auto cancelled = store_.cancel(d->dispatch_id, clock.now_ms());
      ASSERT_TRUE(cancelled && cancelled->has_value());
      closed.push_back(prepared->run_id);
    }
  }
  ASSERT_EQ(rebuilt.size(), 5u);
  ASSERT_EQ(closed.size(), 5u);
  start();
  for (const auto& r : runs) ASSERT_TRUE(eventually([&] { return run_done(store_, r); }, 60s)) << r;
  for (const auto& r : closed) EXPECT_EQ(executor_.count(r), 0u) << r;  // closed by recovery, never run
  for (const auto& r : rebuilt) EXPECT_EQ(executor_.count(r), 1u) << r;
  EXPECT_EQ(executor_.executions().size(), runs.size() - closed.size());
}

// Holds the recovery check's read of the runs in `held` until release() (at most 10 s).
class HoldingStore final : public InstrumentedStore {
public:
  HoldingStore(Store& inner, Metrics& m, std::set<std::string> held) : InstrumentedStore(inner, m), held_(std::move(held)) {}
  Result<std::optional<RunRecord>> load_run(const std::string& run_id) override {
    if (held_.count(run_id) != 0) {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, 10s, [&] { return released_; });
    }
    return InstrumentedStore::load_run(run_id);
  }
  void release() {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = true;
    cv_.notify_all();
  }

private:
  const std::set<std::string> held_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool released_ = false;
};

TEST_F(MailboxLifecycleTest, QueuedWorkStartsBeforeTheRecoveryCheckOfOpenRunsEnds) {
  // Left by an earlier process: a run that lost its dispatch before the enqueue, a run whose
  // dispatch was cancelled, and a queued run on a third thread.
  SystemClock clock;
  RunPreparer preparer(store_, clock, default_id_source(), fast_config());
  auto prepare = [&](const std::string& thread, const std::string& script, bool enqueue) {
    auto req = request(thread, script);
    ensure_dispatch_id_hint(req, default_id_source());
    auto prepared = preparer.prepare(req);
    EXPECT_TRUE(prepared) << describe(prepared.error());
    auto d = preparer.build_dispatch(req, clock.now_ms());
    if (enqueue) {
      EXPECT_TRUE(d && store_.enqueue(*d, EnqueueOptions{}));
    }
    return std::make_pair(prepared->run_id, d->dispatch_id);
  };
  const auto [lost_run, lost_dispatch] = prepare("lost", "echo rebuilt", false);
  const auto [gone_run, gone_dispatch] = prepare("gone", "echo never", true);
  ASSERT_TRUE(store_.cancel(gone_dispatch, clock.now_ms()));
  const auto [queued_run, queued_dispatch] = prepare("q", "echo queued", true);
  Metrics m;
  HoldingStore holding(store_, m, {lost_run, gone_run});
  start(fast_config(), &holding);
  // The queued run runs while the check of the other two is held.
  ASSERT_TRUE(eventually([&] { return run_done(store_, queued_run); }));
  auto lost = store_.load_dispatch(lost_dispatch);
  ASSERT_TRUE(lost);
  EXPECT_FALSE(lost->has_value());
  EXPECT_NE(run_of(store_, gone_run)->status, RunStatus::done);
  holding.release();
  ASSERT_TRUE(eventually([&] { return run_done(store_, lost_run) && run_done(store_, gone_run); }));
  EXPECT_EQ(run_of(store_, lost_run)->final_output, "rebuilt");
  EXPECT_EQ(executor_.count(lost_run), 1u);
  EXPECT_EQ(executor_.count(gone_run), 0u);
  EXPECT_EQ(executor_.count(queued_run), 1u);
  mailbox_->stop();  // before `holding` goes away
}

TEST_F(MailboxLifecycleTest, TheSweeperReclaimsTheExpiredLeaseOfADeadNode) {
  // Another node claimed a dispatch and died; its lease runs out after the engine started.
  SystemClock clock;
  RunPreparer preparer(store_, clock, default_id_source(), fast_config());
  auto req = request("t1", "echo rescued");
  ensure_dispatch_id_hint(req, default_id_source());
  auto prepared = preparer.prepare(req);
  ASSERT_TRUE(prepared);
  auto d = preparer.build_dispatch(req, clock.now_ms());
  ASSERT_TRUE(store_.enqueue(*d, EnqueueOptions{}));
  auto claimed = store_.claim("t1", "dead-node", 300, clock.now_ms(), 1);
  ASSERT_TRUE(claimed && claimed->size() == 1);
  start();  // recovery leaves another node's live lease alone
  EXPECT_EQ(status_of(store_, d->dispatch_id), DispatchStatus::claimed);
  ASSERT_TRUE(eventually([&] { return run_done(store_, prepared->run_id); }, 5s));
  auto after = store_.load_dispatch(d->dispatch_id);
  EXPECT_EQ((*after)->attempt_count, 1u);
  EXPECT_EQ((*after)->claimed_by, std::nullopt);
  EXPECT_EQ(run_of(store_, prepared->run_id)->final_output, "rescued");
}

TEST_F(MailboxLifecycleTest, TheSweeperClosesTheRunOfAStaleExpiredClaimAndStartsTheThreadsNextRun) {
  // A dead node claimed a dispatch; an interrupt then moved the thread's epoch past its claim
  // (the dead node never heard of it), and a run was queued behind it on the same thread.
  SystemClock clock;
  RunPreparer preparer(store_, clock, default_id_source(), fast_config());
  auto prepare = [&](const std::string& script) {
    auto req = request("t1", script);
    ensure_dispatch_id_hint(req, default_id_source());
    auto prepared = preparer.prepare(req);
    EXPECT_TRUE(prepared) << describe(prepared.error());
    auto d = preparer.build_dispatch(req, clock.now_ms());
    EXPECT_TRUE(d && store_.enqueue(*d, EnqueueOptions{}));
    return std::make_pair(prepared->run_id, d->dispatch_id);
  };
  const auto [stale_run, stale_dispatch] = prepare("echo never");
  auto claimed = store_.claim("t1", "dead-node", 300, clock.now_ms(), 1);
  ASSERT_TRUE(claimed && claimed->size() == 1);
  ASSERT_TRUE(store_.interrupt("t1", clock.now_ms()));
  const auto [next_run, next_dispatch] = prepare("echo next");
  start();
  // The lease runs out after the start: the sweeper supersedes the claim and closes its run.
  ASSERT_TRUE(eventually([&] { return run_done(store_, stale_run); }, 5s));
  EXPECT_EQ(status_of(store_, stale_dispatch), DispatchStatus::superseded);
  EXPECT_EQ(run_of(store_, stale_run)->termination_reason->kind, TerminationKind::cancelled);
  EXPECT_EQ(executor_.count(stale_run), 0u);
  ASSERT_TRUE(eventually([&] { return run_done(store_, next_run); }, 5s));
  EXPECT_EQ(run_of(store_, next_run)->final_output, "next");
}

TEST_F(MailboxLifecycleTest, AResumedRunStreamsOnlyItsNewEvents) {
  start();
  auto first = mailbox_->submit(request("t1", "approve"));
  ASSERT_TRUE(first);
  auto before = collect(first->events);
  ASSERT_TRUE(eventually([&] { return run_of(store_, first->result.run_id)->status == RunStatus::waiting; }));
  auto resumed = mailbox_->submit(request("t1", "echo go on"));  // the next input resumes the waiting run
  ASSERT_TRUE(resumed) << describe(resumed.error());
  ASSERT_EQ(resumed->result.run_id, first->result.run_id);
  auto after = collect(resumed->events);
  ASSERT_FALSE(after.empty());
  EXPECT_EQ(after.front().seq, before.back().seq + 1);
  EXPECT_EQ(after.front().type, AgentEventType::run_start);
  EXPECT_EQ(after.back().type, AgentEventType::run_finish);
}

TEST_F(MailboxLifecycleTest, AStaleDispatchOfAFinishedRunIsNeverExecuted) {
  start();
  auto s = mailbox_->submit(request("t1", "echo once"));
  ASSERT_TRUE(s);
  collect(s->events);
  ASSERT_TRUE(eventually([&] { return status_of(store_, s->result.dispatch_id) == DispatchStatus::acked; }));
  // A duplicate dispatch of the finished run (a lost ack, a double decision) reaches the queue.
  auto dup = RunDispatch::queued("dup-1", "t1", s->result.run_id, SystemClock().now_ms());
  ASSERT_TRUE(store_.enqueue(dup, EnqueueOptions{}));
  ASSERT_TRUE(mailbox_->submit_background(request("t2", "echo nudge")));  // unrelated work
  ASSERT_TRUE(mailbox_->interrupt_thread("t9"));
  ASSERT_TRUE(eventually([&] { return status_of(store_, "dup-1") == DispatchStatus::superseded; }, 5s));
  EXPECT_EQ(executor_.count(s->result.run_id), 1u);
  EXPECT_EQ(run_of(store_, s->result.run_id)->final_output, "once");
}

TEST_F(MailboxLifecycleTest, CancellingAQueuedRunLeavesTheActiveRunsToolCallsAlone) {
  start();
  auto active = mailbox_->submit(request("t1", "tool-block"));
  ASSERT_TRUE(active);
  ASSERT_TRUE(eventually([&] { return history_has_tool_call(store_, "t1", "call-1"); }));
  auto queued = mailbox_->submit_background(request("t1", "echo later"));
  ASSERT_TRUE(queued);
  ASSERT_TRUE(mailbox_->cancel_run(queued->run_id));
  auto history = store_.load_committed_messages("t1", 1, 0);
  for (const auto& r : *history) EXPECT_NE(r.message.tool_call_id, "call-1") << "another run's call was answered";
  ASSERT_TRUE(mailbox_->interrupt_thread("t1"));
}

std::size_t entries_in(const char* dir) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++n;
  return n;
}

TEST_F(MailboxLifecycleTest, StartAndStopLeakNoThreadsOrFileHandles) {
  auto once = [&] {
    auto m = Mailbox::start(store_, executor_, fast_config());
    ASSERT_TRUE(m) << describe(m.error());
    auto s = (*m)->submit(request("leak", "echo x"));
    ASSERT_TRUE(s);
    collect(s->events);
    (*m)->stop();
  };
  once();  // warm up lazily created process-wide state
  const std::size_t threads = entries_in("/proc/self/task");
  const std::size_t fds = entries_in("/proc/self/fd");
  for (int i = 0; i < 5; ++i) once();
  // A leak grows and stays; a thread still on its way out (of the warm-up, or of the last
  // round under a slow sanitizer) is gone a moment later.
  EXPECT_TRUE(eventually([&] { return entries_in("/proc/self/task") <= threads; }, std::chrono::seconds(3)))
      << entries_in("/proc/self/task") << " threads, " << threads << " before";
  EXPECT_TRUE(eventually([&] { return entries_in("/proc/self/fd") <= fds; }, std::chrono::seconds(3)))
      << entries_in("/proc/self/fd") << " open files, " << fds << " before";
}

TEST_F(MailboxLifecycleTest, StopReleasesRunningRunsToTheQueue) {
  start();
  auto s = mailbox_->submit(request("t1", "block"));
  ASSERT_TRUE(s);
  ASSERT_TRUE(eventually([&] { return executor_.running() == 1; }));
  mailbox_->stop();
  auto d = store_.load_dispatch(s->result.dispatch_id);
  EXPECT_EQ((*d)->status, DispatchStatus::queued);  // released, not lost
  auto refused = mailbox_->submit(request("t1", "echo late"));
  ASSERT_FALSE(refused);
  mailbox_.reset();
}

}  // namespace
}  // namespace mbx::testing
