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
  status_ = WorkerStatus::running;
  running_ = claim;
  return WorkerAction::execute;
}

WorkerAction ThreadWorkerState::on_claimed(const std::optional<std::string>& claim) {
  if (claims_in_flight_ > 0) --claims_in_flight_;
  if (claim) {
    status_ = WorkerStatus::running;
    running_ = *claim;
    return WorkerAction::execute;
  }
  if (status_ != WorkerStatus::claiming) return WorkerAction::none;  // a handover got there first
  if (claims_in_flight_ > 0) return WorkerAction::none;             // another claim is still out
  if (next_requested_) {
    next_requested_ = false;
    ++claims_in_flight_;
    return WorkerAction::claim;  // stay Claiming
  }
  status_ = WorkerStatus::idle;
  return WorkerAction::report_idle;
}

WorkerAction ThreadWorkerState::on_finished(const std::string& claim) {
  if (status_ != WorkerStatus::running || running_ != claim) return WorkerAction::none;
  running_.reset();
  status_ = WorkerStatus::claiming;  // always look for the thread's next dispatch
  next_requested_ = false;
  ++claims_in_flight_;
  return WorkerAction::claim;
}

WorkerAction ThreadWorkerState::on_claimed_unasked(const std::string& claim) {
  status_ = WorkerStatus::running;
  running_ = claim;
  return WorkerAction::execute;
}

}  // namespace mbx
