// Text names of every enum in messages/ (the snake_case names used in JSON and logs):
// to_string is declared next to each enum; from_string parses a name back.
#pragma once

#include "messages/agent_event.hpp"
#include "messages/message.hpp"
#include "messages/run_activation.hpp"
#include "messages/run_dispatch.hpp"
#include "messages/run_record.hpp"

#include <string_view>

namespace mbx {

[[nodiscard]] bool from_string(std::string_view text, Role& out);
[[nodiscard]] bool from_string(std::string_view text, Visibility& out);
[[nodiscard]] bool from_string(std::string_view text, RunKind& out);
[[nodiscard]] bool from_string(std::string_view text, RunMode& out);
[[nodiscard]] bool from_string(std::string_view text, RunOrigin& out);
[[nodiscard]] bool from_string(std::string_view text, ResumeAction& out);
[[nodiscard]] bool from_string(std::string_view text, RunStatus& out);
[[nodiscard]] bool from_string(std::string_view text, TerminationKind& out);
[[nodiscard]] bool from_string(std::string_view text, WaitingReason& out);
[[nodiscard]] bool from_string(std::string_view text, AgentEventType& out);
[[nodiscard]] bool from_string(std::string_view text, ToolCallOutcome& out);
[[nodiscard]] bool from_string(std::string_view text, DispatchStatus& out);

}  // namespace mbx
