// Message and MessageRecord: what was said on a thread. A MessageRecord is a message at its
// place (seq, 1-based) in the thread's committed log. Plain values.
#pragma once

#include "messages/ids.hpp"
#include "messages/opaque_json.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mbx {

enum class Role : std::uint8_t { system, user, assistant, tool };
enum class Visibility : std::uint8_t { all, internal };

struct ToolCall {
  std::string id;
  std::string name;
  OpaqueJson arguments;

  friend bool operator==(const ToolCall&, const ToolCall&) = default;
};

struct MessageMetadata {
  std::optional<std::string> run_id;
  std::optional<std::uint32_t> step_index;
  std::optional<std::string> sender_agent_id;

  friend bool operator==(const MessageMetadata&, const MessageMetadata&) = default;
};

struct Message {
  std::string id;  // UUID v7; blank until normalize_message_id
  Role role = Role::user;
  std::string content;
  std::vector<ToolCall> tool_calls;          // assistant only
  std::optional<std::string> tool_call_id;   // tool only (required there)
  Visibility visibility = Visibility::all;
  MessageMetadata metadata;

  friend bool operator==(const Message&, const Message&) = default;
};

struct MessageRecord {
  std::string thread_id;
  std::uint64_t seq = 0;  // 1-based position in the committed log
  Message message;
  std::optional<std::string> produced_by_run_id;
  std::int64_t created_at = 0;  // seconds

  friend bool operator==(const MessageRecord&, const MessageRecord&) = default;
};

// A message without a (non-blank) id gets a fresh UUID v7.
void normalize_message_id(Message& message, IdSource& ids);
void normalize_message_ids(std::vector<Message>& messages, IdSource& ids);

// Shape rules of the committed log: non-blank id, tool messages carry tool_call_id,
// only assistant messages carry tool calls. Errors name the offending message.
[[nodiscard]] bool has_valid_shape(const Message& message, std::string* why);

std::string_view to_string(Role role) noexcept;
std::string_view to_string(Visibility visibility) noexcept;

}  // namespace mbx
