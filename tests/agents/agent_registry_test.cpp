// AgentRegistry: registration rules, and dispatch by agent id through a real Mailbox.
#include "agents/echo_agent.hpp"
#include "agents/scripted_agent.hpp"
#include "tests/agents/agents_test_support.hpp"

namespace mbx::testing {
namespace {

using AgentRegistryTest = AgentsFixture;

TEST_F(AgentRegistryTest, AddRejectsBlankIdsNullExecutorsAndDuplicates) {
  EXPECT_TRUE(registry_.add("echo", std::make_shared<EchoAgent>()));
  auto dup = registry_.add("echo", std::make_shared<EchoAgent>());
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code, Errc::conflict);
  auto blank = registry_.add(" ", std::make_shared<EchoAgent>());
  ASSERT_FALSE(blank);
  EXPECT_EQ(blank.error().code, Errc::validation);
  auto null = registry_.add("null", nullptr);
  ASSERT_FALSE(null);
  EXPECT_EQ(null.error().code, Errc::validation);
  EXPECT_TRUE(registry_.add("alpha", std::make_shared<EchoAgent>()));
  EXPECT_EQ(registry_.ids(), (std::vector<std::string>{"alpha", "echo"}));
  EXPECT_NE(registry_.find("alpha"), nullptr);
  EXPECT_EQ(registry_.find("beta"), nullptr);
}

TEST_F(AgentRegistryTest, RunsEachDispatchOnTheAgentItsRunNames) {
  ASSERT_TRUE(registry_.add("echo", std::make_shared<EchoAgent>()));
  ASSERT_TRUE(registry_.add("scripted", std::make_shared<ScriptedAgent>(R"({"script": [{"text": "scripted"}]})")));
  start();
  auto e = mailbox_->submit_background(agent_request("t1", "echo", "hi there"));
  auto s = mailbox_->submit_background(agent_request("t2", "scripted", "anything"));
  ASSERT_TRUE(e && s);
  EXPECT_EQ(finished(*e, DispatchStatus::acked).final_output, "hi there");
  EXPECT_EQ(finished(*s, DispatchStatus::acked).final_output, "scripted");
  EXPECT_EQ(run_of(store_, s->run_id)->agent_id, "scripted");
}

TEST_F(AgentRegistryTest, AnUnknownAgentIsDeadLetteredWithTheKnownIds) {
  ASSERT_TRUE(registry_.add("scripted", std::make_shared<ScriptedAgent>()));
  ASSERT_TRUE(registry_.add("echo", std::make_shared<EchoAgent>()));
  start();
  auto s = mailbox_->submit_background(agent_request("t1", "nope", "hello"));
  ASSERT_TRUE(s);
  auto run = finished(*s, DispatchStatus::dead_letter);
  ASSERT_TRUE(run.termination_reason);
  EXPECT_EQ(run.termination_reason->kind, TerminationKind::error);
  EXPECT_EQ(run.termination_reason->detail, "unknown agent 'nope' (known: echo, scripted)");
  auto d = store_.load_dispatch(s->dispatch_id);
  EXPECT_EQ((*d)->attempt_count, 0u);  // permanent: not retried
}

}  // namespace
}  // namespace mbx::testing
