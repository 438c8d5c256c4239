#include "actors/thread_worker_state.hpp"

namespace mbx {

std::string_view to_string(WorkerStatus status) noexcept {
  switch (status) {
    case WorkerStatus::idle:
      return "idle";
    case WorkerStatus::claiming:
      return "claiming";
    case WorkerStatus::running:
      return "running";
  }
  return "unknown";
}

WorkerAction ThreadWorkerState::on_dispatch_next() {
  ++routed_;
  if (status_ != WorkerStatus::idle) {
    next_requested_ = true;
    return WorkerAction::none;
  }
  status_ = WorkerStatus::claiming;
  next_requested_ = false;
  ++claims_in_flight_;
  return WorkerAction::claim;
}

WorkerAction ThreadWorkerState::on_start(const std::string& claim) {
  ++routed_;
  return execute(claim);
}

WorkerAction ThreadWorkerState::on_claimed(const std::optional<std::string>& claim) {
  if (claims_in_flight_ > 0) --claims_in_flight_;
  if (claim) return execute(*claim);
  if (status_ != WorkerStatus::claiming) return WorkerAction::none;  // a handover got there first
  if (claims_in_flight_ > 0) return WorkerAction::none;             // another claim is still out
  if (next_requested_) {
    next_requested_ = false;
    ++claims_in_flight_;
    return WorkerAction::claim;  // stay Claiming
  }
  status_ = WorkerStatus::idle;
  return idle_if_quiet();
}

WorkerAction ThreadWorkerState::on_finished(const std::string& claim, const std::optional<std::string>& next) {
  if (runs_in_flight_ > 0) --runs_in_flight_;
  const bool current = status_ == WorkerStatus::running && running_ == claim;
  if (current) running_.reset();
  if (next) return execute(*next);
  if (!current) return status_ == WorkerStatus::idle ? idle_if_quiet() : WorkerAction::none;
  if (next_requested_) {  // came after the run thread's claim, perhaps: claim again
    next_requested_ = false;
    status_ = WorkerStatus::claiming;
    ++claims_in_flight_;
    return WorkerAction::claim;
  }
  status_ = claims_in_flight_ > 0 ? WorkerStatus::claiming : WorkerStatus::idle;
  return status_ == WorkerStatus::idle ? idle_if_quiet() : WorkerAction::none;
}

WorkerAction ThreadWorkerState::on_yielded(const std::string& claim) {
  next_requested_ = true;
  const WorkerAction action = on_finished(claim, std::nullopt);
  if (status_ != WorkerStatus::idle) return action;  // claiming or running: the request waits for it
  next_requested_ = false;
  status_ = WorkerStatus::claiming;
  ++claims_in_flight_;
  return WorkerAction::claim;
}

WorkerAction ThreadWorkerState::execute(const std::string& claim) {
  // A run thread claims (or checks for queued work) after every run it runs, so work announced
  // before this run started is found then: no claim of the worker's own is needed for it.
  next_requested_ = false;
  status_ = WorkerStatus::running;
  running_ = claim;
  ++runs_in_flight_;
  return WorkerAction::execute;
}

WorkerAction ThreadWorkerState::idle_if_quiet() {
  return claims_in_flight_ == 0 && runs_in_flight_ == 0 ? WorkerAction::report_idle : WorkerAction::none;
}

}  // namespace mbx
