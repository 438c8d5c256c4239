// RunRecord: the business truth of one run (one user intent) — its request snapshot, status,
// waiting tickets, outcome and counters. Written by the store's versioned append. Plain value.
#pragma once

#include "messages/opaque_json.hpp"
#include "messages/run_activation.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mbx {

enum class RunStatus : std::uint8_t { created, running, waiting, done };

enum class TerminationKind : std::uint8_t {
  natural_end,
  behavior_requested,
  stopped,    // code + optional detail
  cancelled,
  blocked,    // detail = reason
  suspended,  // the run waits (status Waiting)
  error,      // detail = message
};

struct TerminationReason {
  TerminationKind kind = TerminationKind::natural_end;
  std::string code;    // Stopped only
  std::string detail;  // Stopped detail, Blocked reason, Error message

  // Suspended => Waiting, every other reason => Done.
  [[nodiscard]] RunStatus run_status() const {
    return kind == TerminationKind::suspended ? RunStatus::waiting : RunStatus::done;
  }
  friend bool operator==(const TerminationReason&, const TerminationReason&) = default;
};

enum class WaitingReason : std::uint8_t {
  tool_permission,
  user_input,
  background_tasks,
  external_event,
  rate_limit,
  manual_pause,
};

struct WaitingTicket {
  std::string ticket_id;
  std::string tool_call_id;
  std::string tool_name;
  OpaqueJson arguments;
  std::string resume_mode;
  std::optional<std::string> reason;
  std::int64_t updated_at = 0;  // ms

  friend bool operator==(const WaitingTicket&, const WaitingTicket&) = default;
};

struct RunWaitingState {
  WaitingReason reason = WaitingReason::tool_permission;
  std::vector<std::string> ticket_ids;
  std::vector<WaitingTicket> tickets;
  std::optional<std::string> since_dispatch_id;
  std::optional<std::string> message;

  friend bool operator==(const RunWaitingState&, const RunWaitingState&) = default;
};

struct RunOutcome {
  TerminationReason termination_reason;
  std::optional<std::string> final_output;
  std::optional<OpaqueJson> error_payload;

  friend bool operator==(const RunOutcome&, const RunOutcome&) = default;
};

struct RunRecord {
  std::string run_id;
  std::string thread_id;
  std::string agent_id = "default";
  std::optional<std::string> parent_run_id;
  std::optional<std::string> resolution_id;
  std::optional<RunActivationSnapshot> activation;
  std::optional<RunRequestSnapshot> request;  // legacy; new writes leave it empty
  std::optional<RunMessageInput> input;
  std::optional<RunMessageOutput> output;
  RunStatus status = RunStatus::created;
  std::optional<TerminationReason> termination_reason;
  std::optional<std::string> final_output;
  std::optional<OpaqueJson> error_payload;
  std::optional<std::string> dispatch_id;
  std::optional<std::string> session_id;
  std::optional<std::string> transport_request_id;
  std::optional<RunWaitingState> waiting;
  std::optional<RunOutcome> outcome;
  std::int64_t created_at = 0;  // seconds
  std::optional<std::int64_t> started_at;
  std::optional<std::int64_t> finished_at;
  std::int64_t updated_at = 0;
  std::uint32_t steps = 0;
  std::uint64_t input_tokens = 0;
  std::uint64_t output_tokens = 0;
  std::optional<OpaqueJson> state;  // agent state inherited by the next run of the thread

  // Status Waiting with a waiting state: the next input or decision resumes this run.
  [[nodiscard]] bool is_resumable_waiting() const {
    return status == RunStatus::waiting && waiting.has_value();
  }
  // Persist invariants (status vs waiting/outcome/finished_at; thread ids agree). On failure
  // returns false and says why.
  [[nodiscard]] bool check_invariants(std::string* why) const;

  friend bool operator==(const RunRecord&, const RunRecord&) = default;
};

std::string_view to_string(RunStatus v) noexcept;
std::string_view to_string(TerminationKind v) noexcept;
std::string_view to_string(WaitingReason v) noexcept;

}  // namespace mbx
