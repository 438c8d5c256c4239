// The submit path's preparation steps (the seed's validate_run_inputs,
// normalize_mailbox_run_mode, prepare_run_for_dispatch and build_dispatch) as plain functions
// over the store, so that every submit flow shares them and they are tested without actors.
// RunPreparer is safe for concurrent use: appends of one thread are serialized in-process by a
// striped lock, and across processes by the store's versioned append.
#pragma once

#include "messages/clock.hpp"
#include "messages/ids.hpp"
#include "messages/run_activation.hpp"
#include "messages/run_dispatch.hpp"
#include "runtime/config.hpp"
#include "store/thread_run_store.hpp"

#include <array>
#include <mutex>
#include <string>

namespace mbx {

// Trims the thread id (blank: validation error) and requires messages unless the request
// carries seeded decisions (a pure HITL decision).
[[nodiscard]] Result<void> validate_run_inputs(RunActivation& request);

// Only a Foreground request changes: decisions or a resume id => Resume; origin Internal =>
// InternalWake; `background` => Background; else Foreground.
void normalize_run_mode(RunActivation& request, bool background);

// Keeps a non-blank dispatch id hint, else mints one. Returns it.
std::string ensure_dispatch_id_hint(RunActivation& request, IdSource& ids);

struct PreparedRun {
  std::string run_id;
  std::string dispatch_id;
  std::uint64_t version = 0;  // the thread's committed version after the append
  std::optional<RunDispatch> enqueued;  // the dispatch as stored, when prepare enqueued it
  std::optional<RunRecord> started;     // the run record as written, when it was claimed and started inline
  std::optional<AgentEvent> start_event;  // its run_start event as stored in the same write
};

// Enqueue the run's dispatch in the same write as the append (ThreadRunStore::commit_run_enqueue).
struct EnqueueWith {
  std::int64_t available_at_ms = 0;
  EnqueueOptions options;
  // With options.claim: start the run in the same write when the claim is made
  // (InlineClaim::started_run, built with start_run_record), with its run_start event.
  bool start_on_claim = false;
};

// The run record as its dispatch's start writes it: Running, for `dispatch_id`, no waiting
// state or outcome left from an earlier attempt or suspension, started_at kept if set.
void start_run_record(RunRecord& record, const std::string& dispatch_id, std::int64_t now_s);

// The run_start event of `run` (its seq is assigned when it is stored).
[[nodiscard]] AgentEvent run_start_event(const RunRecord& run, std::int64_t now_ms);

class RunPreparer {
public:
  RunPreparer(ThreadRunStore& store, const Clock& clock, IdSource& ids, const MailboxConfig& config);

  // prepare_run_for_dispatch: reuses the thread's waiting run (HITL resume, same run id, mode
  // Resume) when the request names no run; picks the run id (resume id, hint, or new); checks
  // an existing run (same thread, Created or resumable waiting); infers agent and inherits
  // state from the previous run for a new one; then appends the input messages and writes the
  // run record in one versioned append, retrying conflicts up to config.append_retries times.
  // Updates `request` (kind, run mode, hints, agent id, message ids).
  // With `enqueue`, the run's dispatch (build_dispatch) is enqueued in the same atomic write, so a
  // refused enqueue (queue_full, duplicate) writes no run and no message.
  [[nodiscard]] Result<PreparedRun> prepare(RunActivation& request, const EnqueueWith* enqueue = nullptr);

  // A Queued dispatch for a prepared request (run id = resume id or hint; missing: internal).
  [[nodiscard]] Result<RunDispatch> build_dispatch(const RunActivation& request, std::int64_t available_at_ms) const;

private:
  std::mutex& append_lock(const std::string& thread_id);

  static constexpr std::size_t kAppendStripes = 256;
  ThreadRunStore& store_;
  const Clock& clock_;
  IdSource& ids_;
  MailboxConfig config_;
  std::array<std::mutex, kAppendStripes> append_locks_;
};

}  // namespace mbx
