#include "runtime/run_preparation.hpp"

#include "store/memory/memory_store.hpp"

#include <gtest/gtest.h>

#include <thread>

namespace mbx {
namespace {

Message user(std::string text) {
  Message m;
  m.role = Role::user;
  m.content = std::move(text);
  return m;
}

RunActivation request_on(const std::string& thread, std::vector<Message> messages) {
  RunActivation r;
  r.intent.thread_id = thread;
  r.messages = std::move(messages);
  return r;
}

// Forwards to a MemoryStore; before each of the first `conflicts` commits it commits a foreign
// message on the same thread, so the caller's expected version is stale.
class ConflictingStore final : public ThreadRunStore {
public:
  explicit ConflictingStore(MemoryStore& inner, int conflicts) : inner_(inner), conflicts_(conflicts) {}
  int commits = 0;

  Result<std::optional<RunRecord>> load_run(const std::string& id) override { return inner_.load_run(id); }
  Result<std::optional<RunRecord>> latest_run(const std::string& t) override { return inner_.latest_run(t); }
  Result<RunPage> list_runs(const std::string& t, std::uint64_t o, std::uint32_t l) override {
    return inner_.list_runs(t, o, l);
  }
  Result<RunPage> list_runs_by_status(RunStatus s, std::uint64_t o, std::uint32_t l) override {
    return inner_.list_runs_by_status(s, o, l);
  }
  Result<std::vector<std::string>> run_ids_by_status(RunStatus s) override { return inner_.run_ids_by_status(s); }
  Result<std::optional<RunRecord>> reusable_waiting_run(const std::string& t) override {
    return inner_.reusable_waiting_run(t);
  }
  using ThreadRunStore::commit_run_append;
  Result<std::uint64_t> commit_run_append(const std::string& t, const std::vector<Message>& ms,
                                          std::optional<std::uint64_t> v, const RunRecord& run, const Fence* f,
                                          std::int64_t now, Durability d) override {
    intrude(t, now);
    return inner_.commit_run_append(t, ms, v, run, f, now, d);
  }
  Result<StepCommit> commit_run_enqueue(const std::string& t, const std::vector<Message>& ms,
                                        std::optional<std::uint64_t> v, const RunRecord& run, const RunDispatch& d,
                                        const EnqueueOptions& o, std::int64_t now) override {
    intrude(t, now);
    return inner_.commit_run_enqueue(t, ms, v, run, d, o, now);
  }
  // Counts the commit and, while conflicts are left, lets another writer append first.
  void intrude(const std::string& t, std::int64_t now) {
    ++commits;
    if (conflicts_-- > 0) {
      RunRecord other;
      other.run_id = "intruder";
      other.thread_id = t;
      Message m = user("intruding");
      m.id = "intruder-" + std::to_string(commits);
      auto version = inner_.committed_version(t);
      std::ignore = inner_.commit_run_append(t, {m}, *version, other, nullptr, now);  // test setup
    }
  }
  using ThreadRunStore::commit_run_step;
  Result<StepCommit> commit_run_step(const std::string& t, const std::vector<Message>& ms, std::optional<std::uint64_t> v,
                                     const RunRecord& run, const Fence& f, const DispatchStep& step, std::int64_t now,
                                     Durability d) override {
    return inner_.commit_run_step(t, ms, v, run, f, step, now, d);
  }
  Result<std::uint64_t> committed_version(const std::string& t) override { return inner_.committed_version(t); }
  Result<std::vector<MessageRecord>> load_committed_messages(const std::string& t, std::uint64_t f,
                                                            std::uint32_t l) override {
    return inner_.load_committed_messages(t, f, l);
  }
  Result<std::optional<MessageRecord>> load_message_record(const std::string& t, const std::string& id) override {
    return inner_.load_message_record(t, id);
  }
  Result<std::vector<MessageRecord>> load_message_records_range(const std::string& t, std::uint64_t a,
                                                                std::uint64_t b) override {
    return inner_.load_message_records_range(t, a, b);
  }
  Result<AgentEvent> append_event(const std::string& r, const AgentEvent& e, const Fence* f) override {
    return inner_.append_event(r, e, f);
  }
  Result<std::vector<AgentEvent>> read_events(const std::string& r, std::uint64_t a, std::uint32_t l) override {
    return inner_.read_events(r, a, l);
  }

private:
  MemoryStore& inner_;
  int conflicts_;
};

class RunPreparationTest : public ::testing::Test {
protected:
  ManualClock clock_{1'700'000'000'000};
  UuidV7Source ids_{clock_};
  MemoryStore store_{ids_};
  MailboxConfig config_;
  RunPreparer preparer_{store_, clock_, ids_, config_};

  // Commits a run with the given status for the thread, as a finished earlier run would be.
  void seed_run(const std::string& thread, const std::string& run_id, RunStatus status, std::string agent,
                std::optional<OpaqueJson> state = std::nullopt) {
    RunRecord r;
    r.run_id = run_id;
    r.thread_id = thread;
    r.agent_id = std::move(agent);
    r.status = status;
    r.state = std::move(state);
    r.created_at = r.updated_at = clock_.now_s();
    if (status == RunStatus::done) r.finished_at = clock_.now_s();
    if (status == RunStatus::waiting) r.waiting = RunWaitingState{};
    ASSERT_TRUE(store_.commit_run_append(thread, {}, std::nullopt, r, nullptr, clock_.now_ms()));
  }
};

TEST(ValidateRunInputsTest, TrimsTheThreadIdAndRejectsBlankOnes) {
  auto r = request_on("  t1 \n", {user("hi")});
  ASSERT_TRUE(validate_run_inputs(r));
  EXPECT_EQ(r.intent.thread_id, "t1");
  auto blank = request_on("   ", {user("hi")});
  auto v = validate_run_inputs(blank);
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().code, Errc::validation);
}

TEST(ValidateRunInputsTest, EmptyMessagesNeedDecisions) {
  auto r = request_on("t1", {});
  ASSERT_FALSE(validate_run_inputs(r));
  r.control.seeded_decisions.push_back(SeededDecision{"call-1", {}});
  EXPECT_TRUE(validate_run_inputs(r));
}

TEST(NormalizeRunModeTest, ForegroundBecomesResumeWakeOrBackground) {
  auto r = request_on("t", {user("x")});
  normalize_run_mode(r, false);
  EXPECT_EQ(r.trace.run_mode, RunMode::foreground);
  normalize_run_mode(r, true);
  EXPECT_EQ(r.trace.run_mode, RunMode::background);

  auto wake = request_on("t", {user("x")});
  wake.trace.origin = RunOrigin::internal;
  normalize_run_mode(wake, true);
  EXPECT_EQ(wake.trace.run_mode, RunMode::internal_wake);

  auto decision = request_on("t", {});
  decision.control.seeded_decisions.push_back(SeededDecision{"call-1", {}});
  normalize_run_mode(decision, true);
  EXPECT_EQ(decision.trace.run_mode, RunMode::resume);

  auto resume = request_on("t", {user("x")});
  resume.trace.run_mode = RunMode::resume;
  normalize_run_mode(resume, true);  // only Foreground changes
  EXPECT_EQ(resume.trace.run_mode, RunMode::resume);
}

TEST_F(RunPreparationTest, NewRunCommitsMessagesAndRecordInOneAppend) {
  auto req = request_on("t1", {user("one"), user("two")});
  auto p = preparer_.prepare(req);
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->version, 2u);
  EXPECT_TRUE(is_uuid_v7(p->run_id));
  EXPECT_EQ(req.persistence.run_id_hint, p->run_id);
  EXPECT_EQ(req.persistence.dispatch_id_hint, p->dispatch_id);

  auto run = store_.load_run(p->run_id);
  ASSERT_TRUE(run && *run);
  EXPECT_EQ((*run)->status, RunStatus::created);
  EXPECT_EQ((*run)->agent_id, "default");
  EXPECT_EQ((*run)->dispatch_id, p->dispatch_id);
  ASSERT_TRUE((*run)->input && (*run)->input->range);
  EXPECT_EQ((*run)->input->range->from_seq, 1u);
  EXPECT_EQ((*run)->input->range->to_seq, 2u);
  ASSERT_TRUE((*run)->activation);
  EXPECT_EQ((*run)->activation->input.trigger_message_ids,
            (std::vector<std::string>{req.messages[0].id, req.messages[1].id}));

  auto log = store_.load_committed_messages("t1", 1, 0);
  ASSERT_TRUE(log);
  ASSERT_EQ(log->size(), 2u);
  EXPECT_EQ((*log)[0].message.content, "one");
  EXPECT_EQ((*log)[1].seq, 2u);
}

TEST_F(RunPreparationTest, NewRunInfersAgentAndInheritsStateFromThePreviousRun) {
  seed_run("t1", "old", RunStatus::done, "weather-agent", OpaqueJson{R"({"city":"Lisbon"})"});
  auto req = request_on("t1", {user("and tomorrow?")});
  auto p = preparer_.prepare(req);
  ASSERT_TRUE(p) << p.error().message;
  auto run = store_.load_run(p->run_id);
  ASSERT_TRUE(run && *run);
  EXPECT_EQ((*run)->agent_id, "weather-agent");
  ASSERT_TRUE((*run)->state);
  EXPECT_EQ((*run)->state->json, R"({"city":"Lisbon"})");
  EXPECT_EQ(req.intent.agent_id, "weather-agent");
}

TEST_F(RunPreparationTest, ACreatedPreviousRunIsNotUsedForInference) {
  seed_run("t1", "pending", RunStatus::created, "other-agent", OpaqueJson{"1"});
  auto req = request_on("t1", {user("hi")});
  auto p = preparer_.prepare(req);
  ASSERT_TRUE(p);
  auto run = store_.load_run(p->run_id);
  EXPECT_EQ((*run)->agent_id, "default");
  EXPECT_FALSE((*run)->state);
}

TEST_F(RunPreparationTest, WaitingRunIsResumedWithTheSameRunId) {
  seed_run("t1", "waiting-run", RunStatus::waiting, "approver");
  auto req = request_on("t1", {user("yes, go ahead")});
  auto p = preparer_.prepare(req);
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->run_id, "waiting-run");
  EXPECT_EQ(req.intent.kind, RunKind::hitl_resume);
  EXPECT_EQ(req.intent.resume_run_id, "waiting-run");
  EXPECT_EQ(req.trace.run_mode, RunMode::resume);
  EXPECT_EQ(req.intent.agent_id, "approver");
  auto run = store_.load_run("waiting-run");
  EXPECT_EQ((*run)->status, RunStatus::waiting);  // the resume dispatch moves it on
  EXPECT_EQ((*run)->dispatch_id, p->dispatch_id);
}

TEST_F(RunPreparationTest, HintedRunOfAnotherThreadIsRejected) {
  seed_run("t-other", "r1", RunStatus::created, "a");
  auto req = request_on("t1", {user("x")});
  req.persistence.run_id_hint = "r1";
  auto p = preparer_.prepare(req);
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().code, Errc::validation);
  EXPECT_EQ(p.error().message, "run_id 'r1' belongs to thread 't-other', not 't1'");
  EXPECT_EQ(*store_.committed_version("t1"), 0u);
}

TEST_F(RunPreparationTest, HintedRunThatIsDoneIsNotOpen) {
  seed_run("t1", "r1", RunStatus::done, "a");
  auto req = request_on("t1", {user("x")});
  req.persistence.run_id_hint = "r1";
  auto p = preparer_.prepare(req);
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().message, "run_id 'r1' is not open for dispatch");
}

TEST_F(RunPreparationTest, AppendConflictsAreRetried) {
  ConflictingStore conflicting(store_, 3);
  RunPreparer preparer(conflicting, clock_, ids_, config_);
  auto req = request_on("t1", {user("mine")});
  auto p = preparer.prepare(req);
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(conflicting.commits, 4);
  EXPECT_EQ(p->version, 4u);  // three intruders, then ours
  auto run = store_.load_run(p->run_id);
  EXPECT_EQ((*run)->input->range->to_seq, 4u);
  auto mine = store_.load_message_record("t1", req.messages[0].id);
  ASSERT_TRUE(mine && *mine);
  EXPECT_EQ((*mine)->seq, 4u);
}

TEST_F(RunPreparationTest, AppendGivesUpAfterTheConfiguredRetries) {
  ConflictingStore conflicting(store_, 100);
  RunPreparer preparer(conflicting, clock_, ids_, config_);
  auto req = request_on("t1", {user("mine")});
  auto p = preparer.prepare(req);
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().code, Errc::internal);
  EXPECT_EQ(p.error().message, "committed append exhausted 8 retries under version conflict for thread 't1'");
  EXPECT_EQ(conflicting.commits, 8);
}

TEST_F(RunPreparationTest, ConcurrentPreparesOnOneThreadKeepEveryMessage) {
  constexpr int kWriters = 8;
  std::vector<std::thread> writers;
  std::vector<std::string> run_ids(kWriters);
  std::vector<std::string> message_ids(kWriters);
  for (int i = 0; i < kWriters; ++i) {
    writers.emplace_back([&, i] {
      auto req = request_on("shared", {user("from " + std::to_string(i))});
      auto p = preparer_.prepare(req);
      if (p) {
        run_ids[i] = p->run_id;
        message_ids[i] = req.messages[0].id;
      }
    });
  }
  for (auto& w : writers) w.join();
  EXPECT_EQ(*store_.committed_version("shared"), static_cast<std::uint64_t>(kWriters));
  for (int i = 0; i < kWriters; ++i) {
    ASSERT_FALSE(run_ids[i].empty());
    auto rec = store_.load_message_record("shared", message_ids[i]);
    ASSERT_TRUE(rec && *rec) << "message of writer " << i << " lost";
  }
  auto problems = store_.verify();
  ASSERT_TRUE(problems);
  EXPECT_TRUE(problems->empty());
}

TEST_F(RunPreparationTest, BuildDispatchUsesTheHintsAndConfig) {
  auto req = request_on("t1", {user("x")});
  ASSERT_TRUE(preparer_.prepare(req));
  auto d = preparer_.build_dispatch(req, clock_.now_ms() + 60'000);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->dispatch_id, *req.persistence.dispatch_id_hint);
  EXPECT_EQ(d->run_id, *req.persistence.run_id_hint);
  EXPECT_EQ(d->available_at, clock_.now_ms() + 60'000);
  EXPECT_EQ(d->max_attempts, config_.default_max_attempts);
  EXPECT_EQ(d->priority, kDefaultPriority);

  auto unprepared = request_on("t1", {user("x")});
  auto missing = preparer_.build_dispatch(unprepared, 0);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Errc::internal);
}

}  // namespace
}  // namespace mbx
