// Sample values with EVERY field set to a non-default value, for round-trip tests
// (JSON and CAF) of every message type. Shared by the tests of messages/ and store/.
#pragma once

#include "messages/agent_event.hpp"
#include "messages/error.hpp"
#include "messages/message.hpp"
#include "messages/run_activation.hpp"
#include "messages/run_dispatch.hpp"
#include "messages/run_record.hpp"

namespace mbx::samples {

[[nodiscard]] ToolCall full_tool_call();
[[nodiscard]] Message full_message();           // assistant with tool calls + metadata
[[nodiscard]] Message full_tool_message();      // tool message with tool_call_id
[[nodiscard]] MessageRecord full_message_record();
[[nodiscard]] RunIntent full_run_intent();      // hitl_resume with resume_run_id
[[nodiscard]] RunOptions full_run_options();
[[nodiscard]] RunTrace full_run_trace();
[[nodiscard]] SeededDecision full_seeded_decision();
[[nodiscard]] PersistenceHints full_persistence_hints();
[[nodiscard]] RunActivation full_run_activation();
[[nodiscard]] RunMessageInput full_run_message_input();
[[nodiscard]] RunMessageOutput full_run_message_output();
[[nodiscard]] RunActivationSnapshot full_run_activation_snapshot();
[[nodiscard]] RunRequestSnapshot full_run_request_snapshot();
[[nodiscard]] TerminationReason full_termination_reason();  // stopped with code + detail
[[nodiscard]] RunWaitingState full_run_waiting_state();
[[nodiscard]] RunOutcome full_run_outcome();
[[nodiscard]] RunRecord full_run_record();      // status done, every optional set
[[nodiscard]] AgentEvent full_agent_event();    // every field set
[[nodiscard]] RunDispatchResult full_run_dispatch_result();
[[nodiscard]] InterruptOutcome full_interrupt_outcome();
[[nodiscard]] RunDispatch full_run_dispatch();  // claimed, every optional set
[[nodiscard]] Error full_error();

}  // namespace mbx::samples
