// EventStream: a subscriber's view of one run's events, in seq order with no gap and no
// duplicate. Attached to a live run it reads the run's ring buffer and falls back to the store's
// event log when it fell behind (a slow subscriber never blocks the run); attached to a finished
// or remote run it reads the log. A client that lost its stream attaches again with the last seq
// it saw (Mailbox::attach). Not thread-safe: one consumer per stream; movable.
#pragma once

#include "messages/agent_event.hpp"
#include "messages/error.hpp"
#include "store/thread_run_store.hpp"

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mbx {

namespace detail {
class RunEventHub;
}

class EventStream {
public:
  EventStream() = default;  // finished, no events
  EventStream(std::shared_ptr<detail::RunEventHub> hub, ThreadRunStore* store, std::string run_id,
              std::uint64_t after_seq);

  // The next event, waiting up to `timeout`. Empty when the timeout passed (finished() false)
  // or the stream has ended (finished() true).
  [[nodiscard]] Result<std::optional<AgentEvent>> next(std::chrono::milliseconds timeout);
  // Every event until the stream ends or `timeout` passes (then finished() is false).
  [[nodiscard]] Result<std::vector<AgentEvent>> collect(std::chrono::milliseconds timeout);

  // The attempt this stream follows has ended and every event it wrote was returned.
  [[nodiscard]] bool finished() const { return finished_ && prefetched_.empty(); }
  [[nodiscard]] std::uint64_t last_seq() const { return last_seq_; }
  [[nodiscard]] const std::string& run_id() const { return run_id_; }

private:
  Result<bool> prefetch_from_log();  // true if something was read
  Result<bool> run_has_stopped();

  std::shared_ptr<detail::RunEventHub> hub_;
  ThreadRunStore* store_ = nullptr;
  std::string run_id_;
  std::uint64_t last_seq_ = 0;
  std::deque<AgentEvent> prefetched_;
  bool finished_ = true;
};

}  // namespace mbx
