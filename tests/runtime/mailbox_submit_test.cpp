// Scenario tests of the submit flows, written as a user of the Mailbox API: foreground
// interrupt, background ordering, durable messages, live steering, strategies, idempotency,
// the queue bound, hinted run ids, event reattach.
#include "tests/runtime/mailbox_test_support.hpp"

#include "store/rocksdb/rocksdb_store.hpp"

#include <algorithm>
#include <filesystem>
#include <set>
#include <thread>

#include <unistd.h>

namespace mbx::testing {
namespace {

using namespace std::chrono_literals;
using MailboxSubmitTest = MailboxFixture;

// How many `op` store operations succeeded (the mailbox_operations_total counter).
double ok_count(Mailbox& mailbox, const std::string& op) {
  const std::string text = mailbox.metrics_text();
  const std::string key = "mailbox_operations_total{operation=\"" + op + "\",result=\"ok\"} ";
  auto at = text.find(key);
  return at == std::string::npos ? 0.0 : std::stod(text.substr(at + key.size()));
}

TEST_F(MailboxSubmitTest, ForegroundSubmitStreamsEventsAndCompletes) {
  start();
  auto s = mailbox_->submit(request("t1", "echo hello"));
  ASSERT_TRUE(s) << describe(s.error());
  EXPECT_EQ(s->result.status, SubmitStatus::running);
  auto events = collect(s->events);
  ASSERT_TRUE(s->events.finished());
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events.front().type, AgentEventType::run_start);
  EXPECT_EQ(events[1].type, AgentEventType::text_delta);
  EXPECT_EQ(events[1].text, "hello");
  EXPECT_EQ(events.back().type, AgentEventType::run_finish);
  for (std::size_t i = 0; i < events.size(); ++i) EXPECT_EQ(events[i].seq, i + 1);
  ASSERT_TRUE(eventually([&] { return status_of(store_, s->result.dispatch_id) == DispatchStatus::acked; }));
  auto run = run_of(store_, s->result.run_id);
  ASSERT_TRUE(run);
  EXPECT_EQ(run->status, RunStatus::done);
  EXPECT_EQ(run->termination_reason->kind, TerminationKind::natural_end);
  EXPECT_EQ(run->final_output, "hello");
  auto history = store_.load_committed_messages("t1", 1, 0);
  ASSERT_TRUE(history);
  ASSERT_EQ(history->size(), 2u);
  EXPECT_EQ((*history)[0].message.role, Role::user);
  EXPECT_EQ((*history)[1].message.content, "hello");
}

TEST_F(MailboxSubmitTest, InterruptedRunsStreamReadWhileItStopsEndsWithItsFinish) {
  start();
  // A reader follows the old stream while a foreground submit interrupts it: the stream ends
  // with run_finish (cancelled), however the reader's reads fall around the run's stop.
  for (int i = 0; i < 20; ++i) {
    const std::string thread = "t" + std::to_string(i);
    auto old = mailbox_->submit(request(thread, "block"));
    ASSERT_TRUE(old) << describe(old.error());
    auto first = old->events.next(5s);
    ASSERT_TRUE(first && *first);
    ASSERT_EQ((*first)->type, AgentEventType::run_start);
    std::vector<AgentEvent> seen;
    std::thread reader([&] { seen = collect(old->events); });
    auto fresh = mailbox_->submit(request(thread, "echo new"));
    ASSERT_TRUE(fresh) << describe(fresh.error());
    reader.join();
    ASSERT_FALSE(seen.empty()) << "sample " << i;
    EXPECT_EQ(seen.back().type, AgentEventType::run_finish) << "sample " << i;
    EXPECT_EQ(seen.back().termination->kind, TerminationKind::cancelled) << "sample " << i;
    EXPECT_EQ(std::count_if(seen.begin(), seen.end(),
                            [](const AgentEvent& e) { return e.type == AgentEventType::run_finish; }),
              1)
        << "sample " << i;
    auto finished = collect(fresh->events);
    EXPECT_EQ(finished.back().termination->kind, TerminationKind::natural_end);
    ASSERT_TRUE(eventually([&] { return run_done(store_, old->result.run_id); }));
    auto log = store_.read_events(old->result.run_id, 0, 0);
    ASSERT_TRUE(log);
    EXPECT_EQ(log->back().type, AgentEventType::run_finish);
  }
}

TEST_F(MailboxSubmitTest, SubmitOnAnIdleThreadReturnsWithTheRunStartedAndItsStartEventStored) {
  start();
  // The submit's one write claimed and started the run: on return the run is Running, the
  // dispatch carries its start, and run_start is in the log, before the executor has run.
  auto fg = mailbox_->submit(request("t1", "slow 400 hi"));
  ASSERT_TRUE(fg) << describe(fg.error());
  auto bg = mailbox_->submit_background(request("t2", "slow 400 hi"));
  ASSERT_TRUE(bg) << describe(bg.error());
  EXPECT_EQ(bg->status, SubmitStatus::running);
  for (const auto& [run_id, dispatch_id] :
       {std::pair{fg->result.run_id, fg->result.dispatch_id}, std::pair{bg->run_id, bg->dispatch_id}}) {
    auto run = run_of(store_, run_id);
    ASSERT_TRUE(run);
    EXPECT_EQ(run->status, RunStatus::running);
    EXPECT_EQ(run->dispatch_id, dispatch_id);
    auto d = store_.load_dispatch(dispatch_id);
    ASSERT_TRUE(d && *d);
    EXPECT_EQ((*d)->status, DispatchStatus::claimed);
    EXPECT_TRUE((*d)->dispatch_instance_id.has_value());
    auto events = store_.read_events(run_id, 0, 0);
    ASSERT_TRUE(events);
    ASSERT_FALSE(events->empty());
    EXPECT_EQ(events->front().type, AgentEventType::run_start);
  }
  // It then runs once, to its natural end, and its stream has one run_start.
  auto events = collect(fg->events);
  ASSERT_TRUE(fg->events.finished());
  EXPECT_EQ(std::count_if(events.begin(), events.end(),
                          [](const AgentEvent& e) { return e.type == AgentEventType::run_start; }),
            1);
  EXPECT_EQ(events.back().type, AgentEventType::run_finish);
  EXPECT_EQ(events.back().termination->kind, TerminationKind::natural_end);
  ASSERT_TRUE(eventually([&] { return status_of(store_, bg->dispatch_id) == DispatchStatus::acked; }));
  EXPECT_EQ(executor_.count(fg->result.run_id), 1u);
  EXPECT_EQ(executor_.count(bg->run_id), 1u);
}

TEST_F(MailboxSubmitTest, ForegroundInterruptsActiveRunAndSupersedesQueuedWork) {
  start();
  auto first = mailbox_->submit(request("t1", "tool-block"));
  ASSERT_TRUE(first) << describe(first.error());
  ASSERT_TRUE(eventually([&] { return history_has_tool_call(store_, "t1", "call-1"); }));
  auto q1 = mailbox_->submit_background(request("t1", "echo q1"));
  auto q2 = mailbox_->submit_background(request("t1", "echo q2"));
  ASSERT_TRUE(q1 && q2);
  EXPECT_EQ(q1->status, SubmitStatus::queued);

  auto second = mailbox_->submit(request("t1", "echo new"));
  ASSERT_TRUE(second) << describe(second.error());
  // The old run stopped, cancelled; its stream ends with that.
  auto old_events = collect(first->events);
  ASSERT_TRUE(first->events.finished());
  ASSERT_FALSE(old_events.empty());
  EXPECT_EQ(old_events.back().type, AgentEventType::run_finish);
  EXPECT_EQ(old_events.back().termination->kind, TerminationKind::cancelled);
  auto old_run = run_of(store_, first->result.run_id);
  EXPECT_EQ(old_run->status, RunStatus::done);
  EXPECT_EQ(status_of(store_, first->result.dispatch_id), DispatchStatus::superseded);
  // Queued work was superseded and its runs closed.
  for (const auto& q : {*q1, *q2}) {
    EXPECT_EQ(status_of(store_, q.dispatch_id), DispatchStatus::superseded);
    EXPECT_TRUE(run_done(store_, q.run_id));
  }
  // The new run streams and completes; q1 and q2 never ran.
  auto new_events = collect(second->events);
  EXPECT_EQ(new_events.back().type, AgentEventType::run_finish);
  EXPECT_EQ(new_events.back().termination->kind, TerminationKind::natural_end);
  EXPECT_EQ(executor_.count(q1->run_id) + executor_.count(q2->run_id), 0u);
  // The dangling tool call of the interrupted run got a synthetic result.
  auto history = store_.load_committed_messages("t1", 1, 0);
  ASSERT_TRUE(history);
  bool answered = false;
  for (const auto& r : *history)
    if (r.message.role == Role::tool && r.message.tool_call_id == "call-1") {
      answered = true;
      EXPECT_NE(r.message.content.find("interrupted"), std::string::npos);
    }
  EXPECT_TRUE(answered);
}

TEST_F(MailboxSubmitTest, AForegroundInterruptLeavesTheFsyncToItsEnqueueAndInterruptThreadSyncs) {
  start();
  auto ok_count = [&](const std::string& op) { return testing::ok_count(*mailbox_, op); };
  // A foreground submit's epoch bump, and the release and close of the run it stops, are
  // deferred writes: the submit's own enqueue is synced and carries them to the disk. Both
  // runs block, so every write counted below is the submits' and the interrupted run's.
  auto first = mailbox_->submit(request("t1", "block"));
  ASSERT_TRUE(first) << describe(first.error());
  auto second = mailbox_->submit(request("t1", "block"));
  ASSERT_TRUE(second) << describe(second.error());
  collect(first->events);
  ASSERT_TRUE(run_done(store_, first->result.run_id));  // closed before the submit returned
  EXPECT_EQ(status_of(store_, first->result.dispatch_id), DispatchStatus::superseded);
  EXPECT_EQ(ok_count("interrupt_deferred"), 1.0);
  EXPECT_EQ(ok_count("interrupt"), 0.0);
  // Released by the run, the interrupter or a fenced write of the run (the store's own
  // deferred supersede), and closed, with no synced write.
  EXPECT_LE(ok_count("supersede_claimed_deferred"), 1.0);
  EXPECT_EQ(ok_count("supersede_claimed"), 0.0);
  EXPECT_EQ(ok_count("commit_run_append"), 0.0) << mailbox_->metrics_text();
  EXPECT_EQ(ok_count("commit_run_append_deferred"), 1.0);  // the close of the interrupted run
  EXPECT_EQ(ok_count("commit_run_enqueue"), 2.0);          // the two submits, synced

  // interrupt_thread answers its caller with nothing synced after it: its epoch bump is synced.
  auto interrupted = mailbox_->interrupt_thread("t1");
  ASSERT_TRUE(interrupted) << describe(interrupted.error());
  EXPECT_EQ(interrupted->cancelled_run_id, second->result.run_id);
  EXPECT_EQ(ok_count("interrupt"), 1.0);
  EXPECT_EQ(ok_count("interrupt_deferred"), 1.0);
  ASSERT_TRUE(eventually([&] { return run_done(store_, second->result.run_id); }));
}

TEST_F(MailboxSubmitTest, AQueuedRunIsStartedByTheWriteThatClaimsIt) {
  start();
  auto first = mailbox_->submit_background(request("t1", "slow 100 a"));
  ASSERT_TRUE(first) << describe(first.error());
  auto second = mailbox_->submit_background(request("t1", "echo b"));
  ASSERT_TRUE(second) << describe(second.error());
  EXPECT_EQ(first->status, SubmitStatus::running);
  EXPECT_EQ(second->status, SubmitStatus::queued);
  ASSERT_TRUE(eventually([&] { return status_of(store_, second->dispatch_id) == DispatchStatus::acked; }));
  // No run needed a start write of its own: the first started in its submit's write, the second
  // in the write that claimed it once the first had ended.
  EXPECT_EQ(ok_count(*mailbox_, "commit_run_step_deferred"), 0.0) << mailbox_->metrics_text();
  EXPECT_GE(ok_count(*mailbox_, "claim_and_start_deferred"), 1.0);
  auto dispatch = store_.load_dispatch(second->dispatch_id);
  ASSERT_TRUE(dispatch && *dispatch);
  EXPECT_EQ((*dispatch)->attempt_count, 0u);
  EXPECT_TRUE((*dispatch)->dispatch_instance_id.has_value());
  auto events = store_.read_events(second->run_id, 0, 0);
  ASSERT_TRUE(events && events->size() >= 3u);
  EXPECT_EQ(events->front().type, AgentEventType::run_start);
  EXPECT_EQ(events->back().type, AgentEventType::run_finish);
  for (std::size_t i = 0; i < events->size(); ++i) EXPECT_EQ((*events)[i].seq, i + 1);
  auto run = run_of(store_, second->run_id);
  ASSERT_TRUE(run);
  EXPECT_EQ(run->status, RunStatus::done);
  EXPECT_EQ(run->dispatch_id, second->dispatch_id);
  EXPECT_TRUE(run->started_at.has_value());
  EXPECT_EQ(executor_.count(second->run_id), 1u);
}

TEST_F(MailboxSubmitTest, BackgroundRunsInOrderPerThreadAndInParallelAcrossThreads) {
  start();
  std::map<std::string, std::vector<std::string>> submitted;
  for (int i = 0; i < 5; ++i)
    for (const std::string t : {"a", "b", "c", "d"}) {
      auto r = mailbox_->submit_background(request(t, "slow 20 " + t + std::to_string(i)));
      ASSERT_TRUE(r) << describe(r.error());
      submitted[t].push_back(r->run_id);
    }
  for (const auto& [t, runs] : submitted)
    for (const auto& run : runs) ASSERT_TRUE(eventually([&] { return run_done(store_, run); })) << run;
  std::map<std::string, std::vector<std::string>> executed;
  for (const auto& e : executor_.executions()) executed[e.thread_id].push_back(e.run_id);
  EXPECT_EQ(executed, submitted);  // each thread in submission order, each run once
  EXPECT_GT(executor_.max_concurrent(), 1);  // threads ran side by side
  EXPECT_LE(executor_.max_concurrent(), 4);  // never two runs of one thread
}

TEST_F(MailboxSubmitTest, AThreadsQueuedRunsFollowOnTheRunThreadOfTheFirstWhileNoOtherJobWaits) {
  start();
  // The first run holds the thread while the others queue behind it.
  auto first = mailbox_->submit_background(request("serial", "slow 100 first"));
  ASSERT_TRUE(first);
  std::vector<std::string> submitted{first->run_id};
  for (int i = 0; i < 10; ++i) {
    auto r = mailbox_->submit_background(request("serial", "echo " + std::to_string(i)));
    ASSERT_TRUE(r) << describe(r.error());
    EXPECT_EQ(r->status, SubmitStatus::queued);
    submitted.push_back(r->run_id);
  }
  for (const auto& run : submitted) ASSERT_TRUE(eventually([&] { return run_done(store_, run); })) << run;
  std::vector<std::string> executed;
  std::set<std::thread::id> os_threads;
  for (const auto& e : executor_.executions()) {
    executed.push_back(e.run_id);
    os_threads.insert(e.os_thread);
  }
  EXPECT_EQ(executed, submitted);  // in order, each once
  // Nothing else was posted to the run pool: each run thread claimed the next run and ran it
  // itself, so the first run's thread ran them all.
  EXPECT_EQ(os_threads.size(), 1U);
  // The worker followed along (running, then idle) and stops like any other.
  ASSERT_TRUE(eventually([&] { return mailbox_->stats().workers == 0 && mailbox_->stats().active_runs == 0; }));
  auto counts = store_.count_dispatches_by_status();
  ASSERT_TRUE(counts);
  EXPECT_EQ(count_of(*counts, DispatchStatus::acked), submitted.size());
}

TEST_F(MailboxSubmitTest, DurableMessageIsIdempotentByMessageId) {
  start();
  DurableMessage m{"msg-1", "t1", std::nullopt, "agent-a", "echo from a"};
  auto first = mailbox_->submit_durable_message(m);
  ASSERT_TRUE(first) << describe(first.error());
  auto second = mailbox_->submit_durable_message(m);
  ASSERT_TRUE(second) << describe(second.error());
  EXPECT_EQ(*first, *second);
  ASSERT_TRUE(eventually([&] { return run_done(store_, "durable-msg-msg-1"); }));
  auto page = mailbox_->dispatches("t1", 0, 0);
  ASSERT_TRUE(page);
  EXPECT_EQ(page->total, 1u);
  auto rec = store_.load_message_record("t1", "msg-1");
  ASSERT_TRUE(rec && *rec);
  EXPECT_EQ((*rec)->message.metadata.sender_agent_id, "agent-a");
}

TEST_F(MailboxSubmitTest, LiveInputSteersTheActiveRunElseQueues) {
  start();
  auto active = mailbox_->submit(request("t1", "steer"));
  ASSERT_TRUE(active);
  ASSERT_TRUE(eventually([&] { return executor_.running() == 1; }));
  // Wrong expected run id: queued instead.
  auto queued = mailbox_->submit_live_then_queue(request("t1", "echo later"), std::string("other-run"));
  ASSERT_TRUE(queued) << describe(queued.error());
  EXPECT_NE(queued->run_id, active->result.run_id);
  // Delivered live to the active run.
  auto live = mailbox_->submit_live_then_queue(request("t1", "turn left"), active->result.run_id);
  ASSERT_TRUE(live) << describe(live.error());
  EXPECT_EQ(live->run_id, active->result.run_id);
  EXPECT_EQ(live->status, SubmitStatus::running);
  ASSERT_TRUE(eventually([&] { return run_done(store_, active->result.run_id); }));
  EXPECT_EQ(run_of(store_, active->result.run_id)->final_output, "steered: turn left");
  ASSERT_TRUE(eventually([&] { return run_done(store_, queued->run_id); }));
  // No active run: a live submit falls back to the queue.
  auto fallback = mailbox_->submit_live_then_queue(request("t2", "echo x"), std::nullopt);
  ASSERT_TRUE(fallback);
  ASSERT_TRUE(eventually([&] { return run_done(store_, fallback->run_id); }));
}

TEST_F(MailboxSubmitTest, HintedRunIdOnAnotherThreadOrNotOpenIsRefused) {
  start();
  auto done = mailbox_->submit(request("t1", "echo one"));
  ASSERT_TRUE(done);
  ASSERT_TRUE(eventually([&] { return run_done(store_, done->result.run_id); }));
  auto wrong_thread = request("t2", "echo two");
  wrong_thread.persistence.run_id_hint = done->result.run_id;
  auto r1 = mailbox_->submit_background(wrong_thread);
  ASSERT_FALSE(r1);
  EXPECT_EQ(r1.error().code, Errc::validation);
  EXPECT_NE(r1.error().message.find("belongs to thread 't1'"), std::string::npos) << r1.error().message;
  auto not_open = request("t1", "echo three");
  not_open.persistence.run_id_hint = done->result.run_id;
  auto r2 = mailbox_->submit_background(not_open);
  ASSERT_FALSE(r2);
  EXPECT_NE(r2.error().message.find("is not open for dispatch"), std::string::npos) << r2.error().message;
}

TEST_F(MailboxSubmitTest, IdempotencyKeyReplaysSameRequestAndRefusesADifferentOne) {
  start();
  SubmitOptions o;
  o.idempotency_key = "key-1";
  auto first = mailbox_->submit_background(request("t1", "echo once"), o);
  ASSERT_TRUE(first) << describe(first.error());
  auto again = mailbox_->submit_background(request("t1", "echo once"), o);
  ASSERT_TRUE(again) << describe(again.error());
  EXPECT_TRUE(again->replayed);
  EXPECT_EQ(again->run_id, first->run_id);
  EXPECT_EQ(again->dispatch_id, first->dispatch_id);
  auto different = mailbox_->submit_background(request("t1", "echo other"), o);
  ASSERT_FALSE(different);
  EXPECT_EQ(different.error().code, Errc::conflict);
  ASSERT_TRUE(eventually([&] { return run_done(store_, first->run_id); }));
  EXPECT_EQ(executor_.executions().size(), 1u);
  auto page = mailbox_->dispatches("t1", 0, 0);
  EXPECT_EQ(page->total, 1u);
}

TEST_F(MailboxSubmitTest, IdempotencyKeySurvivesARestart) {
  SubmitOptions o;
  o.idempotency_key = "key-r";
  std::string run_id;
  {
    start();
    auto first = mailbox_->submit_background(request("t1", "echo once"), o);
    ASSERT_TRUE(first) << describe(first.error());
    run_id = first->run_id;
    ASSERT_TRUE(eventually([&] { return run_done(store_, run_id); }));
    mailbox_->stop();
    mailbox_.reset();
  }
  start();
  auto again = mailbox_->submit_background(request("t1", "echo once"), o);
  ASSERT_TRUE(again) << describe(again.error());
  EXPECT_TRUE(again->replayed);
  EXPECT_EQ(again->run_id, run_id);
  auto different = mailbox_->submit_background(request("t1", "echo changed"), o);
  ASSERT_FALSE(different);
  EXPECT_EQ(different.error().code, Errc::conflict);
}

TEST_F(MailboxSubmitTest, QueueIsBoundedPerThread) {
  auto config = fast_config();
  config.max_queued_per_thread = 2;
  start(config);
  auto active = mailbox_->submit(request("t1", "block"));
  ASSERT_TRUE(active);
  ASSERT_TRUE(eventually([&] { return executor_.running() == 1; }));
  ASSERT_TRUE(mailbox_->submit_background(request("t1", "echo 1")));
  ASSERT_TRUE(mailbox_->submit_background(request("t1", "echo 2")));
  auto full = mailbox_->submit_background(request("t1", "echo 3"));
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().code, Errc::queue_full);
  auto history = store_.load_committed_messages("t1", 1, 0);
  for (const auto& r : *history) EXPECT_NE(r.message.content, "echo 3");  // a refused submit writes nothing
  ASSERT_TRUE(mailbox_->submit_background(request("t2", "echo other thread")));
  ASSERT_TRUE(mailbox_->interrupt_thread("t1"));
}

TEST_F(MailboxSubmitTest, ConcurrentBackgroundSubmitsToOneThreadAllRunOnceInTheEnd) {
  // Submitters race the run thread's claim after each run, handovers and the worker's idle
  // offer: no claimed dispatch may be left without a run (it would hold the thread forever).
  // On RocksDB (unsynced), whose timing found the bug this guards against.
  const auto dir = std::filesystem::temp_directory_path() /
                   ("mbx-one-thread-" + std::to_string(::getpid()) + "-" + std::to_string(std::rand()));
  auto db = RocksdbStore::open(RocksdbOptions{dir.string(), false});
  ASSERT_TRUE(db) << describe(db.error());
  auto config = fast_config();
  config.run_threads = 64;
  start(config, db->get());
  constexpr int kSubmitters = 4, kEach = 250;
  std::vector<std::thread> submitters;
  std::atomic<int> accepted{0};
  const auto deadline = std::chrono::steady_clock::now() + 20s;  // a stuck thread keeps its queue full
  for (int s = 0; s < kSubmitters; ++s)
    submitters.emplace_back([&, s] {
      for (int i = 0; i < kEach && std::chrono::steady_clock::now() < deadline; ++i)
        while (std::chrono::steady_clock::now() < deadline) {
          auto r = mailbox_->submit_background(request("t1", "echo " + std::to_string(s) + "-" + std::to_string(i)));
          if (r) {
            ++accepted;
            break;
          }
          ASSERT_EQ(r.error().code, Errc::queue_full) << describe(r.error());
          std::this_thread::sleep_for(2ms);
        }
    });
  for (auto& t : submitters) t.join();
  EXPECT_EQ(accepted.load(), kSubmitters * kEach) << "the thread stopped taking work";
  constexpr auto kAll = static_cast<std::uint64_t>(kSubmitters * kEach);
  EXPECT_TRUE(eventually(
      [&] {
        auto counts = (*db)->count_dispatches_by_status();
        return counts && count_of(*counts, DispatchStatus::acked) == kAll;
      },
      10s))
      << executor_.executions().size() << " of " << kAll << " ran";
  EXPECT_EQ(executor_.executions().size(), kAll);
  mailbox_->stop();
  mailbox_.reset();
  auto problems = (*db)->verify();
  ASSERT_TRUE(problems);
  EXPECT_TRUE(problems->empty()) << problems->front();
  db->reset();
  std::filesystem::remove_all(dir);
}

TEST_F(MailboxSubmitTest, RejectStrategyRefusesWhileTheThreadHasAnActiveRun) {
  start();
  SubmitOptions reject;
  reject.strategy = MultitaskStrategy::reject;
  auto first = mailbox_->submit(request("t1", "block"), reject);
  ASSERT_TRUE(first) << describe(first.error());
  ASSERT_TRUE(eventually([&] { return executor_.running() == 1; }));
  auto refused = mailbox_->submit(request("t1", "echo no"), reject);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Errc::conflict);
  EXPECT_EQ(run_of(store_, first->result.run_id)->status, RunStatus::running);  // untouched
  ASSERT_TRUE(mailbox_->cancel_run(first->result.run_id));
  auto accepted = mailbox_->submit(request("t1", "echo yes"), reject);
  ASSERT_TRUE(accepted) << describe(accepted.error());
  collect(accepted->events);
}

TEST_F(MailboxSubmitTest, EnqueueStrategyOnSubmitQueuesBehindTheActiveRun) {
  start();
  auto first = mailbox_->submit(request("t1", "slow 100 first"));
  ASSERT_TRUE(first);
  SubmitOptions enqueue;
  enqueue.strategy = MultitaskStrategy::enqueue;
  auto second = mailbox_->submit(request("t1", "echo second"), enqueue);
  ASSERT_TRUE(second) << describe(second.error());
  EXPECT_EQ(second->result.status, SubmitStatus::queued);
  auto events = collect(second->events);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().type, AgentEventType::run_finish);
  EXPECT_EQ(run_of(store_, first->result.run_id)->termination_reason->kind, TerminationKind::natural_end);
}

TEST_F(MailboxSubmitTest, AStreamReattachesFromTheLastSeqWithNoGapAndNoDuplicate) {
  start();
  auto s = mailbox_->submit(request("t1", "slow 50 hello"));
  ASSERT_TRUE(s);
  auto first = s->events.next(5s);  // run_start
  ASSERT_TRUE(first && *first);
  const std::uint64_t seen = s->events.last_seq();
  ASSERT_TRUE(eventually([&] { return run_done(store_, s->result.run_id); }));
  auto again = mailbox_->attach(s->result.run_id, seen);
  ASSERT_TRUE(again);
  auto rest = collect(*again);
  ASSERT_FALSE(rest.empty());
  EXPECT_EQ(rest.front().seq, seen + 1);
  for (std::size_t i = 1; i < rest.size(); ++i) EXPECT_EQ(rest[i].seq, rest[i - 1].seq + 1);
  EXPECT_EQ(rest.back().type, AgentEventType::run_finish);
  auto all = store_.read_events(s->result.run_id, 0, 0);
  EXPECT_EQ(all->size(), seen + rest.size());
  auto unknown = mailbox_->attach("no-such-run", 0);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, Errc::not_found);
}

TEST_F(MailboxSubmitTest, ASlowSubscriberNeverBlocksTheRunAndReadsTheLog) {
  auto config = fast_config();
  config.event_channel_capacity = 2;  // the live ring holds two events
  start(config);
  auto s = mailbox_->submit(request("t1", "echo lots"));
  ASSERT_TRUE(s);
  ASSERT_TRUE(eventually([&] { return run_done(store_, s->result.run_id); }));  // ran without a reader
  auto events = collect(s->events);
  ASSERT_GE(events.size(), 3u);
  for (std::size_t i = 0; i < events.size(); ++i) EXPECT_EQ(events[i].seq, i + 1);
}

TEST_F(MailboxSubmitTest, BadInputIsAValidationError) {
  start();
  auto blank = mailbox_->submit(request("  ", "echo x"));
  ASSERT_FALSE(blank);
  EXPECT_EQ(blank.error().code, Errc::validation);
  RunActivation empty;
  empty.intent.thread_id = "t1";
  auto no_messages = mailbox_->submit_background(empty);
  ASSERT_FALSE(no_messages);
  EXPECT_EQ(no_messages.error().code, Errc::validation);
  auto not_waiting = mailbox_->decide("no-such-run", "c1", ToolCallResume{});
  ASSERT_FALSE(not_waiting);
  EXPECT_EQ(not_waiting.error().code, Errc::not_found);
}

TEST_F(MailboxSubmitTest, MetricsCountStoreOperationsAndRunOutcomes) {
  start();
  auto s = mailbox_->submit(request("t1", "echo m"));
  ASSERT_TRUE(s);
  collect(s->events);
  ASSERT_TRUE(eventually([&] { return status_of(store_, s->result.dispatch_id) == DispatchStatus::acked; }));
  const std::string text = mailbox_->metrics_text();
  EXPECT_NE(text.find("mailbox_operations_total{operation=\"commit_run_enqueue\",result=\"ok\"} 1"), std::string::npos)
      << text;
  EXPECT_NE(text.find("mailbox_runs_finished_total{outcome=\"completed\"} 1"), std::string::npos) << text;
  EXPECT_NE(text.find("mailbox_dispatch_depth{status=\"acked\"} 1"), std::string::npos) << text;
  EXPECT_NE(text.find("mailbox_operation_duration_seconds_bucket{operation=\"commit_run_enqueue\",le=\"+Inf\"}"),
            std::string::npos);
}

TEST_F(MailboxSubmitTest, TheThreadContextSeesTheWholeCommittedHistoryEveryRun) {
  start();
  std::vector<std::string> runs;
  for (const char* text : {"echo a", "history", "echo b", "history"}) {  // one after the other
    auto r = mailbox_->submit_background(request("t1", text));
    ASSERT_TRUE(r) << describe(r.error());
    runs.push_back(r->run_id);
    ASSERT_TRUE(eventually([&] { return run_done(store_, r->run_id); }));
  }
  // Before each history run: the user message of every earlier run, the answers, its own input.
  EXPECT_EQ(run_of(store_, runs[1])->final_output, "history 3 v3");
  EXPECT_EQ(run_of(store_, runs[3])->final_output, "history 7 v7");
  ASSERT_TRUE(eventually([&] { return mailbox_->stats().workers == 0; }));  // the cache went with the worker
  auto again = mailbox_->submit_background(request("t1", "history"));
  ASSERT_TRUE(again);
  ASSERT_TRUE(eventually([&] { return run_done(store_, again->run_id); }));
  EXPECT_EQ(run_of(store_, again->run_id)->final_output, "history 9 v9");
}

TEST_F(MailboxSubmitTest, IdleWorkersLingerBrieflyAtMostMaxIdleWorkersOfThem) {
  MailboxConfig config = fast_config();
  config.idle_worker_linger_ms = 300;
  config.max_idle_workers = 2;
  start(config);
  ASSERT_NO_FATAL_FAILURE(run_one_on_each("linger-", 6));
  // Past the cap the longest idle ones stop at once; the last two linger, then stop too.
  ASSERT_TRUE(eventually([&] { return mailbox_->stats().workers <= 2 && mailbox_->stats().active_runs == 0; }));
  ASSERT_TRUE(eventually([&] { return mailbox_->stats().workers == 0; }, std::chrono::seconds(5)));
  // Work on a thread whose worker stopped starts a new one, which lingers and stops likewise.
  auto again = mailbox_->submit_background(request("linger-5", "echo y"));
  ASSERT_TRUE(again);
  auto next = mailbox_->submit_background(request("linger-5", "echo z"));
  ASSERT_TRUE(next);
  ASSERT_TRUE(eventually([&] { return run_done(store_, again->run_id) && run_done(store_, next->run_id); }));
  ASSERT_TRUE(eventually([&] { return mailbox_->stats().workers == 0; }, std::chrono::seconds(5)));
}

TEST_F(MailboxSubmitTest, IdleWorkersStopSoIdleThreadsCostNothing) {
  start();
  ASSERT_NO_FATAL_FAILURE(run_one_on_each("idle-", 20));
  ASSERT_TRUE(eventually([&] { return mailbox_->stats().workers == 0 && mailbox_->stats().active_runs == 0; }));
}

}  // namespace
}  // namespace mbx::testing
