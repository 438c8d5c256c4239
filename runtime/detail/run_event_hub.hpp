// RunEventHub: the live side of one run's event stream. The run publishes each event after
// the store's event log accepted it (so every seq here is also in the log); subscribers read
// with their own cursor. The buffer is a ring of fixed capacity: publishing never blocks, and a
// subscriber that fell behind the ring reads the missing events from the log instead.
// Thread-safe.
#pragma once

#include "messages/agent_event.hpp"

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>

namespace mbx::detail {

class RunEventHub {
public:
  explicit RunEventHub(std::size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

  void publish(const AgentEvent& event);
  // No more events will be published (the attempt ended).
  void close();

  enum class Poll : std::uint8_t {
    ready,   // *out is the event with seq after+1
    gap,     // that event has left the ring: read the log
    closed,  // closed and nothing after `after` in the ring
    empty,   // nothing yet
  };
  Poll poll(std::uint64_t after, AgentEvent* out) const;
  // Waits until an event after `after` is published, the hub closes, or the deadline passes.
  void wait(std::uint64_t after, std::chrono::steady_clock::time_point deadline) const;
  [[nodiscard]] bool closed() const;

private:
  Poll poll_locked(std::uint64_t after, AgentEvent* out) const;

  const std::size_t capacity_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::deque<AgentEvent> ring_;  // Guarded by mu_. Consecutive seqs.
  bool closed_ = false;          // Guarded by mu_.
};

}  // namespace mbx::detail
