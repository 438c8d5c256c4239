// RunDispatch: the delivery truth of one activation attempt of a run (queue state, lease,
// retries, epoch, and a projection of the runtime result), with its six-state lifecycle.
// Every transition validates its precondition; on error *this is unchanged.
// Plain value; not synchronized.
#pragma once

#include "messages/error.hpp"
#include "messages/run_record.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace mbx {

enum class DispatchStatus : std::uint8_t { queued, claimed, acked, cancelled, superseded, dead_letter };

[[nodiscard]] constexpr bool is_terminal(DispatchStatus s) {
  return s != DispatchStatus::queued && s != DispatchStatus::claimed;
}

inline constexpr std::uint8_t kDefaultPriority = 128;
inline constexpr std::uint32_t kDefaultMaxAttempts = 5;

// What an interrupt of a thread did: the thread's new dispatch epoch, how many queued
// dispatches it superseded, and the active run it stopped, if any.
struct InterruptOutcome {
  std::uint64_t new_epoch = 0;
  std::uint64_t superseded = 0;
  std::optional<std::string> cancelled_run_id;

  friend bool operator==(const InterruptOutcome&, const InterruptOutcome&) = default;
};

// What an executor reports about one execution attempt.
struct RunDispatchResult {
  std::string run_id;
  std::string dispatch_instance_id;
  RunStatus status = RunStatus::done;
  std::optional<TerminationReason> termination;
  std::optional<std::string> response;
  std::optional<std::string> error;

  friend bool operator==(const RunDispatchResult&, const RunDispatchResult&) = default;
};

struct RunDispatch {
  // identity
  std::string dispatch_id;
  std::string thread_id;
  std::string run_id;
  // queue
  std::uint8_t priority = kDefaultPriority;  // 0 highest, 255 lowest
  std::optional<std::string> dedupe_key;
  std::uint64_t dispatch_epoch = 0;          // stamped by the store at enqueue
  // lifecycle
  DispatchStatus status = DispatchStatus::queued;
  std::int64_t available_at = 0;            // ms; future = delayed
  std::uint32_t attempt_count = 0;          // failed or abandoned attempts
  std::uint32_t max_attempts = kDefaultMaxAttempts;
  std::optional<std::string> last_error;
  // lease (all three set iff Claimed)
  std::optional<std::string> claim_token;
  std::optional<std::string> claimed_by;
  std::optional<std::int64_t> lease_until;  // ms
  // runtime projection
  std::optional<std::string> dispatch_instance_id;
  std::optional<RunStatus> run_status;
  std::optional<TerminationReason> termination;
  std::optional<std::string> run_response;
  std::optional<std::string> run_error;
  std::optional<std::int64_t> completed_at;  // ms
  // timestamps (ms)
  std::int64_t created_at = 0;
  std::int64_t updated_at = 0;

  // A Queued dispatch with the defaults: priority 128, max attempts 5, available at created_at.
  [[nodiscard]] static RunDispatch queued(std::string dispatch_id, std::string thread_id,
                                          std::string run_id, std::int64_t now_ms);

  // Persist-time invariants of the current status. On failure: validation error saying why.
  [[nodiscard]] Result<void> validate() const;

  // any -> Queued at `epoch`, claim fields, projection and completed_at cleared.
  void prepare_for_enqueue(std::uint64_t epoch);
  // Queued -> Claimed.
  [[nodiscard]] Result<void> claim(std::string consumer, std::string token, std::int64_t lease_until_ms,
                                   std::int64_t now_ms);
  // Claimed: new lease_until.
  [[nodiscard]] Result<void> extend_lease(std::int64_t lease_until_ms, std::int64_t now_ms);
  // Claimed: instance id, run_status Running; termination/response/error/completed_at cleared.
  [[nodiscard]] Result<void> record_dispatch_start(std::string instance_id, std::int64_t now_ms);
  // Claimed: copy the result into the projection (result.run_id must match), completed_at = now.
  [[nodiscard]] Result<void> record_run_result(const RunDispatchResult& result, std::int64_t now_ms);
  // Claimed -> Acked (projection kept).
  [[nodiscard]] Result<void> mark_acked(std::int64_t now_ms);
  // Queued -> Cancelled.
  [[nodiscard]] Result<void> mark_cancelled(std::int64_t now_ms);
  // Queued -> Superseded (projection cleared, last_error = reason if given).
  [[nodiscard]] Result<void> mark_superseded(std::int64_t now_ms, std::optional<std::string> reason);
  // Queued or Claimed -> Superseded at `epoch`.
  [[nodiscard]] Result<void> mark_superseded_at_epoch(std::int64_t now_ms, std::uint64_t epoch,
                                                      std::optional<std::string> reason);
  // Claimed -> DeadLetter (attempt_count unchanged, projection kept).
  [[nodiscard]] Result<void> mark_dead_letter(std::int64_t now_ms, std::string error);
  // Claimed -> Queued at retry_at (attempt+1, projection cleared), or DeadLetter at max attempts.
  [[nodiscard]] Result<void> mark_nack_result(std::int64_t now_ms, std::int64_t retry_at_ms,
                                              std::string error);
  // Claimed -> Queued now (attempt+1), or DeadLetter at max attempts; projection cleared both ways.
  [[nodiscard]] Result<void> mark_expired_lease(std::int64_t now_ms);

  [[nodiscard]] bool has_projection() const;

  friend bool operator==(const RunDispatch&, const RunDispatch&) = default;

private:
  [[nodiscard]] Result<void> require(DispatchStatus expected, const char* op) const;
  void clear_claim();
  void clear_projection();
};

std::string_view to_string(DispatchStatus v) noexcept;

}  // namespace mbx
