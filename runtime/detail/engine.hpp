// Mailbox::Engine: everything behind the Mailbox pimpl. It implements the submit flows (called
// on the caller's thread, where blocking on synced writes is fine), the EnginePort the actors
// call from the blocking pools (claims, runs, lease renewal, sweeps), recovery and queries.
// Its .cpp is split by flow: mailbox_submit.cpp, mailbox_execute.cpp, mailbox_cancel.cpp,
// mailbox_recovery.cpp, mailbox_query.cpp; mailbox.cpp holds start/stop and the registry.
// Thread-safe; the registry of active runs is guarded by active_mu_.
#pragma once

#include "actors/actor_types.hpp"
#include "actors/blocking_pool.hpp"
#include "actors/engine_port.hpp"
#include "runtime/detail/active_run.hpp"
#include "runtime/instrumented_store.hpp"
#include "runtime/mailbox.hpp"
#include "runtime/metrics.hpp"
#include "runtime/run_preparation.hpp"

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include <array>
#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>

namespace mbx {

inline constexpr const char* kActiveRunConflictMessage = "thread has an active run; cannot claim inline";
// The termination detail of a run stopped by an interrupt (a foreground submit or interrupt_thread).
inline constexpr const char* kInterruptedDetail = "interrupted by a newer submission";

class Mailbox::Engine final : public EnginePort {
public:
  Engine(Store& store, Executor& executor, MailboxConfig config, const Clock& clock, IdSource& ids);
  ~Engine() override;

  Result<void> start();
  void stop();

  // Flows (mailbox_submit.cpp).
  Result<Submission> submit(RunActivation request, const SubmitOptions& options);
  Result<SubmitResult> submit_background(RunActivation request, const SubmitOptions& options);
  Result<std::string> submit_durable_message(const DurableMessage& message);
  Result<SubmitResult> submit_live_then_queue(RunActivation request, std::optional<std::string> expected_run_id,
                                              const SubmitOptions& options);
  Result<SubmitResult> decide(const std::string& run_id, const std::string& tool_call_id, ToolCallResume decision);
  // mailbox_cancel.cpp
  Result<InterruptOutcome> interrupt_thread(const std::string& thread_id);
  Result<void> cancel_run(const std::string& run_id);
  // mailbox_query.cpp
  Result<EventStream> attach(const std::string& run_id, std::uint64_t after_seq);
  Result<std::optional<RunRecord>> active_run(const std::string& thread_id);
  std::string metrics_text();
  MailboxStats stats();

  // EnginePort (mailbox_execute.cpp, mailbox_recovery.cpp)
  Result<std::optional<RunDispatch>> claim_next(const std::string& thread_id) override;
  bool has_queued(const std::string& thread_id) override;
  void execute(const RunDispatch& claimed) override;
  void renew_leases() override;
  std::vector<std::string> sweep() override;
  ReadyThreads ready_threads() override;
  void collect_garbage() override;
  void thread_idle(const std::string& thread_id) override;
  // Runs on the interrupts pool, asked by the supervisor (see request_interrupt).
  Result<InterruptOutcome> interrupt(const std::string& thread_id, const std::string& supersede_reason,
                                     Durability durability) override;

  // The ThreadContext cache of the threads whose worker is alive: the committed history as
  // last read, refreshed by reading only the messages after its version. The store stays the
  // authority; an entry lives as long as the thread's worker (dropped in thread_idle).
  Result<std::shared_ptr<const ThreadContext>> thread_context(const std::string& thread_id);

  Store& store() { return store_; }
  const MailboxConfig& config() const { return config_; }
  const Clock& clock() const { return clock_; }
  IdSource& ids() { return ids_; }
  Metrics& metrics() { return metrics_; }

  // Used by the run context (mailbox_execute.cpp).
  std::int64_t now_ms() const { return clock_.now_ms(); }

private:
  friend class ExecutionContext;
  using ActiveRunPtr = std::shared_ptr<detail::ActiveRun>;

  // Registry (mailbox.cpp).
  std::mutex& claim_lock(const std::string& thread_id);
  // The registry is keyed by claim token: a dispatch claimed again (after a lost lease) while
  // its old run is still stopping is another entry, and each is removed only by its own run.
  ActiveRunPtr register_claimed(const RunDispatch& claimed);
  ActiveRunPtr register_run(ActiveRunPtr run);
  void unregister(const ActiveRunPtr& run);
  ActiveRunPtr find_claim(const RunDispatch& claimed);
  ActiveRunPtr find_by_thread(const std::string& thread_id);
  ActiveRunPtr find_by_run(const std::string& run_id);
  std::vector<ActiveRunPtr> active_snapshot();
  void hand_to_worker(const RunDispatch& claimed);
  void wake_in(std::int64_t delay_ms);
  void nudge_thread(const std::string& thread_id);  // ask the thread's worker for its next dispatch

  // Flow pieces (mailbox_submit.cpp).
  // Every submit goes through here: idempotency key, multitask strategy, then the flow.
  Result<Submission> submit_any(RunActivation request, const SubmitOptions& options, MultitaskStrategy strategy);
  // interrupt = false: the reject strategy (no interrupt; the inline claim decides).
  Result<Submission> submit_foreground(RunActivation request, bool interrupt = true);
  std::uint64_t event_count(const std::string& run_id);
  // Where a new submission's stream starts: before `start_seq` (the run_start the submit's write
  // announced, 0 if none), else after a resumed run's earlier events, else at the beginning.
  std::uint64_t stream_start(const std::string& run_id, std::uint64_t start_seq, bool resumed);
  // `start_seq`: the run_start's seq when the submit's write claimed and started the run, else 0.
  Result<SubmitResult> background_flow(RunActivation request, std::uint64_t& start_seq);
  // prepare + enqueue (+ the inline claim and start `enqueue` asks for) in one write, under the
  // thread's claim lock; a dispatch stored Claimed is registered and returned in `run`. A run
  // the write also started announces its start before it is registered (so no interrupt or
  // cancel can close it before its run_start); `start_seq` is that event's seq, else 0.
  Result<PreparedRun> prepare_and_claim(RunActivation& request, const EnqueueWith& enqueue, ActiveRunPtr& run,
                                        std::uint64_t& start_seq);
  // This consumer's inline claim (with only_if_no_queued as given).
  InlineClaim inline_claim(bool only_if_no_queued) const;
  // True when the thread has a Queued or Claimed dispatch (or the store could not say).
  bool thread_has_work(const std::string& thread_id);
  Result<SubmitResult> queue_followup_run(const std::string& thread_id, const std::vector<std::string>& message_ids);
  Result<std::optional<SubmitResult>> deliver_live(const ActiveRunPtr& run, std::vector<Message> messages);
  // Idempotency: the stored result of a key, or a conflict; empty if the key is new.
  struct IdempotencyEntry {
    std::string fingerprint;
    SubmitResult result;
    std::int64_t expires_at_ms = 0;
    bool in_progress = false;  // its first submit has not returned yet
  };
  Result<std::optional<SubmitResult>> idempotent_replay(const std::string& scope_key, const std::string& fingerprint,
                                                        const RunActivation& request, std::string* derived_run_id);
  void remember_idempotent(const std::string& scope_key, const std::string& fingerprint, const SubmitResult& result);
  std::mutex& idempotency_lock(const std::string& scope_key);

  // Ending runs (mailbox_cancel.cpp).
  // Appends run_finish with `termination` (unfenced) unless the run's log already ends with
  // one; returns the event appended. Only for a run that has stopped.
  Result<std::optional<AgentEvent>> append_finish_event_once(const std::string& run_id, const std::string& thread_id,
                                                             const TerminationReason& termination);
  // Closes a run that will not run on (superseded, cancelled, interrupted elsewhere, dead-lettered
  // by the sweeper): status Done with `termination`, synthetic results for its dangling tool
  // calls, a run_finish event. Unfenced; idempotent (a Done run is left alone); a waiting run is
  // left open unless `close_waiting`. Deferred only where recovery closes the run again when the
  // write is lost: its dispatch is terminal already (recover() closes the runs of those).
  Result<void> finalize_stopped_run(const std::string& run_id, const TerminationReason& termination,
                                    bool close_waiting, Durability durability = Durability::synced);
  void reconcile_terminal_dispatch(const RunDispatch& dispatch);
  // A claim behind its thread's epoch (an interrupt): supersedes it and closes its run with
  // `termination`. Both deferred writes: the epoch bump is in the log before them, and startup
  // recovery supersedes a stale claim and closes its run when a power loss dropped them. A
  // claim already gone (fenced, not found) still has its run closed: a dispatch behind the
  // epoch never runs again. False (nothing closed) when the supersede failed otherwise.
  bool release_stale_claim(const Fence& fence, const std::string& run_id, const TerminationReason& termination);
  // Cancels the local run of `active` (or takes it over) and waits for it; supersedes the claim
  // and closes the run (deferred writes: the epoch moved on durably, and recovery finishes
  // both). False if it did not stop within cancel_wait_ms.
  bool stop_active_dispatch(const RunDispatch& active);
  // `durability` is the epoch bump's: deferred for a foreground submit, whose synced enqueue
  // follows (and makes it durable), synced for interrupt_thread.
  Result<InterruptOutcome> interrupt_flow(const std::string& thread_id, const std::string& supersede_reason,
                                          Durability durability);
  // Asks the supervisor to interrupt the thread and waits for its answer (the caller's thread
  // blocks, no actor does). The supervisor runs interrupt_flow on the interrupts pool.
  Result<InterruptOutcome> request_interrupt(const std::string& thread_id, const std::string& supersede_reason,
                                             Durability durability);

  // Recovery (mailbox_recovery.cpp), before the actors start: claims this consumer left behind
  // go back to the queue, expired leases are reclaimed, and the ids of the open runs are kept in
  // recovery_run_ids_ for check_open_runs.
  Result<void> recover();
  // On the maintenance pool once the engine runs (ahead of any sweep or purge): each open run an
  // earlier process left is checked with recover_open_run. Errors are logged; stops early when
  // the engine stops (the next start checks again).
  void check_open_runs(const std::vector<std::string>& run_ids);
  // One open run's check (Created without its dispatch: enqueued; its dispatch terminal and
  // not acked: closed). `rebuilt` / `closed` count what it did.
  Result<void> recover_open_run(const RunRecord& run, std::uint64_t& rebuilt, std::uint64_t& closed);

  // Execution (mailbox_execute.cpp).
  void run_claimed(const ActiveRunPtr& run);
  // The start is recorded (by run_claimed, or by the submit's write): the run's record (set
  // from now on), its run_start event (stored by that write and published here, or appended
  // now when the write did not carry it; returns its seq, 0 if refused), and live input.
  std::uint64_t announce_start(const ActiveRunPtr& run, RunRecord record, const std::optional<AgentEvent>& stored_start);
  void end_attempt(const ActiveRunPtr& run, const ExecutionResult& result, std::int64_t started_ms);
  void reconcile_after_fence(const ActiveRunPtr& run);
  void release_for_shutdown(const ActiveRunPtr& run);
  // The run's end was recorded by an earlier attempt of this dispatch that died before its ack.
  void release_recorded_end(const ActiveRunPtr& run, const RunRecord& record);

  Store& user_store_;
  Metrics metrics_;
  InstrumentedStore store_;
  Executor& executor_;
  MailboxConfig config_;
  const Clock& clock_;
  IdSource& ids_;
  RunPreparer preparer_;
  std::atomic<bool> stopping_{false};
  bool started_ = false;
  std::vector<std::string> recovery_run_ids_;  // Set by recover(), handed to check_open_runs by start().

  std::mutex active_mu_;
  std::unordered_map<std::string, ActiveRunPtr> active_by_claim_;  // Guarded by active_mu_. claim token -> run
  std::unordered_map<std::string, std::string> active_by_thread_;  // Guarded by active_mu_. thread -> claim token
  std::unordered_map<std::string, std::string> active_by_run_;     // Guarded by active_mu_. run -> claim token
  static constexpr std::size_t kStripes = 256;
  std::array<std::mutex, kStripes> claim_locks_;
  std::array<std::mutex, 64> idempotency_locks_;
  std::array<std::mutex, 64> durable_locks_;  // durable message ids and decisions, by run id
  std::mutex idempotency_mu_;
  std::unordered_map<std::string, IdempotencyEntry> idempotency_;  // Guarded by idempotency_mu_.

  std::mutex contexts_mu_;
  std::unordered_map<std::string, std::shared_ptr<const ThreadContext>> contexts_;  // Guarded by contexts_mu_.

  std::unique_ptr<BlockingPool> io_pool_;
  std::unique_ptr<BlockingPool> run_pool_;
  std::unique_ptr<BlockingPool> lease_pool_;
  std::unique_ptr<BlockingPool> maintenance_pool_;
  std::unique_ptr<BlockingPool> interrupt_pool_;
  std::unique_ptr<caf::actor_system_config> actor_config_;
  std::unique_ptr<caf::actor_system> actor_system_;
  std::mutex actors_mu_;   // guards supervisor_ and actor_system_ against stop() (callers read them)
  caf::actor supervisor_;  // Guarded by actors_mu_ once started.
  caf::actor lease_keeper_;
  caf::actor sweeper_;
  // Callers waiting on a request to the supervisor; stop() waits for them before it destroys
  // the actor system their scoped actors live in.
  std::mutex requests_mu_;
  std::condition_variable requests_cv_;
  std::uint32_t requests_in_flight_ = 0;  // Guarded by requests_mu_.
};

}  // namespace mbx
