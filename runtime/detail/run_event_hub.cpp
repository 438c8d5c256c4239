#include "runtime/detail/run_event_hub.hpp"

namespace mbx::detail {

void RunEventHub::publish(const AgentEvent& event) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return;
    if (!ring_.empty() && event.seq != ring_.back().seq + 1) ring_.clear();  // keep seqs consecutive
    ring_.push_back(event);
    while (ring_.size() > capacity_) ring_.pop_front();
  }
  cv_.notify_all();
}

void RunEventHub::close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
  }
  cv_.notify_all();
}

bool RunEventHub::closed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return closed_;
}

RunEventHub::Poll RunEventHub::poll(std::uint64_t after, AgentEvent* out) const {
  std::lock_guard<std::mutex> lock(mu_);
  return poll_locked(after, out);
}

RunEventHub::Poll RunEventHub::poll_locked(std::uint64_t after, AgentEvent* out) const {
  if (!ring_.empty() && ring_.back().seq > after) {
    const std::uint64_t first = ring_.front().seq;
    if (first > after + 1) return Poll::gap;
    *out = ring_[after + 1 - first];
    return Poll::ready;
  }
  return closed_ ? Poll::closed : Poll::empty;
}

void RunEventHub::wait(std::uint64_t after, std::chrono::steady_clock::time_point deadline) const {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_until(lock, deadline, [&] { return closed_ || (!ring_.empty() && ring_.back().seq > after); });
}

}  // namespace mbx::detail
