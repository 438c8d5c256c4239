#include "runtime/detail/active_run.hpp"

namespace mbx::detail {

bool ActiveRun::request_cancel(CancelReason reason) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (cancel_ != CancelReason::none) return false;
    cancel_ = reason;
  }
  cv_.notify_all();
  return true;
}

CancelReason ActiveRun::cancel_reason() const {
  std::lock_guard<std::mutex> lock(mu_);
  return cancel_;
}

bool ActiveRun::wait_for_cancel(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [this] { return cancel_ != CancelReason::none; });
}

bool ActiveRun::begin() {
  std::lock_guard<std::mutex> lock(mu_);
  if (phase_ != RunPhase::pending) return false;
  phase_ = RunPhase::executing;
  return true;
}

bool ActiveRun::take_over_if_pending(CancelReason reason) {
  bool took = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (cancel_ == CancelReason::none) cancel_ = reason;
    if (phase_ == RunPhase::pending) {
      phase_ = RunPhase::stopped;
      took = true;
    }
  }
  cv_.notify_all();
  return took;
}

void ActiveRun::mark_stopped() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    phase_ = RunPhase::stopped;
  }
  cv_.notify_all();
}

bool ActiveRun::wait_stopped(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [this] { return phase_ == RunPhase::stopped; });
}

RunPhase ActiveRun::phase() const {
  std::lock_guard<std::mutex> lock(mu_);
  return phase_;
}

}  // namespace mbx::detail
