// JSON codecs of RunActivation and its parts (RunIntent, RunOptions, RunTrace, ToolCallResume,
// SeededDecision, RunControl, PersistenceHints) and of the run snapshots (SeqRange,
// RunMessageInput, RunMessageOutput, RunActivationSnapshot, RunRequestSnapshot). Rules in
// json_codec.hpp; machinery in detail/json_decoder.hpp. Stateless; thread-safe.
#include "messages/json/json_codec.hpp"

#include "messages/json/detail/json_decoder.hpp"

namespace mbx {

namespace {

template <class Io, detail::OneOf<RunIntent> X>
void fields(Io& io, X& x) {
  io.required("thread_id", x.thread_id);
  io.field("agent_id", x.agent_id);
  io.required("kind", x.kind);
  io.field("resume_run_id", x.resume_run_id);
}

template <class Io, detail::OneOf<RunOptions> X>
void fields(Io& io, X& x) {
  io.field("overrides", x.overrides);
  io.field("frontend_tools", x.frontend_tools);
}

template <class Io, detail::OneOf<RunTrace> X>
void fields(Io& io, X& x) {
  io.field("run_mode", x.run_mode);
  io.field("origin", x.origin);
  io.field("parent_run_id", x.parent_run_id);
  io.field("parent_thread_id", x.parent_thread_id);
  io.field("dispatch_id", x.dispatch_id);
  io.field("session_id", x.session_id);
  io.field("transport_request_id", x.transport_request_id);
}

template <class Io, detail::OneOf<ToolCallResume> X>
void fields(Io& io, X& x) {
  io.required("action", x.action);
  io.field("result", x.result);
  io.field("decision_id", x.decision_id);
}

template <class Io, detail::OneOf<SeededDecision> X>
void fields(Io& io, X& x) {
  io.required("tool_call_id", x.tool_call_id);
  io.required("resume", x.resume);
}

template <class Io, detail::OneOf<RunControl> X>
void fields(Io& io, X& x) {
  io.field("seeded_decisions", x.seeded_decisions);
}

template <class Io, detail::OneOf<PersistenceHints> X>
void fields(Io& io, X& x) {
  io.field("run_id_hint", x.run_id_hint);
  io.field("dispatch_id_hint", x.dispatch_id_hint);
  io.field("resolution_id_hint", x.resolution_id_hint);
  io.field("messages_already_persisted", x.messages_already_persisted);
}

template <class Io, detail::OneOf<RunActivation> X>
void fields(Io& io, X& x) {
  io.required("intent", x.intent);
  io.field("messages", x.messages);
  io.field("options", x.options);
  io.field("trace", x.trace);
  io.field("control", x.control);
  io.field("persistence", x.persistence);
}

template <class Io, detail::OneOf<SeqRange> X>
void fields(Io& io, X& x) {
  io.required("from_seq", x.from_seq);
  io.required("to_seq", x.to_seq);
}

template <class Io, detail::OneOf<RunMessageInput> X>
void fields(Io& io, X& x) {
  io.required("thread_id", x.thread_id);
  io.field("range", x.range);
  io.field("trigger_message_ids", x.trigger_message_ids);
  io.field("selected_message_ids", x.selected_message_ids);
}

template <class Io, detail::OneOf<RunMessageOutput> X>
void fields(Io& io, X& x) {
  io.required("thread_id", x.thread_id);
  io.field("range", x.range);
  io.field("message_ids", x.message_ids);
}

template <class Io, detail::OneOf<RunActivationSnapshot> X>
void fields(Io& io, X& x) {
  io.required("intent", x.intent);
  io.required("input", x.input);
  io.field("options", x.options);
  io.field("trace", x.trace);
  io.field("seeded_decisions", x.seeded_decisions);
  io.field("resolution_id", x.resolution_id);
}

template <class Io, detail::OneOf<RunRequestSnapshot> X>
void fields(Io& io, X& x) {  // legacy rows: every field defaulted
  io.field("origin", x.origin);
  io.field("sender_id", x.sender_id);
  io.field("input_message_ids", x.input_message_ids);
  io.field("input_message_count", x.input_message_count);
  io.field("request_extras", x.request_extras);
  io.field("decisions", x.decisions);
  io.field("frontend_tools", x.frontend_tools);
  io.field("parent_thread_id", x.parent_thread_id);
  io.field("transport_request_id", x.transport_request_id);
}

}  // namespace

MBX_JSON_OBJECT_CODEC(RunIntent)
MBX_JSON_OBJECT_CODEC(RunOptions)
MBX_JSON_OBJECT_CODEC(RunTrace)
MBX_JSON_OBJECT_CODEC(ToolCallResume)
MBX_JSON_OBJECT_CODEC(SeededDecision)
MBX_JSON_OBJECT_CODEC(RunControl)
MBX_JSON_OBJECT_CODEC(PersistenceHints)
MBX_JSON_OBJECT_CODEC(RunActivation)
MBX_JSON_OBJECT_CODEC(SeqRange)
MBX_JSON_OBJECT_CODEC(RunMessageInput)
MBX_JSON_OBJECT_CODEC(RunMessageOutput)
MBX_JSON_OBJECT_CODEC(RunActivationSnapshot)
MBX_JSON_OBJECT_CODEC(RunRequestSnapshot)

}  // namespace mbx
