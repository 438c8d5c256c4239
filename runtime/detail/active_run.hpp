// ActiveRun: what this node knows about one dispatch it has claimed, from the claim until the
// run has stopped: the fence, the live event hub, the cancel request, the cached run record
// (every run-record write of the run goes through it, under mu), live input, and the lease
// state the lease keeper reads. Shared (shared_ptr) by the submitter, the run thread, the lease
// keeper and cancellers. Thread-safe.
#pragma once

#include "messages/message.hpp"
#include "messages/run_dispatch.hpp"
#include "messages/run_record.hpp"
#include "runtime/detail/run_event_hub.hpp"
#include "store/fence.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

namespace mbx::detail {

enum class CancelReason : std::uint8_t { none, interrupted, cancelled, lease_lost, shutdown };

enum class RunPhase : std::uint8_t {
  pending,    // claimed, waiting for a run thread
  executing,  // execute() owns it
  stopped,    // ended, or taken over before it started
};

class ActiveRun {
public:
  ActiveRun(RunDispatch claimed, std::size_t event_capacity)
      : dispatch(std::move(claimed)),
        fence(Fence::of(dispatch)),
        hub(std::make_shared<RunEventHub>(event_capacity)),
        lease_until_ms(dispatch.lease_until.value_or(0)) {}

  const RunDispatch dispatch;  // as claimed
  const Fence fence;
  const std::shared_ptr<RunEventHub> hub;
  std::atomic<bool> suspended{false};        // a tool call waits for a human: suspended lease
  std::atomic<std::int64_t> lease_until_ms;  // last granted lease
  std::string instance_id;                   // set before the start is recorded (inline: by the submitter)
  std::atomic<bool> ending{false};           // its end is being written: renewals stop, a refusal is no loss

  // The first reason wins; wakes wait_for_cancel. Returns false if a reason was already set.
  bool request_cancel(CancelReason reason);
  [[nodiscard]] CancelReason cancel_reason() const;
  // Waits up to `timeout` for a cancel request; true if one is set.
  bool wait_for_cancel(std::chrono::milliseconds timeout);

  // pending -> executing; false if it was taken over (stopped) before it started.
  bool begin();
  // pending -> stopped with `reason`: the caller takes the dispatch over. False if it had
  // already started (then only a cancel request is recorded).
  bool take_over_if_pending(CancelReason reason);
  void mark_stopped();
  bool wait_stopped(std::chrono::milliseconds timeout);
  [[nodiscard]] RunPhase phase() const;

  // Serializes every write the run makes (events, messages, run record) and guards `record`
  // and `live_inbox`.
  std::mutex write_mu;
  std::optional<RunRecord> record;    // Guarded by write_mu. Set once the run started.
  std::vector<Message> live_inbox;    // Guarded by write_mu. Committed, not yet taken.
  bool accepts_live_input = false;    // Guarded by write_mu.

private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  CancelReason cancel_ = CancelReason::none;  // Guarded by mu_.
  RunPhase phase_ = RunPhase::pending;        // Guarded by mu_.
};

}  // namespace mbx::detail
