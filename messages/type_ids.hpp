// The CAF face of messages/: the inspect overload of every value type (CAF serialization and
// deep_to_string), the one type-ID block (CAF_ENABLE_TYPE_ID_CHECKS is on: make_message accepts
// only types listed here), the engine's atoms, the Errc <-> caf::error mapping, and
// register_message_types, which every actor_system_config of the engine must go through.
// Written for CAF 0.17.6 (its forward-compatibility macros CAF_BEGIN_TYPE_ID_BLOCK,
// CAF_ADD_ATOM and CAF_ERROR_CODE_ENUM; inspect with caf::meta::type_name).
// Called by actors/ and runtime/ when building a config and sending values. Stateless; thread-safe.
#pragma once

#include "messages/agent_event.hpp"
#include "messages/caf_inspect.hpp"
#include "messages/error.hpp"
#include "messages/message.hpp"
#include "messages/opaque_json.hpp"
#include "messages/run_activation.hpp"
#include "messages/run_dispatch.hpp"
#include "messages/run_record.hpp"

#include <caf/actor_system_config.hpp>
#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/message.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/type_id.hpp>

#include <cstdint>
#include <string>
#include <vector>

// -- type IDs and atoms --------------------------------------------------------------------------

CAF_BEGIN_TYPE_ID_BLOCK(mailbox, caf::first_custom_type_id)

  CAF_ADD_TYPE_ID(mailbox, (mbx::Error))
  CAF_ADD_TYPE_ID(mailbox, (mbx::OpaqueJson))
  CAF_ADD_TYPE_ID(mailbox, (mbx::ToolCall))
  CAF_ADD_TYPE_ID(mailbox, (mbx::MessageMetadata))
  CAF_ADD_TYPE_ID(mailbox, (mbx::Message))
  CAF_ADD_TYPE_ID(mailbox, (mbx::MessageRecord))
  CAF_ADD_TYPE_ID(mailbox, (mbx::RunIntent))
  CAF_ADD_TYPE_ID(mailbox, (mbx::RunOptions))
  CAF_ADD_TYPE_ID(mailbox, (mbx::RunTrace))
  CAF_ADD_TYPE_ID(mailbox, (mbx::ToolCallResume))
  CAF_ADD_TYPE_ID(mailbox, (mbx::SeededDecision))
  CAF_ADD_TYPE_ID(mailbox, (mbx::RunControl))
  CAF_ADD_TYPE_ID(mailbox, (mbx::PersistenceHints))
  CAF_ADD_TYPE_ID(mailbox, (mbx::RunActivation))
  CAF_ADD_TYPE_ID(mailbox, (mbx::SeqRange))
  CAF_ADD_TYPE_ID(mailbox, (mbx::RunMessageInput))
  CAF_ADD_TYPE_ID(mailbox, (mbx::RunMessageOutput))
  CAF_ADD_TYPE_ID(mailbox, (mbx::RunActivationSnapshot))
  CAF_ADD_TYPE_ID(mailbox, (mbx::RunRequestSnapshot))
  CAF_ADD_TYPE_ID(mailbox, (mbx::TerminationReason))
  CAF_ADD_TYPE_ID(mailbox, (mbx::WaitingTicket))
  CAF_ADD_TYPE_ID(mailbox, (mbx::RunWaitingState))
  CAF_ADD_TYPE_ID(mailbox, (mbx::RunOutcome))
  CAF_ADD_TYPE_ID(mailbox, (mbx::RunRecord))
  CAF_ADD_TYPE_ID(mailbox, (mbx::AgentEvent))
  CAF_ADD_TYPE_ID(mailbox, (mbx::RunDispatchResult))
  CAF_ADD_TYPE_ID(mailbox, (mbx::RunDispatch))
  CAF_ADD_TYPE_ID(mailbox, (mbx::InterruptOutcome))
  // Lists that cross actors.
  CAF_ADD_TYPE_ID(mailbox, (std::vector<mbx::Message>))
  CAF_ADD_TYPE_ID(mailbox, (std::vector<mbx::MessageRecord>))
  CAF_ADD_TYPE_ID(mailbox, (std::vector<mbx::AgentEvent>))
  CAF_ADD_TYPE_ID(mailbox, (std::vector<mbx::RunDispatch>))
  CAF_ADD_TYPE_ID(mailbox, (std::vector<mbx::RunRecord>))

  // The engine's atoms (texts of at most 10 characters; CAF's atom() checks it).
  CAF_ADD_ATOM(mailbox, mbx, submit_atom, "submit")
  CAF_ADD_ATOM(mailbox, mbx, dispatch_next_atom, "dispnext")
  CAF_ADD_ATOM(mailbox, mbx, cancel_atom, "cancel")
  CAF_ADD_ATOM(mailbox, mbx, interrupt_atom, "interrupt")
  CAF_ADD_ATOM(mailbox, mbx, status_atom, "status")
  CAF_ADD_ATOM(mailbox, mbx, lease_atom, "lease")
  CAF_ADD_ATOM(mailbox, mbx, sweep_atom, "sweep")
  CAF_ADD_ATOM(mailbox, mbx, stop_atom, "stop")
  CAF_ADD_ATOM(mailbox, mbx, ack_atom, "ack")
  CAF_ADD_ATOM(mailbox, mbx, nack_atom, "nack")
  CAF_ADD_ATOM(mailbox, mbx, event_atom, "event")
  CAF_ADD_ATOM(mailbox, mbx, run_atom, "run")
  CAF_ADD_ATOM(mailbox, mbx, claimed_atom, "claimed")
  CAF_ADD_ATOM(mailbox, mbx, finished_atom, "finished")
  CAF_ADD_ATOM(mailbox, mbx, idle_atom, "idle")
  CAF_ADD_ATOM(mailbox, mbx, wake_atom, "wake")
  CAF_ADD_ATOM(mailbox, mbx, tick_atom, "tick")

CAF_END_TYPE_ID_BLOCK(mailbox)

// caf::error{Errc::fenced, std::string("...")} builds an error of category "mailbox".
CAF_ERROR_CODE_ENUM(mbx::Errc, "mailbox")

static_assert(caf::detail::error_factory<mbx::Errc>::category == mbx::kCafErrorCategory);

namespace mbx {

// -- registration and errors ---------------------------------------------------------------------

// Registers every type of the block above (value types and the lists that cross actors, under
// their qualified C++ names, e.g. "mbx::RunDispatch", "std::vector<mbx::AgentEvent>") and the
// renderer of the "mailbox" error category. Call once per config, before creating the system.
void register_message_types(caf::actor_system_config& cfg);

// An Error as a caf::error: code = Errc value, category "mailbox", context = (message).
[[nodiscard]] caf::error to_caf_error(const Error& error);

// The same, found by ADL where CAF code or ours writes make_error(code, message).
[[nodiscard]] caf::error make_error(Errc code, std::string message);

// Back to an Error: a "mailbox" error keeps code and message; any other caf::error (CAF's own
// categories, or a mailbox error with an unknown code) becomes Errc::internal with CAF's text.
[[nodiscard]] Error from_caf_error(const caf::error& error);

// The renderer registered for the "mailbox" category: "mailbox: <errc>: <message>".
[[nodiscard]] std::string render_mailbox_error(std::uint8_t code, caf::atom_value category,
                                               const caf::message& context);

// -- inspect overloads ---------------------------------------------------------------------------

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, Error& x) {
  return f(caf::meta::type_name("Error"), enum_field(x.code), x.message);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ToolCall& x) {
  return f(caf::meta::type_name("ToolCall"), x.id, x.name, x.arguments);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, MessageMetadata& x) {
  return f(caf::meta::type_name("MessageMetadata"), optional_field(x.run_id), optional_field(x.step_index),
           optional_field(x.sender_agent_id));
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, Message& x) {
  return f(caf::meta::type_name("Message"), x.id, enum_field(x.role), x.content, x.tool_calls,
           optional_field(x.tool_call_id), enum_field(x.visibility), x.metadata);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, MessageRecord& x) {
  return f(caf::meta::type_name("MessageRecord"), x.thread_id, x.seq, x.message, optional_field(x.produced_by_run_id),
           x.created_at);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, RunIntent& x) {
  return f(caf::meta::type_name("RunIntent"), x.thread_id, optional_field(x.agent_id), enum_field(x.kind),
           optional_field(x.resume_run_id));
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, RunOptions& x) {
  return f(caf::meta::type_name("RunOptions"), x.overrides, x.frontend_tools);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, RunTrace& x) {
  return f(caf::meta::type_name("RunTrace"), enum_field(x.run_mode), enum_field(x.origin),
           optional_field(x.parent_run_id), optional_field(x.parent_thread_id), optional_field(x.dispatch_id),
           optional_field(x.session_id), optional_field(x.transport_request_id));
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ToolCallResume& x) {
  return f(caf::meta::type_name("ToolCallResume"), enum_field(x.action), x.result, optional_field(x.decision_id));
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, SeededDecision& x) {
  return f(caf::meta::type_name("SeededDecision"), x.tool_call_id, x.resume);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, RunControl& x) {
  return f(caf::meta::type_name("RunControl"), x.seeded_decisions);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, PersistenceHints& x) {
  return f(caf::meta::type_name("PersistenceHints"), optional_field(x.run_id_hint),
           optional_field(x.dispatch_id_hint), optional_field(x.resolution_id_hint),
           x.messages_already_persisted);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, RunActivation& x) {
  return f(caf::meta::type_name("RunActivation"), x.intent, x.messages, x.options, x.trace, x.control,
           x.persistence);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, SeqRange& x) {
  return f(caf::meta::type_name("SeqRange"), x.from_seq, x.to_seq);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, RunMessageInput& x) {
  return f(caf::meta::type_name("RunMessageInput"), x.thread_id, optional_field(x.range), x.trigger_message_ids,
           x.selected_message_ids);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, RunMessageOutput& x) {
  return f(caf::meta::type_name("RunMessageOutput"), x.thread_id, optional_field(x.range), x.message_ids);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, RunActivationSnapshot& x) {
  return f(caf::meta::type_name("RunActivationSnapshot"), x.intent, x.input, x.options, x.trace, x.seeded_decisions,
           optional_field(x.resolution_id));
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, RunRequestSnapshot& x) {
  return f(caf::meta::type_name("RunRequestSnapshot"), enum_field(x.origin), optional_field(x.sender_id),
           x.input_message_ids, x.input_message_count, optional_field(x.request_extras), x.decisions,
           x.frontend_tools, optional_field(x.parent_thread_id), optional_field(x.transport_request_id));
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, TerminationReason& x) {
  return f(caf::meta::type_name("TerminationReason"), enum_field(x.kind), x.code, x.detail);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, WaitingTicket& x) {
  return f(caf::meta::type_name("WaitingTicket"), x.ticket_id, x.tool_call_id, x.tool_name, x.arguments,
           x.resume_mode, optional_field(x.reason), x.updated_at);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, RunWaitingState& x) {
  return f(caf::meta::type_name("RunWaitingState"), enum_field(x.reason), x.ticket_ids, x.tickets,
           optional_field(x.since_dispatch_id), optional_field(x.message));
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, RunOutcome& x) {
  return f(caf::meta::type_name("RunOutcome"), x.termination_reason, optional_field(x.final_output),
           optional_field(x.error_payload));
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, RunRecord& x) {
  return f(caf::meta::type_name("RunRecord"), x.run_id, x.thread_id, x.agent_id, optional_field(x.parent_run_id),
           optional_field(x.resolution_id), optional_field(x.activation), optional_field(x.request),
           optional_field(x.input), optional_field(x.output), enum_field(x.status),
           optional_field(x.termination_reason), optional_field(x.final_output), optional_field(x.error_payload),
           optional_field(x.dispatch_id), optional_field(x.session_id), optional_field(x.transport_request_id),
           optional_field(x.waiting), optional_field(x.outcome), x.created_at, optional_field(x.started_at),
           optional_field(x.finished_at), x.updated_at, x.steps, x.input_tokens, x.output_tokens,
           optional_field(x.state));
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, AgentEvent& x) {
  return f(caf::meta::type_name("AgentEvent"), enum_field(x.type), x.seq, x.thread_id, x.run_id, x.text,
           optional_field(x.tool_call_id), optional_field(x.tool_name), optional_field(x.message_id),
           optional_field(x.parent_run_id), optional_field(x.code), optional_field(x.outcome),
           optional_field(x.termination), x.payload, x.at_ms);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, InterruptOutcome& x) {
  return f(caf::meta::type_name("InterruptOutcome"), x.new_epoch, x.superseded, optional_field(x.cancelled_run_id));
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, RunDispatchResult& x) {
  return f(caf::meta::type_name("RunDispatchResult"), x.run_id, x.dispatch_instance_id, enum_field(x.status),
           optional_field(x.termination), optional_field(x.response), optional_field(x.error));
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, RunDispatch& x) {
  return f(caf::meta::type_name("RunDispatch"), x.dispatch_id, x.thread_id, x.run_id, x.priority,
           optional_field(x.dedupe_key), x.dispatch_epoch, enum_field(x.status), x.available_at, x.attempt_count,
           x.max_attempts, optional_field(x.last_error), optional_field(x.claim_token), optional_field(x.claimed_by),
           optional_field(x.lease_until), optional_field(x.dispatch_instance_id), optional_field(x.run_status),
           optional_field(x.termination), optional_field(x.run_response), optional_field(x.run_error),
           optional_field(x.completed_at), x.created_at, x.updated_at);
}

}  // namespace mbx
