// ThreadWorkerState: the decisions of one thread's worker (spec section 5), as a plain state
// machine tested without an actor system. The thread_worker actor feeds it its messages and
// carries out the returned action. Idle -> Claiming (one claim in flight: guards the
// check-then-claim race) -> Running{dispatch} -> Idle. The store stays the queue authority:
// this only caches what the worker is doing. Not thread-safe (owned by one actor).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mbx {

enum class WorkerStatus : std::uint8_t { idle, claiming, running };

std::string_view to_string(WorkerStatus status) noexcept;

enum class WorkerAction : std::uint8_t {
  none,
  claim,        // ask the store for the thread's next dispatch
  execute,      // run the dispatch just handed over or claimed
  report_idle,  // nothing to do: offer to stop
};

class ThreadWorkerState {
public:
  explicit ThreadWorkerState(std::string thread_id = {}) : thread_id_(std::move(thread_id)) {}

  // Runs are identified by their claim (dispatch id and claim token: a dispatch claimed again
  // after a lost lease is another run).
  //
  // The supervisor asked for the next dispatch.
  WorkerAction on_dispatch_next();
  // A dispatch claimed elsewhere (inline submit) was handed over: it runs now. The store
  // allows one claimed dispatch per thread, so a previous run has already ended there.
  WorkerAction on_start(const std::string& claim);
  // A claim came back: a dispatch (run it) or none.
  WorkerAction on_claimed(const std::optional<std::string>& claim);
  // A run ended, and its run thread then claimed the thread's next dispatch: `next` (run it,
  // whichever run was current: a claimed dispatch is never dropped, and the store allows one
  // per thread, so whatever ran before has ended) or none. Only the current run's end changes
  // the status otherwise; a dispatch_next that came while it ran is claimed now.
  WorkerAction on_finished(const std::string& claim, const std::optional<std::string>& next);
  // A run ended and its run thread did not claim the thread's next dispatch, because other
  // threads' jobs were waiting for a run thread (fairness: this thread's next claim queues
  // behind them). The thread may have more work, so the worker claims again: now, or after
  // the claim or run it has in flight.
  WorkerAction on_yielded(const std::string& claim);

  [[nodiscard]] WorkerStatus status() const { return status_; }
  [[nodiscard]] const std::optional<std::string>& running_dispatch() const { return running_; }
  [[nodiscard]] const std::string& thread_id() const { return thread_id_; }
  // Messages routed to this worker by the supervisor (dispatch_next and handovers). The
  // supervisor stops an idle worker only when it has routed no more than this.
  [[nodiscard]] std::uint64_t routed() const { return routed_; }
  // Claims posted and not yet answered. The worker never reports idle while one is out: its
  // answer could be a claimed dispatch that only this worker would run.
  [[nodiscard]] std::uint32_t claims_in_flight() const { return claims_in_flight_; }
  // Runs handed to the run pool whose finished message has not come back. Each ends with a
  // claim of its own, so the worker never reports idle while one is out either.
  [[nodiscard]] std::uint32_t runs_in_flight() const { return runs_in_flight_; }

private:
  std::string thread_id_;
  WorkerStatus status_ = WorkerStatus::idle;
  std::optional<std::string> running_;
  bool next_requested_ = false;  // a dispatch_next arrived while busy
  std::uint64_t routed_ = 0;
  std::uint32_t claims_in_flight_ = 0;
  std::uint32_t runs_in_flight_ = 0;

  WorkerAction execute(const std::string& claim);
  WorkerAction idle_if_quiet();
};

}  // namespace mbx
