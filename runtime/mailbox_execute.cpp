// Executing a claimed dispatch (spec section 5): re-check ownership and epoch, rebuild the
// activation, record the start, run the executor with a fenced RunContext, record the result,
// then ack / nack / dead-letter. Also the claims the workers make and the lease renewals.
// Runs on the engine's pool threads, never on a CAF scheduler thread.
#include "runtime/detail/engine.hpp"
#include "runtime/run_reconstruction.hpp"
#include "runtime/transcript.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <set>

namespace mbx {

namespace {

// Appends one event of `run` to the log (fenced) and publishes it. Caller holds run.write_mu.
Result<AgentEvent> emit_locked(Store& store, const Clock& clock, detail::ActiveRun& run, AgentEvent event) {
  event.run_id = run.dispatch.run_id;
  event.thread_id = run.dispatch.thread_id;
  if (event.at_ms == 0) event.at_ms = clock.now_ms();
  event.seq = 0;
  auto stored = store.append_event(event.run_id, event, &run.fence);
  if (!stored) return stored.error();
  run.hub->publish(*stored);
  if (stored->suspends_run()) run.suspended.store(true);
  if (stored->type == AgentEventType::tool_call_resumed) run.suspended.store(false);
  return stored;
}

// The synthetic results a write of run `run_id` adds for the tool calls it left open in the
// thread's history (those in `decided` excepted, answered with `detail`), and the thread
// version that write expects: none when there is nothing to append.
struct OpenCallResults {
  std::vector<Message> messages;
  std::optional<std::uint64_t> expected_version;
};
Result<OpenCallResults> results_for_open_calls(Store& store, IdSource& ids, const std::string& thread_id,
                                               const std::string& run_id, const std::set<std::string>& decided,
                                               const std::string& detail) {
  auto version = store.committed_version(thread_id);
  if (!version) return version.error();
  auto history = store.load_committed_messages(thread_id, 1, 0);
  if (!history) return history.error();
  OpenCallResults out;
  out.messages = synthetic_tool_results(dangling_tool_calls(*history, run_id, decided), run_id, detail, ids);
  if (!out.messages.empty()) out.expected_version = *version;
  return out;
}

std::set<std::string> decided_calls(const RunActivation& activation) {
  std::set<std::string> out;
  for (const auto& d : activation.control.seeded_decisions) out.insert(d.tool_call_id);
  return out;
}

}  // namespace

class ExecutionContext final : public RunContext {
public:
  ExecutionContext(Mailbox::Engine& engine, std::shared_ptr<detail::ActiveRun> run, RunActivation activation)
      : engine_(engine), run_(std::move(run)), activation_(std::move(activation)) {
    std::lock_guard<std::mutex> lock(run_->write_mu);
    record_ = *run_->record;
  }

  const RunActivation& activation() const override { return activation_; }
  const RunRecord& run() const override { return record_; }
  const RunDispatch& dispatch() const override { return run_->dispatch; }

  Result<const ThreadContext*> thread() override {
    // The thread's cached context, brought up to date (only newer messages are read).
    auto ctx = engine_.thread_context(run_->dispatch.thread_id);
    if (!ctx) return ctx.error();
    thread_ = std::move(*ctx);
    return thread_.get();
  }

  Result<AgentEvent> emit(AgentEvent event) override {
    std::lock_guard<std::mutex> lock(run_->write_mu);
    return emit_locked(engine_.store(), engine_.clock(), *run_, std::move(event));
  }

  Result<std::uint64_t> commit_messages(std::vector<Message> messages) override {
    normalize_message_ids(messages, engine_.ids());
    for (auto& m : messages)
      if (!m.metadata.run_id) m.metadata.run_id = run_->dispatch.run_id;
    std::lock_guard<std::mutex> lock(run_->write_mu);
    const auto& thread_id = run_->dispatch.thread_id;
    if (run_->dispatch.attempt_count > 0) {
      // Only a retried attempt can meet messages an earlier attempt already committed.
      auto fresh = drop_committed_by_this_run(std::move(messages));
      if (!fresh) return fresh.error();
      messages = std::move(*fresh);
      if (messages.empty()) return engine_.store().committed_version(thread_id);
    }
    for (std::uint32_t attempt = 0; attempt < engine_.config().append_retries; ++attempt) {
      auto version = engine_.store().committed_version(thread_id);
      if (!version) return version.error();
      RunRecord record = *run_->record;
      RunMessageOutput output = record.output.value_or(RunMessageOutput{thread_id, std::nullopt, {}});
      output.thread_id = thread_id;
      const std::uint64_t from = output.range ? output.range->from_seq : *version + 1;
      output.range = SeqRange{from, *version + messages.size()};
      for (const auto& m : messages) output.message_ids.push_back(m.id);
      record.output = std::move(output);
      record.updated_at = engine_.clock().now_s();
      auto committed = engine_.store().commit_run_append(thread_id, messages, *version, record, &run_->fence,
                                                         engine_.now_ms());
      if (committed) {
        run_->record = std::move(record);
        return committed;
      }
      if (committed.error().code != Errc::conflict) return committed.error();
    }
    return internal_error("commit_messages exhausted its retries under version conflict");
  }

  Result<std::vector<Message>> drop_committed_by_this_run(std::vector<Message> messages) {
    std::vector<Message> fresh;
    for (auto& m : messages) {
      auto existing = engine_.store().load_message_record(run_->dispatch.thread_id, m.id);
      if (!existing) return existing.error();
      if (!*existing) {
        fresh.push_back(std::move(m));
        continue;
      }
      const auto& by = (*existing)->message.metadata.run_id;
      if (by != run_->dispatch.run_id)
        return validation_error("message id " + m.id + " is already committed by another run");
    }
    return fresh;
  }

  bool cancelled() const override { return run_->cancel_reason() != detail::CancelReason::none; }
  bool wait_for_cancel(std::chrono::milliseconds timeout) override { return run_->wait_for_cancel(timeout); }

  std::vector<Message> take_live_input() override {
    std::lock_guard<std::mutex> lock(run_->write_mu);
    std::vector<Message> out;
    out.swap(run_->live_inbox);
    return out;
  }

private:
  Mailbox::Engine& engine_;
  std::shared_ptr<detail::ActiveRun> run_;
  RunActivation activation_;
  RunRecord record_;
  std::shared_ptr<const ThreadContext> thread_;  // keeps the returned snapshot alive
};

// -- claims ------------------------------------------------------------------------------------

bool Mailbox::Engine::has_queued(const std::string& thread_id) {
  auto state = store_.thread_state(thread_id);
  return !state || state->queued > 0;
}

Result<std::optional<RunDispatch>> Mailbox::Engine::claim_next(const std::string& thread_id) {
  if (stopping_.load()) return std::optional<RunDispatch>();
  std::lock_guard<std::mutex> lock(claim_lock(thread_id));
  // The claim also starts the dispatch's run when this is the run's first start (its first
  // attempt, the run Created), as the start in run_claimed would: one write instead of two, and
  // nothing for run_claimed to read or write before the agent. A run that cannot start there
  // (a retry, a resumed waiting run) is claimed alone and started by run_claimed.
  // Deferred: nobody is told of this write before the run's first synced write (at the latest
  // its end), which makes it durable. Lost in a power loss, the dispatch is Queued again (no
  // attempt spent) and its run still Created.
  const std::int64_t now = now_ms();
  const RunStarter starter = [this, now](const RunDispatch& claimed, const RunRecord& run) {
    StartedRun started{ids_.next_id(), run, std::nullopt};
    start_run_record(started.run, claimed.dispatch_id, clock_.now_s());
    started.event = run_start_event(started.run, now);
    return std::optional<StartedRun>(std::move(started));
  };
  auto claimed =
      store_.claim_and_start(thread_id, config_.consumer_id, config_.lease_ms, now, starter, Durability::deferred);
  if (!claimed) {
    spdlog::warn("thread {}: claim failed: {}", thread_id, describe(claimed.error()));
    return claimed.error();
  }
  if (!*claimed) return std::optional<RunDispatch>();
  auto run = std::make_shared<detail::ActiveRun>((*claimed)->dispatch, config_.event_channel_capacity);
  if ((*claimed)->run) {
    // Announced before it is registered (as an inline start): no interrupt or cancel can close
    // the run before its run_start is published.
    run->instance_id = (*claimed)->dispatch.dispatch_instance_id.value_or("");
    std::ignore = announce_start(run, std::move(*(*claimed)->run), (*claimed)->event);
  }
  return std::optional<RunDispatch>(register_run(std::move(run))->dispatch);
}

// -- execution ---------------------------------------------------------------------------------

void Mailbox::Engine::execute(const RunDispatch& claimed) {
  auto run = find_claim(claimed);
  if (!run || !run->begin()) return;  // taken over before it started (interrupt, cancel, shutdown)
  if (stopping_.load()) {  // claimed while stop() was already releasing: release it too
    release_for_shutdown(run);
    run->hub->close();
    unregister(run);
    run->mark_stopped();
    return;
  }
  metrics_.active_runs_changed(1);
  run_claimed(run);
  run->hub->close();
  unregister(run);
  run->mark_stopped();
  metrics_.active_runs_changed(-1);
}

void Mailbox::Engine::run_claimed(const ActiveRunPtr& run) {
  const RunDispatch& d = run->dispatch;
  const Fence& fence = run->fence;
  // 1. Still ours, and not behind the thread's epoch?
  auto current = store_.load_dispatch(d.dispatch_id);
  if (!current) {
    spdlog::warn("dispatch {}: reload failed ({}); its lease will expire", d.dispatch_id, describe(current.error()));
    return;
  }
  if (!*current || (*current)->status != DispatchStatus::claimed || (*current)->claim_token != d.claim_token) {
    if (*current) reconcile_terminal_dispatch(**current);
    return;
  }
  auto epoch = store_.current_epoch(d.thread_id);
  if (epoch && *epoch > d.dispatch_epoch) {
    // Interrupted before it ran.
    std::ignore = release_stale_claim(
        fence, d.run_id, TerminationReason{TerminationKind::cancelled, {}, "superseded by a newer submission"});
    return;
  }
  // 2. The run must still be open: a finished run is never executed again (a duplicate or
  //    stale dispatch of it is superseded). A run the submit's write started (first attempt,
  //    claimed inline) has its record in hand: that write is the run's latest, nothing to read.
  std::optional<RunRecord> record_in_hand;
  {
    std::lock_guard<std::mutex> lock(run->write_mu);
    record_in_hand = run->record;
  }
  const bool started = record_in_hand.has_value();
  if (!started) {
    auto loaded = store_.load_run(d.run_id);
    if (!loaded) {
      spdlog::warn("dispatch {}: run {} not readable ({}); its lease will expire", d.dispatch_id, d.run_id,
                   describe(loaded.error()));
      return;
    }
    if (!*loaded) {
      spdlog::error("dispatch {}: run {} does not exist; dead-lettered", d.dispatch_id, d.run_id);
      std::ignore = store_.dead_letter(fence, "run record missing", now_ms());  // nothing else can be done
      return;
    }
    const RunRecord& stored = **loaded;
    const bool ended_by_this_dispatch =
        (stored.status == RunStatus::done && stored.dispatch_id == d.dispatch_id) ||
        (stored.status == RunStatus::waiting && stored.waiting && stored.waiting->since_dispatch_id == d.dispatch_id);
    if (ended_by_this_dispatch) {
      // A previous attempt of this dispatch wrote the run's end and died before its ack: the
      // work is done; release the dispatch as that attempt would have, and run nothing again.
      release_recorded_end(run, stored);
      return;
    }
    if (stored.status == RunStatus::done) {
      spdlog::info("dispatch {}: run {} has already finished; superseded", d.dispatch_id, d.run_id);
      std::ignore = store_.supersede_claimed(fence, now_ms(), "run already finished");  // fenced: already gone
      return;
    }
    record_in_hand = std::move(**loaded);
  }
  // 3. Rebuild the activation from the run record and the message log: any worker can execute
  //    any dispatch.
  auto activation = reconstruct_run_request(store_, d, *record_in_hand);
  if (!started) run->instance_id = ids_.next_id();
  if (!activation) {
    if (!started) {
      std::lock_guard<std::mutex> lock(run->write_mu);
      run->record = *record_in_hand;
    }
    ExecutionResult failed;
    failed.status = ExecutionStatus::permanent_error;
    failed.error = "cannot rebuild the run's activation: " + describe(activation.error());
    end_attempt(run, failed, now_ms());
    return;
  }
  // 4. The start, one write: the dispatch's start and the run record Running (a retry also
  //    closes the tool calls its last attempt left open). A run started inline announced it.
  if (!started) {
    RunRecord record = std::move(*record_in_hand);
    start_run_record(record, d.dispatch_id, clock_.now_s());
    std::optional<AgentEvent> start_event;
    for (std::uint32_t attempt = 0;; ++attempt) {
      OpenCallResults synthetic;  // only a retry can find tool calls an attempt left open
      if (d.attempt_count > 0) {
        auto found = results_for_open_calls(store_, ids_, d.thread_id, d.run_id, decided_calls(*activation),
                                            "the previous attempt stopped before the tool returned");
        if (!found) return;  // lease expiry retries the dispatch
        synthetic = std::move(*found);
      }
      DispatchStep start;
      start.kind = DispatchStep::Kind::start;
      start.instance_id = run->instance_id;
      start.event = run_start_event(record, now_ms());
      // Deferred like the claim: lost, the dispatch's claim is lost with it (the log keeps no
      // write without the earlier ones), and the next attempt starts the run again.
      auto committed =
          store_.commit_run_step(d.thread_id, synthetic.messages, synthetic.expected_version, record, fence, start,
                                 now_ms(), Durability::deferred);
      if (committed) {
        start_event = std::move(committed->event);
        break;
      }
      if (committed.error().code != Errc::conflict || attempt + 1 >= config_.append_retries) {
        spdlog::warn("run {}: start not recorded: {}", d.run_id, describe(committed.error()));
        if (committed.error().code == Errc::fenced) reconcile_after_fence(run);
        return;
      }
    }
    announce_start(run, std::move(record), start_event);
  }
  const std::int64_t started_ms = now_ms();
  metrics_.run_started(static_cast<double>(started_ms - d.created_at) / 1000.0);
  spdlog::info("run {} thread {}: running (dispatch {}, attempt {})", d.run_id, d.thread_id, d.dispatch_id,
               d.attempt_count + 1);

  // 5. The agent.
  ExecutionContext context(*this, run, std::move(*activation));
  ExecutionResult result;
  if (run->cancel_reason() == detail::CancelReason::none) {
    try {
      result = executor_.execute(context);
    } catch (const std::exception& e) {
      result.status = ExecutionStatus::permanent_error;
      result.error = std::string("executor threw: ") + e.what();
    } catch (...) {
      result.status = ExecutionStatus::permanent_error;
      result.error = "executor threw a non-standard exception";
    }
  }
  std::vector<Message> untaken;
  {
    std::lock_guard<std::mutex> lock(run->write_mu);
    run->accepts_live_input = false;
    untaken.swap(run->live_inbox);
  }
  end_attempt(run, result, started_ms);
  // Live input the run never read is committed already; it becomes the trigger of a new run
  // (unless the run was stopped on purpose: interrupt, cancel, lease loss, shutdown).
  if (!untaken.empty() && run->cancel_reason() == detail::CancelReason::none) {
    std::vector<std::string> ids;
    for (const auto& m : untaken) ids.push_back(m.id);
    auto followup = queue_followup_run(d.thread_id, ids);
    if (!followup) spdlog::warn("thread {}: follow-up run for live input failed: {}", d.thread_id,
                                describe(followup.error()));
  }
}

std::uint64_t Mailbox::Engine::announce_start(const ActiveRunPtr& run, RunRecord record,
                                              const std::optional<AgentEvent>& stored_start) {
  std::lock_guard<std::mutex> lock(run->write_mu);
  std::uint64_t seq = 0;
  if (stored_start) {  // written with the start
    run->hub->publish(*stored_start);
    seq = stored_start->seq;
  } else {
    auto emitted = emit_locked(store_, clock_, *run, run_start_event(record, clock_.now_ms()));
    seq = emitted ? emitted->seq : 0;  // a fenced start event surfaces at the end write
  }
  run->record = std::move(record);
  run->accepts_live_input = true;
  return seq;
}

void Mailbox::Engine::release_recorded_end(const ActiveRunPtr& run, const RunRecord& record) {
  const RunDispatch& d = run->dispatch;
  const TerminationReason termination = record.termination_reason.value_or(TerminationReason{});
  RunDispatchResult result;
  result.run_id = d.run_id;
  result.dispatch_instance_id = d.dispatch_instance_id.value_or("");
  result.status = record.status;
  result.termination = termination;
  result.response = record.final_output;
  if (termination.kind == TerminationKind::error) result.error = termination.detail;
  DispatchStep release;
  release.kind = termination.kind == TerminationKind::error ? DispatchStep::Kind::dead_letter : DispatchStep::Kind::ack;
  if (!result.dispatch_instance_id.empty()) release.result = std::move(result);  // else only the release
  release.error = termination.detail;
  // The record is written again unchanged, so that result and release are one fenced write.
  auto released = store_.commit_run_step(d.thread_id, {}, std::nullopt, record, run->fence, release, now_ms());
  if (!released) {
    spdlog::warn("dispatch {}: release of the recorded end failed: {}", d.dispatch_id, describe(released.error()));
    return;
  }
  spdlog::info("dispatch {}: run {} had already ended ({}); released without running again", d.dispatch_id,
               d.run_id, record.status == RunStatus::waiting ? "waiting" : "done");
}

void Mailbox::Engine::release_for_shutdown(const ActiveRunPtr& run) {
  // Back to the queue for the next start (or another node); this costs an attempt, like a crash.
  auto released = store_.nack(run->fence, now_ms(), "released at shutdown", now_ms());
  if (released && released->status == DispatchStatus::dead_letter) reconcile_terminal_dispatch(*released);
  if (!released && released.error().code == Errc::fenced) reconcile_after_fence(run);
}

void Mailbox::Engine::reconcile_after_fence(const ActiveRunPtr& run) {
  // A fenced write: the claim is gone. An interrupt (epoch moved on) superseded it, and the
  // interrupted run is closed here; a lost lease leaves the run to its next attempt.
  auto current = store_.load_dispatch(run->dispatch.dispatch_id);
  if (current && *current && is_terminal((*current)->status)) reconcile_terminal_dispatch(**current);
}

void Mailbox::Engine::end_attempt(const ActiveRunPtr& run, const ExecutionResult& result, std::int64_t started_ms) {
  const RunDispatch& d = run->dispatch;
  const Fence& fence = run->fence;
  const double runtime_s = static_cast<double>(now_ms() - started_ms) / 1000.0;
  run->ending.store(true);
  const auto reason = run->cancel_reason();
  if (reason == detail::CancelReason::lease_lost) {
    metrics_.run_finished("lease_lost", runtime_s);
    spdlog::warn("run {} thread {}: stopped after losing its claim; not acked", d.run_id, d.thread_id);
    reconcile_after_fence(run);  // an interrupt that won the race with the lease keeper closes the run
    return;
  }
  if (reason == detail::CancelReason::shutdown) {
    release_for_shutdown(run);
    metrics_.run_finished("released", runtime_s);
    return;
  }
  enum class Disposition { ack, dead_letter };
  Disposition disposition = Disposition::ack;
  TerminationReason termination;
  bool early = false;  // stopped before its natural end: repair the transcript
  std::string error;
  if (reason == detail::CancelReason::interrupted || reason == detail::CancelReason::cancelled) {
    termination = TerminationReason{TerminationKind::cancelled, {},
                                    reason == detail::CancelReason::interrupted ? "interrupted" : "cancelled"};
    early = true;
  } else {
    switch (result.status) {
      case ExecutionStatus::completed:
        termination = TerminationReason{TerminationKind::natural_end, {}, {}};
        break;
      case ExecutionStatus::waiting:
        if (result.waiting) {
          termination = TerminationReason{TerminationKind::suspended, {}, {}};
        } else {
          error = "executor returned waiting without a waiting state";
          termination = TerminationReason{TerminationKind::error, {}, error};
          early = true;
          disposition = Disposition::dead_letter;
        }
        break;
      case ExecutionStatus::transient_error:
        if (d.attempt_count + 1 < d.max_attempts) {
          const std::int64_t delay = config_.retry_delay_ms(d.attempt_count + 1);
          {
            std::lock_guard<std::mutex> lock(run->write_mu);
            AgentEvent e;
            e.type = AgentEventType::error;
            e.code = "transient";
            e.text = result.error;
            std::ignore = emit_locked(store_, clock_, *run, e);  // advisory: the retry is what matters
          }
          auto nacked = store_.nack(fence, now_ms() + delay, result.error, now_ms());
          if (!nacked) {
            spdlog::warn("dispatch {}: nack refused: {}", d.dispatch_id, describe(nacked.error()));
            if (nacked.error().code == Errc::fenced) reconcile_after_fence(run);
            return;
          }
          wake_in(delay);  // a delayed retry must wake up (the reference's trap)
          metrics_.run_finished("retry", runtime_s);
          spdlog::info("run {} thread {}: transient error, retry {} in {} ms: {}", d.run_id, d.thread_id,
                       d.attempt_count + 2, delay, result.error);
          return;
        }
        [[fallthrough]];
      case ExecutionStatus::permanent_error:
        error = result.error.empty() ? "run failed" : result.error;
        termination = TerminationReason{TerminationKind::error, {}, error};
        early = true;
        disposition = Disposition::dead_letter;
        break;
    }
  }

  // The run's end, ONE fenced write: the finish event (so a reader who sees the run ended finds
  // it), the record with synthetic tool results, the dispatch result, ack / dead letter.
  std::unique_lock<std::mutex> lock(run->write_mu);
  AgentEvent finish;
  finish.type = AgentEventType::run_finish;
  finish.termination = termination;
  finish.run_id = d.run_id;
  finish.thread_id = d.thread_id;
  finish.at_ms = clock_.now_ms();
  if (result.response) finish.text = *result.response;
  if (reason == detail::CancelReason::interrupted) {
    auto epoch = store_.current_epoch(d.thread_id);
    if (epoch && *epoch > d.dispatch_epoch) {
      // Interrupted through the store (the epoch moved on, so every write of this run is
      // fenced): it has stopped, and its stream learns so now. Then its claim is superseded and
      // the run closed, here as well as by the interrupter that waits for it (whichever comes
      // second finds them done), so that an interrupter that stopped waiting leaves nothing
      // open (release_stale_claim).
      const TerminationReason interrupted{TerminationKind::cancelled, {}, kInterruptedDetail};
      auto appended = append_finish_event_once(d.run_id, d.thread_id, interrupted);
      if (appended && *appended) run->hub->publish(**appended);
      lock.unlock();
      std::ignore = release_stale_claim(fence, d.run_id, interrupted);
      return;  // counted by the close
    }
  }
  RunRecord record = run->record.value_or(RunRecord{});
  const std::int64_t now_s = clock_.now_s();
  record.status = termination.run_status();
  record.termination_reason = termination;
  record.updated_at = now_s;
  if (result.state) record.state = result.state;
  if (record.status == RunStatus::waiting) {
    record.waiting = *result.waiting;
    record.waiting->since_dispatch_id = d.dispatch_id;
    record.outcome.reset();
    record.finished_at.reset();
  } else {
    record.waiting.reset();
    record.final_output = result.response;
    if (!error.empty())
      record.error_payload = OpaqueJson{boost::json::serialize(boost::json::object{{"message", error}})};
    record.outcome = RunOutcome{termination, record.final_output, record.error_payload};
    record.finished_at = now_s;
  }
  RunDispatchResult dispatch_result;
  dispatch_result.run_id = d.run_id;
  dispatch_result.dispatch_instance_id = run->instance_id;
  dispatch_result.status = record.status;
  dispatch_result.termination = termination;
  dispatch_result.response = result.response;
  if (!error.empty()) dispatch_result.error = error;
  DispatchStep release;
  release.kind = disposition == Disposition::ack ? DispatchStep::Kind::ack : DispatchStep::Kind::dead_letter;
  release.result = std::move(dispatch_result);
  release.error = error;
  release.event = std::move(finish);
  Result<StepCommit> committed = internal_error("not attempted");
  for (std::uint32_t attempt = 0; attempt < config_.append_retries; ++attempt) {
    OpenCallResults synthetic;  // only a run stopped early can leave tool calls open
    if (early) {
      auto found = results_for_open_calls(store_, ids_, d.thread_id, d.run_id, {}, termination.detail);
      if (!found) {
        committed = found.error();
        break;
      }
      synthetic = std::move(*found);
    }
    committed = store_.commit_run_step(d.thread_id, synthetic.messages, synthetic.expected_version, record, fence,
                                       release, now_ms());
    if (committed || committed.error().code != Errc::conflict) break;
  }
  if (!committed) {
    lock.unlock();
    spdlog::info("run {} thread {}: end not recorded ({}); reconciling", d.run_id, d.thread_id,
                 describe(committed.error()));
    if (committed.error().code == Errc::fenced) reconcile_after_fence(run);
    return;
  }
  run->record = record;
  if (committed->event) run->hub->publish(*committed->event);
  lock.unlock();
  const char* outcome = record.status == RunStatus::waiting                       ? "waiting"
                        : termination.kind == TerminationKind::cancelled           ? "cancelled"
                        : termination.kind == TerminationKind::error               ? "error"
                                                                                    : "completed";
  metrics_.run_finished(outcome, runtime_s);
  spdlog::info("run {} thread {}: {}{}{}", d.run_id, d.thread_id, outcome, error.empty() ? "" : ": ", error);
}

// -- leases ------------------------------------------------------------------------------------

void Mailbox::Engine::renew_leases() {
  for (const auto& run : active_snapshot()) {
    if (run->phase() == detail::RunPhase::stopped || run->ending.load()) continue;
    const std::int64_t lease = run->suspended.load() ? config_.suspended_lease_ms : config_.lease_ms;
    const std::int64_t now = now_ms();
    auto extended = store_.extend_lease(run->fence, lease, now);
    if (extended) {
      run->lease_until_ms.store(extended->lease_until.value_or(now + lease));
      metrics_.lease_renewed();
      continue;
    }
    if (run->ending.load()) continue;  // acked or released meanwhile: not a loss
    const bool lost = extended.error().code == Errc::fenced || extended.error().code == Errc::not_found ||
                      now > run->lease_until_ms.load();
    if (!lost) {
      spdlog::warn("dispatch {}: lease renewal failed ({}); retrying", run->dispatch.dispatch_id,
                   describe(extended.error()));
      continue;
    }
    metrics_.lease_lost();
    spdlog::warn("run {} thread {}: lease lost ({}); cancelling", run->dispatch.run_id, run->dispatch.thread_id,
                 describe(extended.error()));
    if (run->take_over_if_pending(detail::CancelReason::lease_lost)) {
      run->hub->close();
      unregister(run);
    }
  }
}

}  // namespace mbx
