// The node's HTTP API, route by route, in process (no sockets): JSON in, JSON out, the
// status codes, SSE replies, and bad input answered with 4xx JSON errors.
#include "mailboxd/api.hpp"
#include "tests/runtime/mailbox_test_support.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace mbx::testing {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

class ApiTest : public MailboxFixture {
protected:
  void SetUp() override {
    start();
    api_ = std::make_unique<node::Api>(*mailbox_);
  }
  node::Reply call(const std::string& method, const std::string& target, const std::string& body = "",
                   std::map<std::string, std::string> headers = {}) {
    node::HttpRequest r;
    r.method = method;
    const auto q = target.find('?');
    r.path = target.substr(0, q);
    if (q != std::string::npos) {
      EXPECT_TRUE(node::parse_query(target.substr(q + 1), &r.query));
    }
    r.headers = std::move(headers);
    r.body = body;
    return api_->handle(r);
  }
  json::value body_of(const node::Reply& r) {
    boost::system::error_code ec;
    auto v = json::parse(r.response.body, ec);
    EXPECT_FALSE(ec) << r.response.body;
    return v;
  }
  std::string error_code(const node::Reply& r) { return std::string(body_of(r).at("error").at("code").as_string()); }
  json::value post_ok(const std::string& target, const std::string& body, int status) {
    auto r = call("POST", target, body);
    EXPECT_EQ(r.response.status, status) << r.response.body;
    return body_of(r);
  }
  std::unique_ptr<node::Api> api_;
};

std::string user(const std::string& text) {
  return json::serialize(json::object{{"messages", json::array{json::object{{"role", "user"}, {"content", text}}}}});
}

TEST_F(ApiTest, PostMessagesStartsAForegroundRunAndRunsCanBeRead) {
  auto v = post_ok("/v1/threads/t1/messages", user("echo hi"), 201);
  const std::string run_id(v.at("run_id").as_string());
  EXPECT_EQ(v.at("status").as_string(), "running");
  EXPECT_EQ(v.at("thread_id").as_string(), "t1");
  ASSERT_TRUE(eventually([&] { return run_done(store_, run_id); }));
  auto run = call("GET", "/v1/runs/" + run_id);
  EXPECT_EQ(run.response.status, 200);
  EXPECT_EQ(body_of(run).at("status").as_string(), "done");
  auto runs = call("GET", "/v1/threads/t1/runs");
  EXPECT_EQ(body_of(runs).at("total").as_int64(), 1);
  EXPECT_EQ(call("GET", "/v1/threads/t1/runs/latest").response.status, 200);
  EXPECT_EQ(call("GET", "/v1/threads/t1/runs/active").response.status, 404);
  const std::string dispatch_target = "/v1/dispatches/" + std::string(v.at("dispatch_id").as_string());
  EXPECT_TRUE(eventually([&] { return body_of(call("GET", dispatch_target)).at("status").as_string() == "acked"; }));
}

TEST_F(ApiTest, StreamTrueAnswersWithTheRunsEvents) {
  auto body = json::parse(user("echo streamed")).as_object();
  body["stream"] = true;
  auto r = call("POST", "/v1/threads/t1/messages", json::serialize(body));
  ASSERT_TRUE(r.events);
  auto events = collect(*r.events);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().type, AgentEventType::run_finish);
}

TEST_F(ApiTest, MailboxQueuesAndListsNewestFirst) {
  auto first = post_ok("/v1/threads/t1/mailbox", user("echo a"), 201);
  ASSERT_TRUE(eventually([&] { return run_done(store_, std::string(first.at("run_id").as_string())); }));
  post_ok("/v1/threads/t1/mailbox", user("echo b"), 201);
  auto list = call("GET", "/v1/threads/t1/mailbox?limit=1");
  ASSERT_EQ(list.response.status, 200);
  auto v = body_of(list);
  EXPECT_EQ(v.at("total").as_int64(), 2);
  ASSERT_EQ(v.at("dispatches").as_array().size(), 1u);
  EXPECT_NE(v.at("dispatches").at(0).at("dispatch_id"), first.at("dispatch_id"));  // newest first
}

TEST_F(ApiTest, MessagesArePagedBySeq) {
  auto v = post_ok("/v1/threads/t1/messages", user("echo one"), 201);
  ASSERT_TRUE(eventually([&] { return run_done(store_, std::string(v.at("run_id").as_string())); }));
  auto page = body_of(call("GET", "/v1/threads/t1/messages?from_seq=2&limit=5"));
  ASSERT_EQ(page.at("messages").as_array().size(), 1u);
  EXPECT_EQ(page.at("messages").at(0).at("seq").as_int64(), 2);
  EXPECT_EQ(page.at("next_seq").as_int64(), 3);
  auto empty = body_of(call("GET", "/v1/threads/t1/messages?from_seq=9"));
  EXPECT_TRUE(empty.at("next_seq").is_null());
}

TEST_F(ApiTest, InterruptAndCancelStopTheActiveRun) {
  auto v = post_ok("/v1/threads/t1/messages", user("block"), 201);
  const std::string run_id(v.at("run_id").as_string());
  ASSERT_TRUE(eventually([&] { return call("GET", "/v1/threads/t1/runs/active").response.status == 200; }));
  auto cancelled = call("POST", "/v1/threads/t1/cancel");
  EXPECT_EQ(cancelled.response.status, 200) << cancelled.response.body;
  EXPECT_TRUE(run_done(store_, run_id));
  EXPECT_EQ(call("POST", "/v1/threads/t1/cancel").response.status, 404);
  auto again = post_ok("/v1/threads/t1/messages", user("block"), 201);
  auto interrupted = body_of(call("POST", "/v1/threads/t1/interrupt"));
  EXPECT_EQ(interrupted.at("cancelled_run_id"), again.at("run_id"));
  auto by_run = post_ok("/v1/threads/t2/messages", user("block"), 201);
  auto r = call("POST", "/v1/runs/" + std::string(by_run.at("run_id").as_string()) + "/cancel");
  EXPECT_EQ(r.response.status, 200) << r.response.body;
}

TEST_F(ApiTest, EventsReplayAfterLastEventId) {
  auto v = post_ok("/v1/threads/t1/messages", user("echo replay me"), 201);
  const std::string run_id(v.at("run_id").as_string());
  ASSERT_TRUE(eventually([&] { return run_done(store_, run_id); }));
  auto all = call("GET", "/v1/runs/" + run_id + "/events");
  ASSERT_TRUE(all.events);
  auto every = collect(*all.events);
  ASSERT_GE(every.size(), 3u);
  auto rest = call("GET", "/v1/runs/" + run_id + "/events", "", {{"last-event-id", "1"}});
  ASSERT_TRUE(rest.events);
  auto after = collect(*rest.events);
  ASSERT_EQ(after.size(), every.size() - 1);
  EXPECT_EQ(after.front().seq, 2u);
  EXPECT_EQ(call("GET", "/v1/runs/" + run_id + "/events", "", {{"last-event-id", "x"}}).response.status, 400);
  EXPECT_EQ(call("GET", "/v1/runs/nope/events").response.status, 404);
}

TEST_F(ApiTest, DecisionResumesAWaitingRun) {
  auto v = post_ok("/v1/threads/t1/messages", user("approve"), 201);
  const std::string run_id(v.at("run_id").as_string());
  ASSERT_TRUE(eventually([&] { return run_of(store_, run_id)->status == RunStatus::waiting; }));
  auto bad = call("POST", "/v1/runs/" + run_id + "/decision", R"({"tool_call_id":"approve-1","action":"maybe"})");
  EXPECT_EQ(bad.response.status, 400);
  auto d = post_ok("/v1/runs/" + run_id + "/decision", R"({"tool_call_id":"approve-1","action":"resume","result":{"ok":true}})", 202);
  EXPECT_EQ(d.at("run_id").as_string(), run_id);
  ASSERT_TRUE(eventually([&] { return run_done(store_, run_id); }));
  // resume_open_run needs a waiting run
  auto none = call("POST", "/v1/threads/t1/messages", R"({"messages":[{"role":"user","content":"x"}],"mode":"resume_open_run"})");
  EXPECT_EQ(none.response.status, 409);
}

TEST_F(ApiTest, InputsSteerTheRunOrQueue) {
  auto v = post_ok("/v1/threads/t1/messages", user("steer"), 201);
  const std::string run_id(v.at("run_id").as_string());
  ASSERT_TRUE(eventually([&] { return executor_.running() == 1; }));
  auto in = post_ok("/v1/runs/" + run_id + "/inputs", user("go left"), 202);
  EXPECT_TRUE(in.at("delivered_live").as_bool());
  ASSERT_TRUE(eventually([&] { return run_done(store_, run_id); }));
  EXPECT_EQ(run_of(store_, run_id)->final_output, "steered: go left");
}

TEST_F(ApiTest, DurableMessagesAreIdempotent) {
  const std::string body = R"({"message_id":"m-1","thread_id":"t9","sender_agent_id":"a","content":"echo mail"})";
  auto a = post_ok("/v1/messages/durable", body, 202);
  auto b = post_ok("/v1/messages/durable", body, 202);
  EXPECT_EQ(a.at("dispatch_id"), b.at("dispatch_id"));
  EXPECT_EQ(call("POST", "/v1/messages/durable", R"({"thread_id":"t9"})").response.status, 400);
}

TEST_F(ApiTest, IdempotencyKeyHeaderReplays) {
  auto r1 = call("POST", "/v1/threads/t1/mailbox", user("echo once"), {{"idempotency-key", "k1"}});
  auto r2 = call("POST", "/v1/threads/t1/mailbox", user("echo once"), {{"idempotency-key", "k1"}});
  EXPECT_EQ(body_of(r1).at("run_id"), body_of(r2).at("run_id"));
  EXPECT_TRUE(body_of(r2).at("replayed").as_bool());
  auto r3 = call("POST", "/v1/threads/t1/mailbox", user("echo other"), {{"idempotency-key", "k1"}});
  EXPECT_EQ(r3.response.status, 409);
}

TEST_F(ApiTest, HealthAndMetrics) {
  EXPECT_EQ(call("GET", "/health").response.status, 200);
  EXPECT_EQ(call("GET", "/health/live").response.status, 200);
  auto m = call("GET", "/metrics");
  EXPECT_EQ(m.response.status, 200);
  EXPECT_NE(m.response.body.find("mailbox_active_runs"), std::string::npos);
  EXPECT_EQ(call("POST", "/metrics").response.status, 405);
}

TEST_F(ApiTest, BadInputIsA4xxJsonError) {
  struct Case {
    std::string method, target, body;
    int status;
    std::string code;
  };
  const std::vector<Case> cases = {
      {"POST", "/v1/threads/t1/messages", "{not json", 400, "validation"},
      {"POST", "/v1/threads/t1/messages", "[1,2]", 400, "validation"},
      {"POST", "/v1/threads/t1/messages", R"({"messages":"hi"})", 400, "validation"},
      {"POST", "/v1/threads/t1/messages", R"({"messages":[{"role":"wizard","content":"x"}]})", 400, "validation"},
      {"POST", "/v1/threads/t1/messages", R"({"messages":[]})", 400, "validation"},
      {"POST", "/v1/threads/t1/messages", R"({})", 400, "validation"},
      {"POST", "/v1/threads/t1/messages", R"({"messages":[{"role":"user","content":"x"}],"mode":"later"})", 400,
       "validation"},
      {"POST", "/v1/threads/t1/messages", R"({"messages":[{"role":"user","content":"x"}],"stream":"yes"})", 400,
       "validation"},
      {"POST", "/v1/threads/%20/messages", user("x"), 400, "validation"},
      {"GET", "/v1/threads/t1/messages?limit=abc", "", 400, "validation"},
      {"GET", "/v1/threads/t1/mailbox?limit=100000", "", 400, "validation"},
      {"GET", "/v1/threads/%zz/messages", "", 400, "validation"},
      {"GET", "/v1/nothing", "", 404, "not_found"},
      {"GET", "/", "", 404, "not_found"},
      {"DELETE", "/v1/threads/t1/messages", "", 405, "method_not_allowed"},
      {"GET", "/v1/threads/t1/interrupt", "", 405, "method_not_allowed"},
      {"GET", "/v1/runs/unknown", "", 404, "not_found"},
      {"GET", "/v1/dispatches/unknown", "", 404, "not_found"},
      {"POST", "/v1/runs/unknown/decision", R"({"tool_call_id":"c"})", 404, "not_found"},
      {"POST", "/v1/runs/unknown/decision", R"({})", 400, "validation"},
      {"POST", "/v1/runs/unknown/cancel", "", 404, "not_found"},
  };
  for (const auto& c : cases) {
    auto r = call(c.method, c.target, c.body);
    EXPECT_EQ(r.response.status, c.status) << c.method << " " << c.target << " " << c.body << " -> " << r.response.body;
    EXPECT_EQ(error_code(r), c.code) << c.target;
  }
}

}  // namespace
}  // namespace mbx::testing
