// ExecAgent: /bin/sh agents speaking the line protocol, driven through a real Mailbox: events,
// messages and the result from stdout; exit 75 retried; exit 1 dead-lettered with the last
// stderr line; waiting; cancellation (SIGTERM, then SIGKILL after the grace) leaves no process;
// unstartable programs and protocol errors are permanent.
#include "agents/exec_agent.hpp"
#include "tests/agents/agents_test_support.hpp"

#include <boost/json/parse.hpp>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace mbx::testing {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

class ExecAgentTest : public AgentsFixture {
protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("mbx-exec-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    fds_before_ = open_fds();
  }
  void TearDown() override {
    AgentsFixture::TearDown();
    mailbox_.reset();
    EXPECT_EQ(open_fds(), fds_before_) << "an execution leaked file descriptors";
    fs::remove_all(dir_);
  }
  static std::size_t open_fds() {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator("/proc/self/fd")) ++n;
    return n;
  }
  // Registers agent "exec" running a /bin/sh script with OUT_DIR set to the test's folder.
  void agent(const std::string& body, std::chrono::milliseconds grace = 5'000ms) {
    const auto path = dir_ / "agent.sh";
    std::ofstream(path) << "#!/bin/sh\n" << body;
    fs::permissions(path, fs::perms::owner_all);
    ExecAgentConfig c;
    c.argv = {path.string(), "--flag"};
    c.env = {{"OUT_DIR", dir_.string()}};
    c.kill_grace = grace;
    ASSERT_TRUE(registry_.add("exec", std::make_shared<ExecAgent>(c)));
  }
  std::string read(const std::string& name) const {
    std::ifstream in(dir_ / name);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  bool exists(const std::string& name) const { return fs::exists(dir_ / name); }
  // The child recorded its pid; it must be gone (reaped: a zombie still answers kill 0).
  bool process_gone(const std::string& pid_file) const {
    const int pid = std::stoi(read(pid_file));
    return ::kill(pid, 0) != 0 && errno == ESRCH;
  }

  fs::path dir_;
  std::size_t fds_before_ = 0;
};

TEST_F(ExecAgentTest, EventsMessagesAndTheResultComeFromStdout) {
  agent(R"(cat > "$OUT_DIR/stdin.json"
echo "$1" > "$OUT_DIR/arg"
echo 'starting' >&2
echo '{"type":"text_delta","text":"hello "}'
echo ''
echo '{"type":"text_delta","text":"world"}'
echo '{"type":"message","message":{"role":"assistant","content":"hello world"}}'
printf '{"type":"result","response":"done","state":{"n":1}}'
)");
  start();
  auto s = mailbox_->submit(agent_request("t1", "exec", "hi"));
  ASSERT_TRUE(s) << describe(s.error());
  auto events = collect(s->events);
  EXPECT_EQ(deltas(events), (std::vector<std::string>{"hello ", "world"}));
  ASSERT_TRUE(eventually([&] { return run_done(store_, s->result.run_id); }));
  auto run = run_of(store_, s->result.run_id);
  EXPECT_EQ(run->termination_reason->kind, TerminationKind::natural_end);
  EXPECT_EQ(run->final_output, "done");
  ASSERT_TRUE(run->state);
  EXPECT_EQ(run->state->json, R"({"n":1})");
  auto h = history(store_, "t1");
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(h[1].content, "hello world");
  EXPECT_EQ(h[1].metadata.run_id, s->result.run_id);
  EXPECT_EQ(read("arg"), "--flag\n");
  boost::system::error_code ec;
  auto in = boost::json::parse(read("stdin.json"), ec);
  ASSERT_FALSE(ec) << read("stdin.json");
  EXPECT_EQ(in.at("run_id").as_string(), s->result.run_id);
  EXPECT_EQ(in.at("dispatch_id").as_string(), s->result.dispatch_id);
  EXPECT_EQ(in.at("attempt").as_int64(), 0);
  EXPECT_EQ(in.at("intent").at("thread_id").as_string(), "t1");
  EXPECT_EQ(in.at("messages").at(0).at("content").as_string(), "hi");
}

TEST_F(ExecAgentTest, ExitStatus75IsRetriedAndTheResponseDefaultsToTheText) {
  agent(R"(cat > /dev/null
if [ "$MBX_ATTEMPT" = 0 ]; then echo 'busy, later' >&2; exit 75; fi
echo '{"type":"text_delta","text":"second try"}'
)");
  start();
  auto s = mailbox_->submit_background(agent_request("t1", "exec", "hi"));
  ASSERT_TRUE(s);
  auto run = finished(*s, DispatchStatus::acked);
  EXPECT_EQ(run.final_output, "second try");
  EXPECT_EQ((*store_.load_dispatch(s->dispatch_id))->attempt_count, 1u);
}

TEST_F(ExecAgentTest, ExitStatus1IsDeadLetteredWithTheLastStderrLine) {
  agent(R"(echo 'first' >&2
echo 'it broke' >&2
exit 1
)");
  start();
  auto s = mailbox_->submit_background(agent_request("t1", "exec", "hi"));
  ASSERT_TRUE(s);
  auto run = finished(*s, DispatchStatus::dead_letter);
  EXPECT_EQ(run.termination_reason->detail, "it broke");
  EXPECT_EQ((*store_.load_dispatch(s->dispatch_id))->attempt_count, 0u);
}

TEST_F(ExecAgentTest, AWaitingLineSuspendsTheRun) {
  agent(R"(cat > /dev/null
echo '{"type":"tool_call_done","tool_call_id":"a1","tool_name":"deploy","outcome":"suspended"}'
echo '{"type":"waiting","waiting":{"reason":"tool_permission","ticket_ids":["t-a1"],"tickets":[{"ticket_id":"t-a1","tool_call_id":"a1","tool_name":"deploy"}]}}'
)");
  start();
  auto s = mailbox_->submit_background(agent_request("t1", "exec", "hi"));
  ASSERT_TRUE(s);
  ASSERT_TRUE(eventually([&] { return run_waiting(store_, s->run_id); }));
  auto run = run_of(store_, s->run_id);
  ASSERT_EQ(run->waiting->tickets.size(), 1u);
  EXPECT_EQ(run->waiting->tickets[0].tool_call_id, "a1");
}

TEST_F(ExecAgentTest, CancellationSendsSigtermAndTheRunEndsCancelled) {
  agent(R"(echo $$ > "$OUT_DIR/pid"
trap 'echo term > "$OUT_DIR/term"; exit 143' TERM
echo '{"type":"text_delta","text":"working"}'
while true; do sleep 0.05; done
)");
  start();
  auto s = mailbox_->submit(agent_request("t1", "exec", "hi"));
  ASSERT_TRUE(s) << describe(s.error());
  ASSERT_TRUE(eventually([&] {
    auto e = s->events.next(10ms);
    return e && *e && (*e)->type == AgentEventType::text_delta;
  }));
  const auto begin = std::chrono::steady_clock::now();
  ASSERT_TRUE(mailbox_->interrupt_thread("t1"));
  ASSERT_TRUE(eventually([&] { return run_done(store_, s->result.run_id); }, 5s));
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 3s);
  EXPECT_EQ(run_of(store_, s->result.run_id)->termination_reason->kind, TerminationKind::cancelled);
  EXPECT_TRUE(eventually([&] { return exists("term"); }, 2s));
  EXPECT_TRUE(eventually([&] { return process_gone("pid"); }, 2s));
}

TEST_F(ExecAgentTest, AChildIgnoringSigtermIsKilledAfterTheGrace) {
  agent(R"(echo $$ > "$OUT_DIR/pid"
trap '' TERM
echo '{"type":"text_delta","text":"stubborn"}'
while true; do sleep 0.05; done
)",
        300ms);
  start();
  auto s = mailbox_->submit(agent_request("t1", "exec", "hi"));
  ASSERT_TRUE(s) << describe(s.error());
  ASSERT_TRUE(eventually([&] {
    auto e = s->events.next(10ms);
    return e && *e && (*e)->type == AgentEventType::text_delta;
  }));
  ASSERT_TRUE(mailbox_->cancel_run(s->result.run_id));
  ASSERT_TRUE(eventually([&] { return run_done(store_, s->result.run_id); }, 5s));
  EXPECT_EQ(run_of(store_, s->result.run_id)->termination_reason->kind, TerminationKind::cancelled);
  EXPECT_TRUE(eventually([&] { return process_gone("pid"); }, 2s));
}

TEST_F(ExecAgentTest, AProgramThatCannotStartIsAPermanentError) {
  ExecAgentConfig c;
  c.argv = {(dir_ / "missing-agent").string()};
  ASSERT_TRUE(registry_.add("exec", std::make_shared<ExecAgent>(c)));
  ExecAgentConfig in_missing_dir;
  in_missing_dir.argv = {"/bin/sh", "-c", "exit 0"};
  in_missing_dir.working_dir = (dir_ / "no-such-dir").string();
  ASSERT_TRUE(registry_.add("exec-dir", std::make_shared<ExecAgent>(in_missing_dir)));
  start();
  auto s = mailbox_->submit_background(agent_request("t1", "exec", "hi"));
  auto d = mailbox_->submit_background(agent_request("t2", "exec-dir", "hi"));
  ASSERT_TRUE(s && d);
  EXPECT_EQ(finished(*s, DispatchStatus::dead_letter).termination_reason->detail,
            "exec agent: cannot start '" + (dir_ / "missing-agent").string() + "': No such file or directory");
  EXPECT_NE(finished(*d, DispatchStatus::dead_letter).termination_reason->detail.find("cannot start '/bin/sh' in"),
            std::string::npos);
}

TEST_F(ExecAgentTest, AProtocolErrorStopsTheChildAndFailsPermanently) {
  agent(R"(echo $$ > "$OUT_DIR/pid"
echo '{"type":"text_delta","text":"ok"}'
echo 'this is not json'
while true; do sleep 0.05; done
)");
  start();
  auto s = mailbox_->submit_background(agent_request("t1", "exec", "hi"));
  ASSERT_TRUE(s);
  auto run = finished(*s, DispatchStatus::dead_letter);
  EXPECT_EQ(run.termination_reason->detail.rfind("exec agent protocol error, stdout line 2: not valid JSON", 0), 0u)
      << run.termination_reason->detail;
  EXPECT_TRUE(eventually([&] { return process_gone("pid"); }, 2s));
}

// The Python example of docs/exec-agent.md, as documented: an echo, then a HITL round trip.
TEST_F(ExecAgentTest, TheDocumentedPythonExampleWorks) {
  if (std::system("python3 -c pass >/dev/null 2>&1") != 0) GTEST_SKIP() << "python3 not available";
  std::ifstream doc(fs::path(MBX_SOURCE_DIR) / "docs" / "exec-agent.md");
  std::stringstream text;
  text << doc.rdbuf();
  const std::string md = text.str();
  const auto begin = md.find("```python\n");
  ASSERT_NE(begin, std::string::npos);
  const auto end = md.find("```", begin + 10);
  ASSERT_NE(end, std::string::npos);
  std::ofstream(dir_ / "agent.py") << md.substr(begin + 10, end - begin - 10);
  ExecAgentConfig c;
  c.argv = {"python3", "agent.py"};
  c.working_dir = dir_.string();
  ASSERT_TRUE(registry_.add("py", std::make_shared<ExecAgent>(c)));
  start();
  auto echo = mailbox_->submit(agent_request("t1", "py", "hello there"));
  ASSERT_TRUE(echo) << describe(echo.error());
  EXPECT_EQ(deltas(collect(echo->events)), (std::vector<std::string>{"hello ", "there "}));
  ASSERT_TRUE(eventually([&] { return run_done(store_, echo->result.run_id); }));
  EXPECT_EQ(run_of(store_, echo->result.run_id)->final_output, "hello there");

  auto deploy = mailbox_->submit_background(agent_request("t2", "py", "deploy prod"));
  ASSERT_TRUE(deploy);
  ASSERT_TRUE(eventually([&] { return run_waiting(store_, deploy->run_id); }));
  auto resumed = mailbox_->decide(deploy->run_id, "deploy-1", ToolCallResume{ResumeAction::resume, {}, {}});
  ASSERT_TRUE(resumed) << describe(resumed.error());
  EXPECT_EQ(finished(*resumed, DispatchStatus::acked).final_output, "deployed");
  const auto committed = history(store_, "t2");  // the pointer below points into it
  const Message* result = tool_result(committed, "deploy-1");
  ASSERT_NE(result, nullptr);
  EXPECT_EQ(result->content, "approved");
}

}  // namespace
}  // namespace mbx::testing
