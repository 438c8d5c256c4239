// AgentEvent: what a run streams to its submitter and into the run's event log. One flat
// value with a type tag; each type uses the fields listed next to it. Plain value.
#pragma once

#include "messages/opaque_json.hpp"
#include "messages/run_record.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace mbx {

enum class AgentEventType : std::uint8_t {
  run_start,          // parent_run_id?
  run_finish,         // termination, text = final response?
  text_delta,         // text
  reasoning_delta,    // text
  tool_call_start,    // tool_call_id, tool_name
  tool_call_delta,    // tool_call_id, text = argument delta
  tool_call_ready,    // tool_call_id, tool_name, payload = arguments
  tool_call_done,     // tool_call_id, message_id?, payload = result, outcome
  tool_call_resumed,  // tool_call_id, payload = result
  tool_call_cancel,   // tool_call_id, tool_name, text = reason
  step_start,         // message_id?
  step_end,
  state_snapshot,     // payload = state
  error,              // text = message, code?
};

enum class ToolCallOutcome : std::uint8_t { succeeded, failed, suspended };

struct AgentEvent {
  AgentEventType type = AgentEventType::text_delta;
  std::uint64_t seq = 0;  // per-run sequence number, assigned by the event log (0 = not yet)
  std::string thread_id;
  std::string run_id;
  std::string text;
  std::optional<std::string> tool_call_id;
  std::optional<std::string> tool_name;
  std::optional<std::string> message_id;
  std::optional<std::string> parent_run_id;
  std::optional<std::string> code;
  std::optional<ToolCallOutcome> outcome;
  std::optional<TerminationReason> termination;
  OpaqueJson payload;
  std::int64_t at_ms = 0;

  // RunFinish or Error end a stream.
  [[nodiscard]] bool is_terminal() const {
    return type == AgentEventType::run_finish || type == AgentEventType::error;
  }
  // A ToolCallDone with outcome Suspended puts the run in Waiting.
  [[nodiscard]] bool suspends_run() const {
    return type == AgentEventType::tool_call_done && outcome == ToolCallOutcome::suspended;
  }
  friend bool operator==(const AgentEvent&, const AgentEvent&) = default;
};

std::string_view to_string(AgentEventType v) noexcept;
std::string_view to_string(ToolCallOutcome v) noexcept;

}  // namespace mbx
