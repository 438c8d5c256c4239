#include "messages/message.hpp"

namespace mbx {

void normalize_message_id(Message& message, IdSource& ids) {
  if (is_blank(message.id)) message.id = ids.next_id();
}

void normalize_message_ids(std::vector<Message>& messages, IdSource& ids) {
  for (auto& m : messages) normalize_message_id(m, ids);
}

bool has_valid_shape(const Message& m, std::string* why) {
  auto fail = [&](const char* text) {
    if (why != nullptr) *why = "message '" + m.id + "': " + text;
    return false;
  };
  if (is_blank(m.id)) return fail("id is blank");
  if (m.role == Role::tool && (!m.tool_call_id || is_blank(*m.tool_call_id)))
    return fail("tool message without tool_call_id");
  if (m.role != Role::tool && m.tool_call_id) return fail("tool_call_id on a non-tool message");
  if (m.role != Role::assistant && !m.tool_calls.empty())
    return fail("tool_calls on a non-assistant message");
  return true;
}

}  // namespace mbx
