// Interrupt, cancel, and the closing of runs that will not run on. Every path that ends a run
// early repairs the transcript (synthetic results for dangling tool calls) in the same write
// that closes the run.
#include "runtime/detail/engine.hpp"
#include "runtime/transcript.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <set>
#include <thread>

namespace mbx {

Result<InterruptOutcome> Mailbox::Engine::interrupt_thread(const std::string& thread_id) {
  if (is_blank(thread_id)) return validation_error("thread_id must not be empty");
  return request_interrupt(thread_id, kReasonSupersededByInterrupt, Durability::synced);
}

Result<InterruptOutcome> Mailbox::Engine::interrupt_flow(const std::string& thread_id,
                                                         const std::string& supersede_reason,
                                                         Durability durability) {
  InterruptOutcome outcome;
  auto interrupted = store_.interrupt(thread_id, now_ms(), durability);
  if (!interrupted) {
    // The seed's fallback: cancel the thread's run in this process and wait for it.
    spdlog::warn("thread {}: interrupt failed ({}); cancelling its local run", thread_id,
                 describe(interrupted.error()));
    if (auto run = find_by_thread(thread_id)) {
      if (!stop_active_dispatch(run->dispatch)) return conflict_error(kActiveRunConflictMessage);
      outcome.cancelled_run_id = run->dispatch.run_id;
    }
    return outcome;
  }
  outcome.new_epoch = interrupted->new_epoch;
  outcome.superseded = interrupted->superseded_count;
  metrics_.supersede(interrupted->superseded_count);
  for (const auto& d : interrupted->superseded) {
    auto closed = finalize_stopped_run(d.run_id, TerminationReason{TerminationKind::cancelled, {}, supersede_reason},
                                       false, Durability::deferred);
    if (!closed) spdlog::warn("run {}: closing after supersede failed: {}", d.run_id, describe(closed.error()));
  }
  if (interrupted->active_dispatch) {
    if (!stop_active_dispatch(*interrupted->active_dispatch)) return conflict_error(kActiveRunConflictMessage);
    outcome.cancelled_run_id = interrupted->active_dispatch->run_id;
    spdlog::info("thread {}: interrupted run {} ({} queued superseded)", thread_id,
                 interrupted->active_dispatch->run_id, interrupted->superseded_count);
  }
  return outcome;
}

bool Mailbox::Engine::stop_active_dispatch(const RunDispatch& active) {
  ActiveRunPtr run;
  {
    std::lock_guard<std::mutex> lock(claim_lock(active.thread_id));  // claims register under it
    run = find_claim(active);
  }
  const TerminationReason interrupted{TerminationKind::cancelled, {}, kInterruptedDetail};
  bool took_over = false;
  if (run) {
    if (run->take_over_if_pending(detail::CancelReason::interrupted)) {
      took_over = true;  // it never started: closed below, then its stream ends
    } else if (!run->wait_stopped(std::chrono::milliseconds(config_.cancel_wait_ms))) {
      spdlog::warn("run {}: did not stop within {} ms of its interrupt", active.run_id, config_.cancel_wait_ms);
      return false;
    }
    // It has stopped: its stream learns so now, before the writes that release and close it
    // (the close below finds this finish event and adds none).
    std::ignore = append_finish_event_once(active.run_id, active.thread_id, interrupted);
  }
  // Another node's or a dead process's claim, or ours that ended without a write: the claim is
  // stale (the epoch moved on), so it is superseded now; its owner can no longer write anything.
  if (!release_stale_claim(Fence::of(active), active.run_id, interrupted)) return false;
  if (took_over) {
    run->hub->close();  // after its run_finish is in the log, so a subscriber sees it
    unregister(run);
  }
  return true;
}

bool Mailbox::Engine::release_stale_claim(const Fence& fence, const std::string& run_id,
                                          const TerminationReason& termination) {
  auto superseded = store_.supersede_claimed(fence, now_ms(), kReasonClaimedStaleEpoch, Durability::deferred);
  if (!superseded && superseded.error().code != Errc::fenced && superseded.error().code != Errc::not_found) {
    spdlog::warn("dispatch {}: supersede of its stale claim failed: {}", fence.dispatch_id,
                 describe(superseded.error()));
    return false;
  }
  auto closed = finalize_stopped_run(run_id, termination, false, Durability::deferred);
  if (!closed) spdlog::warn("run {}: closing after its interrupt failed: {}", run_id, describe(closed.error()));
  return true;
}

Result<void> Mailbox::Engine::cancel_run(const std::string& run_id) {
  // A run moves (queued -> claimed here or elsewhere) while we look: look again a few times.
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (auto run = find_by_run(run_id)) {
      if (run->take_over_if_pending(detail::CancelReason::cancelled)) {
        // Never started: close it and release the claim ourselves.
        auto closed = finalize_stopped_run(run_id, TerminationReason{TerminationKind::cancelled, {}, "cancelled"}, true);
        std::ignore = store_.ack(run->fence, now_ms());  // fenced only if the claim was lost: then nothing is left to release
        run->hub->close();
        unregister(run);
        return closed;
      }
      if (!run->wait_stopped(std::chrono::milliseconds(config_.cancel_wait_ms)))
        return conflict_error("run '" + run_id + "' did not stop within the cancel wait");
      return {};
    }
    auto record = store_.load_run(run_id);
    if (!record) return record.error();
    if (!*record) return not_found_error("run '" + run_id + "' not found");
    if ((*record)->status == RunStatus::done) return validation_error("run '" + run_id + "' has already finished");
    if ((*record)->dispatch_id) {
      auto d = store_.load_dispatch(*(*record)->dispatch_id);
      if (!d) return d.error();
      if (*d && (*d)->status == DispatchStatus::queued) {
        auto cancelled = store_.cancel((*d)->dispatch_id, now_ms());
        if (!cancelled) return cancelled.error();
        if (!*cancelled) continue;  // claimed meanwhile: look again
      } else if (*d && (*d)->status == DispatchStatus::claimed) {
        if ((*d)->claimed_by == config_.consumer_id) {
          std::this_thread::sleep_for(std::chrono::milliseconds(10));  // ours, being registered
          continue;
        }
        return conflict_error(fmt::format("run '{}' is running on consumer '{}'", run_id,
                                          (*d)->claimed_by.value_or("?")));
      }
    }
    return finalize_stopped_run(run_id, TerminationReason{TerminationKind::cancelled, {}, "cancelled"}, true);
  }
  return conflict_error("run '" + run_id + "' kept changing state; try again");
}

Result<void> Mailbox::Engine::finalize_stopped_run(const std::string& run_id, const TerminationReason& termination,
                                                   bool close_waiting, Durability durability) {
  for (std::uint32_t attempt = 0; attempt < config_.append_retries; ++attempt) {
    auto loaded = store_.load_run(run_id);
    if (!loaded) return loaded.error();
    if (!*loaded) return {};
    RunRecord run = std::move(**loaded);
    if (run.status == RunStatus::done) return {};
    if (run.status == RunStatus::waiting && !close_waiting) return {};
    // Tool calls left open, except those a (different) waiting run of the thread still owns.
    std::set<std::string> keep_open;
    auto waiting = store_.reusable_waiting_run(run.thread_id);
    if (!waiting) return waiting.error();
    if (*waiting && (*waiting)->run_id != run_id)
      for (const auto& t : (*waiting)->waiting->tickets) keep_open.insert(t.tool_call_id);
    auto version = store_.committed_version(run.thread_id);
    if (!version) return version.error();
    auto history = store_.load_committed_messages(run.thread_id, 1, 0);
    if (!history) return history.error();
    auto synthetic = synthetic_tool_results(dangling_tool_calls(*history, run_id, keep_open), run_id,
                                            termination.detail.empty() ? "run stopped" : termination.detail, ids_);
    // The finish event goes first, so that a reader who sees the run Done also finds it.
    if (attempt == 0)
      if (auto r = append_finish_event_once(run_id, run.thread_id, termination); !r) return r.error();
    const std::int64_t now_s = clock_.now_s();
    run.status = RunStatus::done;
    run.waiting.reset();
    run.termination_reason = termination;
    run.outcome = RunOutcome{termination, run.final_output, run.error_payload};
    run.finished_at = now_s;
    run.updated_at = now_s;
    auto committed = store_.commit_run_append(run.thread_id, synthetic, *version, run, nullptr, now_ms(), durability);
    if (!committed) {
      if (committed.error().code == Errc::conflict) continue;
      return committed.error();
    }
    metrics_.run_finished(termination.kind == TerminationKind::error ? "error" : "cancelled", 0);
    spdlog::info("run {} thread {}: closed ({}{}{})", run_id, run.thread_id, to_string(termination.kind),
                 termination.detail.empty() ? "" : ": ", termination.detail);
    return {};
  }
  return internal_error("closing run '" + run_id + "' exhausted its retries under version conflict");
}

Result<std::optional<AgentEvent>> Mailbox::Engine::append_finish_event_once(const std::string& run_id,
                                                                            const std::string& thread_id,
                                                                            const TerminationReason& termination) {
  auto events = store_.read_events(run_id, 0, 0);
  if (!events) return events.error();
  if (!events->empty() && events->back().type == AgentEventType::run_finish) return std::optional<AgentEvent>();
  AgentEvent finish;
  finish.type = AgentEventType::run_finish;
  finish.thread_id = thread_id;
  finish.run_id = run_id;
  finish.termination = termination;
  finish.at_ms = now_ms();
  auto appended = store_.append_event(run_id, finish, nullptr);
  if (!appended) {
    spdlog::warn("run {}: finish event not written: {}", run_id, describe(appended.error()));
    return std::optional<AgentEvent>();
  }
  return std::optional<AgentEvent>(std::move(*appended));
}

void Mailbox::Engine::reconcile_terminal_dispatch(const RunDispatch& dispatch) {
  Result<void> r;
  switch (dispatch.status) {
    case DispatchStatus::cancelled:
    case DispatchStatus::superseded:
      r = finalize_stopped_run(dispatch.run_id,
                               TerminationReason{TerminationKind::cancelled, {}, dispatch.last_error.value_or(
                                                                                     "dispatch " + std::string(to_string(dispatch.status)))},
                               false);
      break;
    case DispatchStatus::dead_letter:
      r = finalize_stopped_run(
          dispatch.run_id,
          TerminationReason{TerminationKind::error, {}, dispatch.last_error.value_or("dead-lettered")}, false);
      break;
    default:
      return;
  }
  if (!r) spdlog::warn("run {}: reconcile failed: {}", dispatch.run_id, describe(r.error()));
}

}  // namespace mbx
