// Transcript consistency: a run that stops early (interrupt, cancel, lease loss, crash) must not
// leave a tool call in the committed history without a result, or the next model call on the
// thread fails. These pure functions find the dangling calls and build the synthetic results,
// marked interrupted, that the engine appends in the same write that ends the run.
// Stateless; thread-safe.
#pragma once

#include "messages/ids.hpp"
#include "messages/message.hpp"

#include <set>
#include <string>
#include <vector>

namespace mbx {

// Tool calls that run `run_id` made (its assistant messages, metadata.run_id) in `records` (in
// log order) that no later tool message answers, except those named in `keep_open` (tickets
// still waiting for a human, decisions being applied). Other runs' calls are never touched.
[[nodiscard]] std::vector<ToolCall> dangling_tool_calls(const std::vector<MessageRecord>& records,
                                                        const std::string& run_id,
                                                        const std::set<std::string>& keep_open);

// One tool message per call: content {"status":"interrupted","reason":...}, metadata run id.
[[nodiscard]] std::vector<Message> synthetic_tool_results(const std::vector<ToolCall>& calls,
                                                          const std::string& run_id, const std::string& reason,
                                                          IdSource& ids);

}  // namespace mbx
