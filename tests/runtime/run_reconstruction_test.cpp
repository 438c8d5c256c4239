#include "runtime/run_reconstruction.hpp"

#include "runtime/run_preparation.hpp"
#include "store/memory/memory_store.hpp"

#include <gtest/gtest.h>

namespace mbx {
namespace {

class RunReconstructionTest : public ::testing::Test {
protected:
  ManualClock clock_{1'700'000'000'000};
  UuidV7Source ids_{clock_};
  MemoryStore store_{ids_};
  MailboxConfig config_;
  RunPreparer preparer_{store_, clock_, ids_, config_};

  // Prepares a run the way a submit does and returns its dispatch.
  RunDispatch prepared(RunActivation& req) {
    auto p = preparer_.prepare(req);
    EXPECT_TRUE(p) << p.error().message;
    auto d = preparer_.build_dispatch(req, clock_.now_ms());
    EXPECT_TRUE(d);
    return *d;
  }

  static Message user(std::string text) {
    Message m;
    m.content = std::move(text);
    return m;
  }

  // Writes a legacy row: no activation snapshot, a request snapshot instead.
  RunDispatch legacy_run(const std::string& thread, RunRequestSnapshot snap, std::vector<Message> messages,
                         RunStatus status = RunStatus::created) {
    auto version = store_.committed_version(thread);
    RunRecord run;
    run.run_id = "legacy-run";
    run.thread_id = thread;
    run.agent_id = "old-agent";
    run.status = status;
    if (status == RunStatus::waiting) run.waiting = RunWaitingState{};
    run.request = std::move(snap);
    run.input = RunMessageInput{thread, SeqRange{1, *version + messages.size()}, {}, {}};
    EXPECT_TRUE(store_.commit_run_append(thread, messages, *version, run, nullptr, clock_.now_ms()));
    return RunDispatch::queued("legacy-dispatch", thread, "legacy-run", clock_.now_ms());
  }
};

TEST_F(RunReconstructionTest, SnapshotPathRebuildsTheRequest) {
  RunActivation req;
  req.intent.thread_id = "t1";
  req.intent.agent_id = "planner";
  req.messages = {user("plan my trip")};
  req.options.frontend_tools = {"ui.confirm"};
  req.trace.origin = RunOrigin::a2a;
  req.trace.run_mode = RunMode::background;
  req.trace.transport_request_id = "req-1";
  req.control.seeded_decisions = {SeededDecision{"call-1", {}}};
  const auto dispatch = prepared(req);

  auto rebuilt = reconstruct_run_request(store_, dispatch);
  ASSERT_TRUE(rebuilt) << rebuilt.error().message;
  EXPECT_EQ(rebuilt->intent.thread_id, "t1");
  EXPECT_EQ(rebuilt->intent.agent_id, "planner");
  EXPECT_EQ(rebuilt->intent.kind, RunKind::new_intent);
  ASSERT_EQ(rebuilt->messages.size(), 1u);
  EXPECT_EQ(rebuilt->messages[0], req.messages[0]);
  EXPECT_EQ(rebuilt->options, req.options);
  EXPECT_EQ(rebuilt->trace.origin, RunOrigin::a2a);
  EXPECT_EQ(rebuilt->trace.run_mode, RunMode::background);
  EXPECT_EQ(rebuilt->trace.transport_request_id, "req-1");
  EXPECT_EQ(rebuilt->trace.dispatch_id, dispatch.dispatch_id);
  EXPECT_EQ(rebuilt->control.seeded_decisions, req.control.seeded_decisions);
  EXPECT_TRUE(rebuilt->persistence.messages_already_persisted);
  EXPECT_EQ(rebuilt->persistence.run_id_hint, dispatch.run_id);
}

TEST_F(RunReconstructionTest, WaitingRunReplaysAsResume) {
  RunActivation req;
  req.intent.thread_id = "t1";
  req.messages = {user("delete the file")};
  const auto dispatch = prepared(req);
  // The run suspended for approval.
  auto run = *store_.load_run(dispatch.run_id);
  run->status = RunStatus::waiting;
  run->waiting = RunWaitingState{};
  ASSERT_TRUE(store_.commit_run_append("t1", {}, std::nullopt, *run, nullptr, clock_.now_ms()));

  auto rebuilt = reconstruct_run_request(store_, dispatch);
  ASSERT_TRUE(rebuilt) << rebuilt.error().message;
  EXPECT_EQ(rebuilt->intent.kind, RunKind::hitl_resume);
  EXPECT_EQ(rebuilt->intent.resume_run_id, dispatch.run_id);
  EXPECT_EQ(rebuilt->trace.run_mode, RunMode::resume);
}

TEST_F(RunReconstructionTest, MissingRunIsAValidationError) {
  auto d = RunDispatch::queued("d1", "t1", "ghost", clock_.now_ms());
  auto r = reconstruct_run_request(store_, d);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::validation);
  EXPECT_EQ(r.error().message, "run 'ghost' not found for dispatch 'd1'");
}

TEST_F(RunReconstructionTest, RunOfAnotherThreadIsRejected) {
  RunActivation req;
  req.intent.thread_id = "t1";
  req.messages = {user("x")};
  auto dispatch = prepared(req);
  dispatch.thread_id = "t2";
  auto r = reconstruct_run_request(store_, dispatch);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("belongs to thread 't1'"), std::string::npos) << r.error().message;
}

TEST_F(RunReconstructionTest, MissingTriggerMessageIsAValidationError) {
  RunActivation req;
  req.intent.thread_id = "t1";
  req.messages = {user("x")};
  const auto dispatch = prepared(req);
  auto run = *store_.load_run(dispatch.run_id);
  run->activation->input.trigger_message_ids = {"vanished"};
  ASSERT_TRUE(store_.commit_run_append("t1", {}, std::nullopt, *run, nullptr, clock_.now_ms()));
  auto r = reconstruct_run_request(store_, dispatch);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "message 'vanished' not found for run '" + dispatch.run_id + "'");
}

TEST_F(RunReconstructionTest, LegacyPathReadsMessagesByIdAndExtras) {
  Message m = user("legacy hello");
  m.id = "m-legacy";
  RunRequestSnapshot snap;
  snap.origin = RunOrigin::a2a;
  snap.input_message_ids = {"m-legacy"};
  snap.frontend_tools = {"old.tool"};
  snap.request_extras = OpaqueJson{
      R"({"run_mode":"background","continue_run_id":"run-0","frontend_tools":["new.tool"],)"
      R"("decisions":[{"tool_call_id":"call-9","resume":{"action":"resume","result":{"approved":true}}}]})"};
  const auto dispatch = legacy_run("t1", snap, {m});
  auto r = reconstruct_run_request(store_, dispatch);
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->messages.size(), 1u);
  EXPECT_EQ(r->messages[0].content, "legacy hello");
  EXPECT_EQ(r->trace.origin, RunOrigin::a2a);
  EXPECT_EQ(r->trace.run_mode, RunMode::background);
  EXPECT_EQ(r->intent.kind, RunKind::hitl_resume);
  EXPECT_EQ(r->intent.resume_run_id, "run-0");
  EXPECT_EQ(r->options.frontend_tools, std::vector<std::string>{"new.tool"});
  ASSERT_EQ(r->control.seeded_decisions.size(), 1u);
  EXPECT_EQ(r->control.seeded_decisions[0].tool_call_id, "call-9");
  EXPECT_EQ(r->intent.agent_id, "old-agent");
}

TEST_F(RunReconstructionTest, LegacyPathFallsBackToTheInputRangeAndDefaultsToResume) {
  Message a = user("first");
  a.id = "m-a";
  Message b = user("second");
  b.id = "m-b";
  RunRequestSnapshot snap;
  snap.input_message_count = 1;
  const auto dispatch = legacy_run("t1", snap, {a, b});
  auto r = reconstruct_run_request(store_, dispatch);
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->messages.size(), 1u);
  EXPECT_EQ(r->messages[0].id, "m-b");  // the last input_message_count records of the range
  EXPECT_EQ(r->trace.run_mode, RunMode::resume);
}

TEST_F(RunReconstructionTest, CorruptLegacyExtrasAreAValidationError) {
  RunRequestSnapshot snap;
  snap.request_extras = OpaqueJson{R"({"run_mode": 7})"};
  const auto dispatch = legacy_run("t1", snap, {});
  auto r = reconstruct_run_request(store_, dispatch);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::validation);
  EXPECT_NE(r.error().message.find("corrupt request_extras"), std::string::npos) << r.error().message;
}

TEST_F(RunReconstructionTest, RunWithoutAnySnapshotIsRejected) {
  RunRecord run;
  run.run_id = "bare";
  run.thread_id = "t1";
  ASSERT_TRUE(store_.commit_run_append("t1", {}, std::nullopt, run, nullptr, clock_.now_ms()));
  auto r = reconstruct_run_request(store_, RunDispatch::queued("d", "t1", "bare", clock_.now_ms()));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "run 'bare' has no activation snapshot");
}

}  // namespace
}  // namespace mbx
