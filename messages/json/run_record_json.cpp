// JSON codecs of RunRecord and its parts (TerminationReason, WaitingTicket, RunWaitingState,
// RunOutcome). Rules in json_codec.hpp; machinery in detail/json_decoder.hpp.
// Stateless; thread-safe.
#include "messages/json/json_codec.hpp"

#include "messages/json/detail/json_decoder.hpp"

namespace mbx {

namespace {

template <class Io, detail::OneOf<TerminationReason> X>
void fields(Io& io, X& x) {
  io.required("kind", x.kind);
  io.field("code", x.code);
  io.field("detail", x.detail);
}

template <class Io, detail::OneOf<WaitingTicket> X>
void fields(Io& io, X& x) {
  io.required("ticket_id", x.ticket_id);
  io.field("tool_call_id", x.tool_call_id);
  io.field("tool_name", x.tool_name);
  io.field("arguments", x.arguments);
  io.field("resume_mode", x.resume_mode);
  io.field("reason", x.reason);
  io.field("updated_at", x.updated_at);
}

template <class Io, detail::OneOf<RunWaitingState> X>
void fields(Io& io, X& x) {
  io.required("reason", x.reason);
  io.field("ticket_ids", x.ticket_ids);
  io.field("tickets", x.tickets);
  io.field("since_dispatch_id", x.since_dispatch_id);
  io.field("message", x.message);
}

template <class Io, detail::OneOf<RunOutcome> X>
void fields(Io& io, X& x) {
  io.required("termination_reason", x.termination_reason);
  io.field("final_output", x.final_output);
  io.field("error_payload", x.error_payload);
}

template <class Io, detail::OneOf<RunRecord> X>
void fields(Io& io, X& x) {
  io.required("run_id", x.run_id);
  io.required("thread_id", x.thread_id);
  io.field("agent_id", x.agent_id);
  io.field("parent_run_id", x.parent_run_id);
  io.field("resolution_id", x.resolution_id);
  io.field("activation", x.activation);
  io.field("request", x.request);
  io.field("input", x.input);
  io.field("output", x.output);
  io.required("status", x.status);
  io.field("termination_reason", x.termination_reason);
  io.field("final_output", x.final_output);
  io.field("error_payload", x.error_payload);
  io.field("dispatch_id", x.dispatch_id);
  io.field("session_id", x.session_id);
  io.field("transport_request_id", x.transport_request_id);
  io.field("waiting", x.waiting);
  io.field("outcome", x.outcome);
  io.field("created_at", x.created_at);
  io.field("started_at", x.started_at);
  io.field("finished_at", x.finished_at);
  io.field("updated_at", x.updated_at);
  io.field("steps", x.steps);
  io.field("input_tokens", x.input_tokens);
  io.field("output_tokens", x.output_tokens);
  io.field("state", x.state);
}

}  // namespace

MBX_JSON_OBJECT_CODEC(TerminationReason)
MBX_JSON_OBJECT_CODEC(WaitingTicket)
MBX_JSON_OBJECT_CODEC(RunWaitingState)
MBX_JSON_OBJECT_CODEC(RunOutcome)
MBX_JSON_OBJECT_CODEC(RunRecord)

}  // namespace mbx
