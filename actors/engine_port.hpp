// EnginePort: what the actors ask of the engine (runtime/ implements it in the Mailbox). Every
// function may block on synced store writes or on an agent run, so actors call them only from a
// BlockingPool thread, never from a CAF scheduler thread. Implementations are thread-safe.
#pragma once

#include "messages/error.hpp"
#include "messages/run_dispatch.hpp"
#include "store/durability.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mbx {

struct ReadyThreads {
  std::vector<std::string> thread_ids;       // threads with claimable work now
  std::optional<std::int64_t> next_in_ms;    // when delayed work (retry, inline guard) becomes claimable
};

class EnginePort {
public:
  virtual ~EnginePort() = default;

  // Claims the thread's next eligible dispatch and registers it as active (its lease is renewed
  // from this moment). Empty when nothing is eligible or the thread already has a claimed one.
  [[nodiscard]] virtual Result<std::optional<RunDispatch>> claim_next(const std::string& thread_id) = 0;
  // Whether the thread has Queued dispatches (claimable now or later): one cheap read, no
  // write. True when the read fails (the claim will tell).
  [[nodiscard]] virtual bool has_queued(const std::string& thread_id) = 0;
  // Runs a claimed, registered dispatch to its end: re-check ownership, record the start, run
  // the executor, record the result, ack / nack / dead-letter. Returns when it has stopped.
  virtual void execute(const RunDispatch& claimed) = 0;
  // Interrupts the thread: bumps its epoch and supersedes its queued dispatches (closing their
  // runs with `supersede_reason`), cancels its active run and waits until it has stopped.
  // `durability` is that of the epoch bump (deferred when the caller's next write is synced);
  // the release and close of the stopped runs are always deferred (recovery redoes them).
  // Errc::conflict when the active run did not stop within the cancel wait.
  [[nodiscard]] virtual Result<InterruptOutcome> interrupt(const std::string& thread_id,
                                                           const std::string& supersede_reason,
                                                           Durability durability) = 0;
  // Extends the lease of every active run; a run whose extension is refused is cancelled.
  virtual void renew_leases() = 0;
  // Reclaims expired leases (finishing the runs of dead-lettered ones); returns the threads
  // that got work back.
  [[nodiscard]] virtual std::vector<std::string> sweep() = 0;
  [[nodiscard]] virtual ReadyThreads ready_threads() = 0;
  // Purges terminal dispatches and event logs past the TTL, and expired idempotency keys.
  virtual void collect_garbage() = 0;
  // The thread's worker has stopped: drop what was cached for it. Never blocks (no I/O), so
  // the supervisor calls it from its handler.
  virtual void thread_idle(const std::string& thread_id) = 0;
};

}  // namespace mbx
