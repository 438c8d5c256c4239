// JSON codec of AgentEvent (one flat object with a "type" tag). Rules in json_codec.hpp;
// machinery in detail/json_decoder.hpp. Stateless; thread-safe.
#include "messages/json/json_codec.hpp"

#include "messages/json/detail/json_decoder.hpp"

namespace mbx {

namespace {

template <class Io, detail::OneOf<AgentEvent> X>
void fields(Io& io, X& x) {
  io.required("type", x.type);
  io.field("seq", x.seq);
  io.field("thread_id", x.thread_id);
  io.field("run_id", x.run_id);
  io.field("text", x.text);
  io.field("tool_call_id", x.tool_call_id);
  io.field("tool_name", x.tool_name);
  io.field("message_id", x.message_id);
  io.field("parent_run_id", x.parent_run_id);
  io.field("code", x.code);
  io.field("outcome", x.outcome);
  io.field("termination", x.termination);
  io.field("payload", x.payload);
  io.field("at_ms", x.at_ms);
}

}  // namespace

MBX_JSON_OBJECT_CODEC(AgentEvent)

}  // namespace mbx
