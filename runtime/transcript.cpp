#include "runtime/transcript.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace mbx {

std::vector<ToolCall> dangling_tool_calls(const std::vector<MessageRecord>& records, const std::string& run_id,
                                          const std::set<std::string>& keep_open) {
  std::vector<ToolCall> open;
  for (const auto& r : records) {
    const Message& m = r.message;
    if (m.role == Role::assistant && m.metadata.run_id == run_id) {
      for (const auto& call : m.tool_calls) open.push_back(call);
    } else if (m.role == Role::tool && m.tool_call_id) {
      std::erase_if(open, [&](const ToolCall& c) { return c.id == *m.tool_call_id; });
    }
  }
  std::erase_if(open, [&](const ToolCall& c) { return keep_open.contains(c.id); });
  return open;
}

std::vector<Message> synthetic_tool_results(const std::vector<ToolCall>& calls, const std::string& run_id,
                                            const std::string& reason, IdSource& ids) {
  std::vector<Message> out;
  out.reserve(calls.size());
  for (const auto& call : calls) {
    boost::json::object content;
    content["status"] = "interrupted";
    content["reason"] = reason;
    content["tool_name"] = call.name;
    Message m;
    m.id = ids.next_id();
    m.role = Role::tool;
    m.tool_call_id = call.id;
    m.content = boost::json::serialize(content);
    m.metadata.run_id = run_id;
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace mbx
