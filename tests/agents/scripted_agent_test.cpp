// ScriptedAgent: script parsing, then each step kind driven through a real Mailbox: text with
// delays, tool calls, approval (suspend, decide, resume), transient and permanent failures,
// interrupt during a delay, bad scripts.
#include "agents/scripted_agent.hpp"
#include "tests/agents/agents_test_support.hpp"

#include <algorithm>
#include <chrono>

namespace mbx::testing {
namespace {

using namespace std::chrono_literals;

class ScriptedAgentTest : public AgentsFixture {
protected:
  void SetUp() override {
    ASSERT_TRUE(registry_.add("scripted", std::make_shared<ScriptedAgent>()));
    ASSERT_TRUE(registry_.add("defaulted", std::make_shared<ScriptedAgent>(
                                               R"({"script": [{"text": "default "}, {"text": "answer"}]})")));
  }
  Result<SubmitResult> background(const std::string& thread_id, const std::string& script) {
    return mailbox_->submit_background(agent_request(thread_id, "scripted", script));
  }
};

TEST(ScriptParseTest, ParsesEveryStepKind) {
  auto s = ScriptedAgent::parse_script(R"({"script": [
      {"text": "a", "delay_ms": 5}, {"sleep_ms": 7},
      {"tool": {"id": "c1", "name": "search", "args": {"q": 1}, "result": {"hits": 2}}},
      {"approval": {"id": "a1", "name": "deploy"}},
      {"fail": "transient", "message": "later", "attempts": 2}, {"fail": "permanent"}]})");
  ASSERT_TRUE(s) << s.error().message;
  ASSERT_EQ(s->steps.size(), 6u);
  EXPECT_EQ(s->steps[0].delay_ms, 5);
  EXPECT_EQ(s->steps[1].kind, ScriptStepKind::sleep);
  EXPECT_EQ(s->steps[2].call.arguments.json, R"({"q":1})");
  EXPECT_EQ(s->steps[2].result, R"({"hits":2})");
  EXPECT_EQ(s->steps[3].call.arguments.json, "{}");
  EXPECT_EQ(s->steps[4].attempts, 2u);
  EXPECT_FALSE(s->steps[5].attempts);
  EXPECT_EQ(s->steps[5].message, "scripted permanent failure");
}

TEST(ScriptParseTest, ErrorsNameTheProblem) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{", "script: not valid JSON"},
      {"[]", "script: expected an object"},
      {R"({"steps": []})", "script: missing the \"script\" member"},
      {R"({"script": {}})", "script: expected an array of steps, got an object"},
      {R"({"script": [{"text": 1}]})", "script[0].text: expected a string, got an integer"},
      {R"({"script": [{"text": "a", "delay_ms": -1}]})", "script[0].delay_ms: expected a non-negative integer"},
      {R"({"script": [{"tool": {"name": "x"}}]})", "script[0].tool.id: missing"},
      {R"({"script": [{"fail": "sometimes"}]})", "script[0].fail: expected \"transient\" or \"permanent\""},
      {R"({"script": [{"dance": 1}]})", "script[0]: unknown step"},
      {R"({"script": [{"tool": {"id": "c", "name": "x"}}, {"approval": {"id": "c", "name": "y"}}]})",
       "script[1]: tool call id 'c' is used twice"},
  };
  for (const auto& [doc, expected] : cases) {
    auto s = ScriptedAgent::parse_script(doc);
    ASSERT_FALSE(s) << doc;
    EXPECT_EQ(s.error().code, Errc::validation);
    EXPECT_EQ(s.error().message.rfind(expected, 0), 0u) << doc << " -> " << s.error().message;
  }
  EXPECT_FALSE(ScriptedAgent("{nope").check_default());
  EXPECT_TRUE(ScriptedAgent().check_default());
}

TEST_F(ScriptedAgentTest, TextStepsStreamAfterTheirDelaysAndCommitTheWholeText) {
  start();
  const auto begin = std::chrono::steady_clock::now();
  auto s = mailbox_->submit(agent_request(
      "t1", "scripted", R"({"script": [{"text": "hello ", "delay_ms": 30}, {"text": "world", "delay_ms": 30}]})"));
  ASSERT_TRUE(s) << describe(s.error());
  auto events = collect(s->events);
  EXPECT_GE(std::chrono::steady_clock::now() - begin, 60ms);
  EXPECT_EQ(deltas(events), (std::vector<std::string>{"hello ", "world"}));
  ASSERT_TRUE(eventually([&] { return run_done(store_, s->result.run_id); }));
  EXPECT_EQ(run_of(store_, s->result.run_id)->final_output, "hello world");
  auto h = history(store_, "t1");
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(h.back().role, Role::assistant);
  EXPECT_EQ(h.back().content, "hello world");
}

TEST_F(ScriptedAgentTest, ADefaultScriptRunsWhenTheMessageIsNoScript) {
  start();
  auto s = mailbox_->submit_background(agent_request("t1", "defaulted", "just chatting"));
  ASSERT_TRUE(s);
  EXPECT_EQ(finished(*s, DispatchStatus::acked).final_output, "default answer");
  auto none = background("t2", "just chatting");
  ASSERT_TRUE(none);
  auto failed = finished(*none, DispatchStatus::dead_letter);
  EXPECT_NE(failed.termination_reason->detail.find("no script"), std::string::npos);
}

TEST_F(ScriptedAgentTest, AToolStepPutsTheCallAndItsResultInTheHistory) {
  start();
  auto s = mailbox_->submit(agent_request("t1", "scripted", R"({"script": [
      {"text": "looking "},
      {"tool": {"id": "c1", "name": "search", "args": {"q": "cats"}, "result": "3 cats"}},
      {"text": "found"}]})"));
  ASSERT_TRUE(s) << describe(s.error());
  auto events = collect(s->events);
  auto t = types(events);
  using T = AgentEventType;
  EXPECT_EQ(t, (std::vector<T>{T::run_start, T::text_delta, T::tool_call_start, T::tool_call_done, T::text_delta,
                               T::run_finish}));
  EXPECT_EQ(events[3].outcome, ToolCallOutcome::succeeded);
  EXPECT_EQ(events[3].payload.json, R"("3 cats")");
  ASSERT_TRUE(eventually([&] { return run_done(store_, s->result.run_id); }));
  auto h = history(store_, "t1");
  ASSERT_EQ(h.size(), 4u);  // user, assistant call, tool result, assistant text
  ASSERT_EQ(h[1].tool_calls.size(), 1u);
  EXPECT_EQ(h[1].tool_calls[0].name, "search");
  EXPECT_EQ(h[1].tool_calls[0].arguments.json, R"({"q":"cats"})");
  EXPECT_EQ(h[2].tool_call_id, "c1");
  EXPECT_EQ(h[2].content, "3 cats");
  EXPECT_EQ(h[3].content, "looking found");
}

TEST_F(ScriptedAgentTest, AnApprovalSuspendsAndADecisionResumesTheSameRun) {
  start();
  auto s = mailbox_->submit(agent_request("t1", "scripted", R"({"script": [
      {"text": "plan "},
      {"approval": {"id": "a1", "name": "deploy", "args": {"env": "prod"}}},
      {"text": "deployed"}]})"));
  ASSERT_TRUE(s) << describe(s.error());
  auto events = collect(s->events);
  ASSERT_TRUE(eventually([&] { return run_waiting(store_, s->result.run_id); }));
  ASSERT_GE(events.size(), 2u);
  EXPECT_EQ(events[events.size() - 2].outcome, ToolCallOutcome::suspended);
  EXPECT_EQ(events.back().termination->kind, TerminationKind::suspended);
  auto waiting = run_of(store_, s->result.run_id);
  ASSERT_TRUE(waiting->is_resumable_waiting());
  EXPECT_EQ(waiting->waiting->reason, WaitingReason::tool_permission);
  ASSERT_EQ(waiting->waiting->tickets.size(), 1u);
  EXPECT_EQ(waiting->waiting->tickets[0].ticket_id, "ticket-a1");
  EXPECT_EQ(waiting->waiting->tickets[0].tool_call_id, "a1");
  EXPECT_EQ(waiting->waiting->tickets[0].tool_name, "deploy");
  EXPECT_EQ(waiting->waiting->tickets[0].arguments.json, R"({"env":"prod"})");

  auto resumed = mailbox_->decide(s->result.run_id, "a1", ToolCallResume{ResumeAction::resume, {}, {}});
  ASSERT_TRUE(resumed) << describe(resumed.error());
  EXPECT_EQ(resumed->run_id, s->result.run_id);
  auto run = finished(*resumed, DispatchStatus::acked);
  EXPECT_EQ(run.status, RunStatus::done);
  EXPECT_EQ(run.termination_reason->kind, TerminationKind::natural_end);
  EXPECT_EQ(run.final_output, "plan deployed");
  auto h = history(store_, "t1");
  EXPECT_EQ(count_tool_calls(h, "a1"), 1u);
  const Message* result = tool_result(h, "a1");
  ASSERT_NE(result, nullptr);
  EXPECT_EQ(result->content, "approved");
  EXPECT_EQ(h.back().content, "plan deployed");
  auto log = mailbox_->attach(s->result.run_id, 0);
  ASSERT_TRUE(log);
  const auto all = types(collect(*log));
  EXPECT_NE(std::find(all.begin(), all.end(), AgentEventType::tool_call_resumed), all.end());
}

TEST_F(ScriptedAgentTest, ADeniedApprovalCommitsDeniedAndContinues) {
  start();
  auto s = background("t1", R"({"script": [{"approval": {"id": "a1", "name": "rm"}}, {"text": "ok"}]})");
  ASSERT_TRUE(s);
  ASSERT_TRUE(eventually([&] { return run_waiting(store_, s->run_id); }));
  auto resumed = mailbox_->decide(s->run_id, "a1", ToolCallResume{ResumeAction::cancel, {}, {}});
  ASSERT_TRUE(resumed) << describe(resumed.error());
  EXPECT_EQ(finished(*resumed, DispatchStatus::acked).final_output, "ok");
  const auto committed = history(store_, "t1");  // the pointer below points into it
  const Message* result = tool_result(committed, "a1");
  ASSERT_NE(result, nullptr);
  EXPECT_EQ(result->content, "denied");
}

TEST_F(ScriptedAgentTest, ATransientFailWithOneAttemptIsRetriedThenSucceeds) {
  start();
  auto s = background("t1", R"({"script": [
      {"tool": {"id": "c1", "name": "search", "result": "r"}},
      {"fail": "transient", "message": "flaky", "attempts": 1},
      {"text": "recovered"}]})");
  ASSERT_TRUE(s);
  auto run = finished(*s, DispatchStatus::acked);
  EXPECT_EQ(run.final_output, "recovered");
  auto d = store_.load_dispatch(s->dispatch_id);
  EXPECT_EQ((*d)->attempt_count, 1u);
  auto h = history(store_, "t1");
  EXPECT_EQ(count_tool_calls(h, "c1"), 1u);  // the retry does not commit the call twice
}

TEST_F(ScriptedAgentTest, APermanentFailIsDeadLetteredAtOnce) {
  start();
  auto s = background("t1", R"({"script": [{"text": "x"}, {"fail": "permanent", "message": "nope"}]})");
  ASSERT_TRUE(s);
  auto run = finished(*s, DispatchStatus::dead_letter);
  EXPECT_EQ(run.termination_reason->kind, TerminationKind::error);
  EXPECT_EQ(run.termination_reason->detail, "nope");
  EXPECT_EQ((*store_.load_dispatch(s->dispatch_id))->attempt_count, 0u);
}

TEST_F(ScriptedAgentTest, ABadScriptIsAPermanentErrorNamingTheProblem) {
  start();
  auto s = background("t1", R"({"script": [{"tool": {"name": "x"}}]})");
  auto broken = background("t2", R"({"script": [)");
  ASSERT_TRUE(s && broken);
  EXPECT_EQ(finished(*s, DispatchStatus::dead_letter).termination_reason->detail, "script[0].tool.id: missing");
  EXPECT_EQ(finished(*broken, DispatchStatus::dead_letter).termination_reason->detail.rfind("script: not valid JSON", 0),
            0u);
}

TEST_F(ScriptedAgentTest, AnInterruptStopsALongDelayAtOnce) {
  start();
  auto s = mailbox_->submit(
      agent_request("t1", "scripted", R"({"script": [{"text": "a"}, {"text": "never", "delay_ms": 30000}]})"));
  ASSERT_TRUE(s) << describe(s.error());
  ASSERT_TRUE(eventually([&] {
    auto e = s->events.next(10ms);
    return e && *e && (*e)->type == AgentEventType::text_delta;
  }));
  const auto begin = std::chrono::steady_clock::now();
  auto interrupted = mailbox_->interrupt_thread("t1");
  ASSERT_TRUE(interrupted) << describe(interrupted.error());
  ASSERT_TRUE(eventually([&] { return run_done(store_, s->result.run_id); }, 5s));
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 3s);
  auto run = run_of(store_, s->result.run_id);
  EXPECT_EQ(run->termination_reason->kind, TerminationKind::cancelled);
  for (const auto& m : history(store_, "t1")) EXPECT_NE(m.content, "anever");
}

}  // namespace
}  // namespace mbx::testing
