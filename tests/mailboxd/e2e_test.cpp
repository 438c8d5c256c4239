// End to end: a real mailboxd on loopback, driven over HTTP like any client would: every route,
// SSE with Last-Event-ID resume, a HITL approval round trip, an interrupt of a streaming run,
// bad input and misbehaving clients, a second node on the same folder, SIGTERM.
#include "mailboxctl/http_client.hpp"
#include "tests/mailboxd/node_process.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

#include <thread>

namespace mbx::testing {
namespace {

namespace json = boost::json;
using client::HttpClient;
using client::SseEvent;

std::string body_with(const std::string& content, const std::string& agent, json::object extra = {}) {
  json::object o = std::move(extra);
  o["messages"] = json::array{json::object{{"role", "user"}, {"content", content}}};
  o["agent_id"] = agent;
  return json::serialize(o);
}

std::string script(json::array steps) { return json::serialize(json::object{{"script", std::move(steps)}}); }

json::value parse(const std::string& s) {
  boost::system::error_code ec;
  auto v = json::parse(s, ec);
  EXPECT_FALSE(ec) << s;
  return v;
}

class NodeE2eTest : public ::testing::Test {
protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("mbx-e2e-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    std::filesystem::remove_all(dir_);
    node_ = std::make_unique<NodeProcess>(dir_ / "data");
    std::filesystem::create_directories(dir_);
    ASSERT_TRUE(node_->start());
    http_ = std::make_unique<HttpClient>("127.0.0.1", node_->port(), std::chrono::seconds(20));
  }
  void TearDown() override {
    http_.reset();
    if (node_) {
      EXPECT_EQ(node_->stop(), 0) << "mailboxd did not exit 0 on SIGTERM";
    }
    std::filesystem::remove_all(dir_);
  }
  json::value get(const std::string& target, int expect = 200) {
    auto r = http_->request("GET", target);
    EXPECT_TRUE(r) << (r ? "" : r.error().message);
    if (!r) {
      return nullptr;
    }
    EXPECT_EQ(r->status, expect) << target << " -> " << r->body;
    return parse(r->body);
  }
  json::value post(const std::string& target, const std::string& body, int expect) {
    auto r = http_->request("POST", target, body);
    EXPECT_TRUE(r) << (r ? "" : r.error().message);
    if (!r) {
      return nullptr;
    }
    EXPECT_EQ(r->status, expect) << target << " -> " << r->body;
    return parse(r->body);
  }
  bool wait_run(const std::string& run_id, const std::string& status, int seconds = 15) {
    for (int i = 0; i < seconds * 50; ++i) {
      auto r = http_->request("GET", "/v1/runs/" + run_id);
      if (r && r->status == 200 && parse(r->body).at("status").as_string() == status) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }
  std::vector<SseEvent> stream(const std::string& method, const std::string& target, const std::string& body,
                               std::map<std::string, std::string> headers = {}, std::size_t stop_after = 0) {
    std::vector<SseEvent> events;
    HttpClient c("127.0.0.1", node_->port(), std::chrono::seconds(20));
    auto r = c.stream(method, target, body, headers, [&](const SseEvent& e) {
      events.push_back(e);
      return stop_after == 0 || events.size() < stop_after;
    });
    EXPECT_TRUE(r) << (r ? "" : r.error().message);
    if (r) {
      EXPECT_EQ(r->status, 200) << r->body;
    }
    return events;
  }

  static inline int counter_ = 0;
  std::filesystem::path dir_;
  std::unique_ptr<NodeProcess> node_;
  std::unique_ptr<HttpClient> http_;
};

TEST_F(NodeE2eTest, EveryRouteAnswers) {
  auto started = post("/v1/threads/t1/messages", body_with("hello node", "echo"), 201);
  const std::string run_id(started.at("run_id").as_string());
  const std::string dispatch_id(started.at("dispatch_id").as_string());
  ASSERT_TRUE(wait_run(run_id, "done"));
  EXPECT_EQ(get("/v1/runs/" + run_id).at("final_output").as_string(), "hello node");
  for (int i = 0; i < 500 && get("/v1/dispatches/" + dispatch_id).at("status").as_string() != "acked"; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));  // the ack is the run's last write
  EXPECT_EQ(get("/v1/dispatches/" + dispatch_id).at("status").as_string(), "acked");
  EXPECT_EQ(get("/v1/threads/t1/messages").at("messages").as_array().size(), 2u);
  EXPECT_EQ(get("/v1/threads/t1/runs").at("total").as_int64(), 1);
  EXPECT_EQ(get("/v1/threads/t1/runs/latest").at("run_id").as_string(), run_id);
  get("/v1/threads/t1/runs/active", 404);
  auto queued = post("/v1/threads/t1/mailbox", body_with("queued one", "echo"), 201);
  ASSERT_TRUE(wait_run(std::string(queued.at("run_id").as_string()), "done"));
  EXPECT_EQ(get("/v1/threads/t1/mailbox").at("total").as_int64(), 2);
  auto durable = post("/v1/messages/durable",
                      R"({"message_id":"m1","thread_id":"t2","sender_agent_id":"a","content":"mail","agent_id":"echo"})", 202);
  auto again = post("/v1/messages/durable",
                    R"({"message_id":"m1","thread_id":"t2","sender_agent_id":"a","content":"mail","agent_id":"echo"})", 202);
  EXPECT_EQ(durable.at("dispatch_id"), again.at("dispatch_id"));
  post("/v1/threads/t1/interrupt", "", 200);
  post("/v1/threads/t1/cancel", "", 404);
  EXPECT_EQ(get("/health").at("status").as_string(), "ok");
  EXPECT_EQ(get("/health/live").at("status").as_string(), "live");
  auto metrics = http_->request("GET", "/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("mailbox_runs_finished_total"), std::string::npos);
}

TEST_F(NodeE2eTest, SseStreamsAndResumesWithLastEventId) {
  json::array steps;
  for (int i = 0; i < 6; ++i) steps.push_back(json::object{{"text", "w" + std::to_string(i) + " "}, {"delay_ms", 60}});
  const auto first = stream("POST", "/v1/threads/s1/messages",
                            body_with(script(steps), "scripted", json::object{{"stream", true}}), {}, 3);
  ASSERT_EQ(first.size(), 3u);  // the client went away after three events
  const std::string run_id(parse(first[0].data).at("run_id").as_string());
  auto rest = stream("GET", "/v1/runs/" + run_id + "/events", "", {{"Last-Event-ID", first.back().id}});
  ASSERT_FALSE(rest.empty());
  EXPECT_EQ(std::stoul(rest.front().id), std::stoul(first.back().id) + 1);  // no gap, no duplicate
  for (std::size_t i = 1; i < rest.size(); ++i) EXPECT_EQ(std::stoul(rest[i].id), std::stoul(rest[i - 1].id) + 1);
  EXPECT_EQ(rest.back().event, "run_finish");
  std::string text;
  for (const auto& e : first)
    if (e.event == "text_delta") text += parse(e.data).at("text").as_string();
  for (const auto& e : rest)
    if (e.event == "text_delta") text += parse(e.data).at("text").as_string();
  EXPECT_EQ(text, "w0 w1 w2 w3 w4 w5 ");
  // A finished run replays in full.
  auto replay = stream("GET", "/v1/runs/" + run_id + "/events", "");
  EXPECT_EQ(replay.size(), first.size() + rest.size());
}

TEST_F(NodeE2eTest, HitlApprovalRoundTrip) {
  json::array steps{json::object{{"text", "checking "}},
                    json::object{{"approval", json::object{{"id", "a1"}, {"name", "deploy"}}}},
                    json::object{{"text", "deployed"}}};
  auto started = post("/v1/threads/h1/messages", body_with(script(steps), "scripted"), 201);
  const std::string run_id(started.at("run_id").as_string());
  ASSERT_TRUE(wait_run(run_id, "waiting"));
  auto run = get("/v1/runs/" + run_id);
  EXPECT_EQ(run.at("waiting").at("tickets").at(0).at("tool_call_id").as_string(), "a1");
  auto decided = post("/v1/runs/" + run_id + "/decision", R"({"tool_call_id":"a1","action":"resume"})", 202);
  EXPECT_EQ(decided.at("run_id").as_string(), run_id);
  ASSERT_TRUE(wait_run(run_id, "done"));
  EXPECT_EQ(get("/v1/runs/" + run_id).at("final_output").as_string(), "checking deployed");
}

TEST_F(NodeE2eTest, AForegroundSubmitInterruptsAStreamingRun) {
  json::array slow;
  for (int i = 0; i < 50; ++i) slow.push_back(json::object{{"text", "x "}, {"delay_ms", 100}});
  std::vector<SseEvent> old_events;
  std::thread streamer([&] {
    old_events = stream("POST", "/v1/threads/i1/messages", body_with(script(slow), "scripted", json::object{{"stream", true}}));
  });
  for (int i = 0; i < 500; ++i) {
    auto a = http_->request("GET", "/v1/threads/i1/runs/active");
    if (a && a->status == 200 && parse(a->body).at("status").as_string() == "running") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  auto newer = stream("POST", "/v1/threads/i1/messages", body_with("new question", "echo", json::object{{"stream", true}}));
  streamer.join();
  ASSERT_FALSE(old_events.empty());
  EXPECT_EQ(old_events.back().event, "run_finish");
  EXPECT_EQ(parse(old_events.back().data).at("termination").at("kind").as_string(), "cancelled");
  ASSERT_FALSE(newer.empty());
  EXPECT_EQ(parse(newer.back().data).at("termination").at("kind").as_string(), "natural_end");
}

TEST_F(NodeE2eTest, EventsReachTheClientWhileTheRunIsStillRunning) {
  // One short event, then a long pause: the client must see the event before the run ends
  // (an event held back in a read buffer until the reply ends would arrive with the finish).
  json::array script_steps{json::object{{"text", "early "}}, json::object{{"text", "late"}, {"delay_ms", 5000}}};
  HttpClient c("127.0.0.1", node_->port(), std::chrono::seconds(20));
  std::string seen_status;
  std::string run_id;
  auto r = c.stream("POST", "/v1/threads/live1/messages",
                    body_with(script(script_steps), "scripted", json::object{{"stream", true}}), {},
                    [&](const SseEvent& e) {
                      if (e.event == "run_start") run_id = std::string(parse(e.data).at("run_id").as_string());
                      if (e.event != "text_delta") return true;
                      auto run = http_->request("GET", "/v1/runs/" + run_id);
                      if (run && run->status == 200) seen_status = std::string(parse(run->body).at("status").as_string());
                      return false;  // stop reading: the point is made
                    });
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(seen_status, "running");
  ASSERT_FALSE(run_id.empty());
  post("/v1/runs/" + run_id + "/cancel", "", 200);
}

TEST_F(NodeE2eTest, RunInputsSteerALiveRunAndRunCancelStopsOne) {
  json::array waits{json::object{{"sleep_ms", 20000}}};
  // A run that sleeps until cancelled: cancelled through its run route.
  auto slow = post("/v1/threads/c1/messages", body_with(script(waits), "scripted"), 201);
  const std::string slow_id(slow.at("run_id").as_string());
  ASSERT_TRUE(wait_run(slow_id, "running"));
  auto cancelled = post("/v1/runs/" + slow_id + "/cancel", "", 200);
  EXPECT_EQ(cancelled.at("cancelled_run_id").as_string(), slow_id);
  ASSERT_TRUE(wait_run(slow_id, "done"));
  EXPECT_EQ(get("/v1/runs/" + slow_id).at("termination_reason").at("kind").as_string(), "cancelled");
  // Input for a run that is not running any more is queued as a new run.
  // (The new run keeps the thread's agent, scripted, so the input is a script.)
  auto later = post("/v1/runs/" + slow_id + "/inputs",
                    body_with(script(json::array{json::object{{"text", "after the cancel"}}}), "scripted"), 202);
  EXPECT_FALSE(later.at("delivered_live").as_bool());
  const std::string later_id(later.at("run_id").as_string());
  ASSERT_TRUE(wait_run(later_id, "done"));
  EXPECT_EQ(get("/v1/runs/" + later_id).at("final_output").as_string(), "after the cancel");
  post("/v1/runs/no-such-run/inputs", body_with("x", "echo"), 404);
  post("/v1/runs/no-such-run/cancel", "", 404);
}

TEST_F(NodeE2eTest, BadInputAndBadClientsNeverStopTheNode) {
  struct Case {
    std::string method, target, body;
    int status;
  };
  for (const auto& c : std::vector<Case>{{"POST", "/v1/threads/b/messages", "{oops", 400},
                                         {"POST", "/v1/threads/b/messages", R"({"messages":7})", 400},
                                         {"GET", "/v1/unknown", "", 404},
                                         {"PUT", "/v1/threads/b/messages", "", 405},
                                         {"GET", "/v1/runs/none", "", 404},
                                         {"POST", "/v1/threads/b/messages", std::string(2 << 20, 'x'), 413}}) {
    HttpClient fresh("127.0.0.1", node_->port());
    auto r = fresh.request(c.method, c.target, c.body);
    ASSERT_TRUE(r) << c.target << ": " << r.error().message;
    EXPECT_EQ(r->status, c.status) << c.method << " " << c.target << " -> " << r->body;
    EXPECT_NE(r->body.find("\"error\""), std::string::npos);
  }
  // A client that connects and says nothing, one that sends half a request, one that sends garbage.
  namespace asio = boost::asio;
  asio::io_context io;
  asio::ip::tcp::socket silent(io), half(io), garbage(io);
  const asio::ip::tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), node_->port());
  silent.connect(ep);
  half.connect(ep);
  garbage.connect(ep);
  asio::write(half, asio::buffer(std::string("POST /v1/threads/b/messages HTTP/1.1\r\nContent-Length: 100\r\n\r\n{")));
  half.shutdown(asio::ip::tcp::socket::shutdown_send);
  asio::write(garbage, asio::buffer(std::string("\x01\x02 not http at all\r\n\r\n")));
  // Everyone else is still served.
  auto ok = post("/v1/threads/b/messages", body_with("still here", "echo"), 201);
  EXPECT_TRUE(wait_run(std::string(ok.at("run_id").as_string()), "done"));
}

TEST_F(NodeE2eTest, ASecondNodeOnTheSameFolderRefusesToStart) {
  NodeProcess second(dir_ / "data");
  EXPECT_FALSE(second.start({}, /*expect_up=*/false));
  std::ifstream log(second.log_path());
  std::stringstream text;
  text << log.rdbuf();
  EXPECT_NE(text.str().find("is in use by another mailboxd"), std::string::npos) << text.str();
}

}  // namespace
}  // namespace mbx::testing
