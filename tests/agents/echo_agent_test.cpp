// EchoAgent: word-by-word streaming, the committed answer, the resume answer.
#include "agents/echo_agent.hpp"
#include "tests/agents/agents_test_support.hpp"

namespace mbx::testing {
namespace {

class EchoAgentTest : public AgentsFixture {
protected:
  void SetUp() override { ASSERT_TRUE(registry_.add("echo", std::make_shared<EchoAgent>())); }
};

TEST_F(EchoAgentTest, StreamsOneDeltaPerWordThenCommitsTheWholeText) {
  start();
  auto s = mailbox_->submit(agent_request("t1", "echo", "hello big  world"));
  ASSERT_TRUE(s) << describe(s.error());
  auto events = collect(s->events);
  EXPECT_EQ(deltas(events), (std::vector<std::string>{"hello ", "big  ", "world"}));
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().type, AgentEventType::run_finish);
  EXPECT_EQ(events.back().text, "hello big  world");
  ASSERT_TRUE(eventually([&] { return run_done(store_, s->result.run_id); }));
  EXPECT_EQ(run_of(store_, s->result.run_id)->final_output, "hello big  world");
  auto h = history(store_, "t1");
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(h[1].role, Role::assistant);
  EXPECT_EQ(h[1].content, "hello big  world");
  EXPECT_EQ(h[1].metadata.run_id, s->result.run_id);
}

TEST_F(EchoAgentTest, AnswersEveryUserMessageAndResumedOnAResume) {
  RunActivation a = agent_request("t1", "echo", "one");
  Message second;
  second.role = Role::user;
  second.content = "two";
  a.messages.push_back(second);
  EXPECT_EQ(EchoAgent::answer(a), "one\ntwo");
  RunActivation resume;
  resume.control.seeded_decisions.push_back(SeededDecision{"call-1", ToolCallResume{}});
  EXPECT_EQ(EchoAgent::answer(resume), "resumed");
}

}  // namespace
}  // namespace mbx::testing
