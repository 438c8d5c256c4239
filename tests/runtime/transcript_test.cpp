#include "runtime/transcript.hpp"

#include <gtest/gtest.h>

namespace mbx {
namespace {

MessageRecord rec(std::uint64_t seq, Message m) { return MessageRecord{"t", seq, std::move(m), std::nullopt, 0}; }

Message call(std::vector<std::string> ids, const std::string& run = "r1") {
  Message m;
  m.role = Role::assistant;
  m.metadata.run_id = run;
  for (auto& id : ids) m.tool_calls.push_back(ToolCall{id, "tool-" + id, OpaqueJson{}});
  return m;
}

Message result(const std::string& id) {
  Message m;
  m.role = Role::tool;
  m.tool_call_id = id;
  return m;
}

TEST(TranscriptTest, FindsCallsWithoutResultsExceptKeptOpenOnes) {
  std::vector<MessageRecord> log = {rec(1, call({"a", "b"})), rec(2, result("a")), rec(3, call({"c", "d"})),
                                    rec(4, call({"other"}, "r2"))};
  auto open = dangling_tool_calls(log, "r1", {"d"});
  ASSERT_EQ(open.size(), 2u);
  EXPECT_EQ(open[0].id, "b");
  EXPECT_EQ(open[1].id, "c");
  EXPECT_TRUE(dangling_tool_calls({rec(1, call({"a"})), rec(2, result("a"))}, "r1", {}).empty());
  EXPECT_EQ(dangling_tool_calls(log, "r2", {}).size(), 1u);  // only the run's own calls
}

TEST(TranscriptTest, SyntheticResultsAreToolMessagesMarkedInterrupted) {
  SystemClock clock;
  UuidV7Source ids(clock);
  auto msgs = synthetic_tool_results({ToolCall{"x", "search", OpaqueJson{}}}, "run-1", "interrupted", ids);
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].role, Role::tool);
  EXPECT_EQ(msgs[0].tool_call_id, "x");
  EXPECT_EQ(msgs[0].metadata.run_id, "run-1");
  EXPECT_NE(msgs[0].content.find("\"status\":\"interrupted\""), std::string::npos);
  std::string why;
  EXPECT_TRUE(has_valid_shape(msgs[0], &why)) << why;
}

}  // namespace
}  // namespace mbx
