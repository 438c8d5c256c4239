// JSON codecs of ToolCall, MessageMetadata, Message and MessageRecord (rules in
// json_codec.hpp; machinery in detail/json_decoder.hpp). Stateless; thread-safe.
#include "messages/json/json_codec.hpp"

#include "messages/json/detail/json_decoder.hpp"

namespace mbx {

namespace {

template <class Io, detail::OneOf<ToolCall> X>
void fields(Io& io, X& x) {
  io.required("id", x.id);
  io.required("name", x.name);
  io.field("arguments", x.arguments);
}

template <class Io, detail::OneOf<MessageMetadata> X>
void fields(Io& io, X& x) {
  io.field("run_id", x.run_id);
  io.field("step_index", x.step_index);
  io.field("sender_agent_id", x.sender_agent_id);
}

template <class Io, detail::OneOf<Message> X>
void fields(Io& io, X& x) {
  io.field("id", x.id);  // blank until normalize_message_id
  io.required("role", x.role);
  io.field("content", x.content);
  io.field("tool_calls", x.tool_calls);
  io.field("tool_call_id", x.tool_call_id);
  io.field("visibility", x.visibility);
  io.field("metadata", x.metadata);
}

template <class Io, detail::OneOf<MessageRecord> X>
void fields(Io& io, X& x) {
  io.required("thread_id", x.thread_id);
  io.required("seq", x.seq);
  io.required("message", x.message);
  io.field("produced_by_run_id", x.produced_by_run_id);
  io.field("created_at", x.created_at);
}

}  // namespace

MBX_JSON_OBJECT_CODEC(ToolCall)
MBX_JSON_OBJECT_CODEC(MessageMetadata)
MBX_JSON_OBJECT_CODEC(Message)
MBX_JSON_OBJECT_CODEC(MessageRecord)

}  // namespace mbx
