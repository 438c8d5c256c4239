// kill -9 of mailboxd in the middle of streaming and queued runs, then a restart on the same
// folder: every accepted submission completes (or is dead-lettered by the retry policy), none
// twice beyond what the lease rules allow, the history is intact, and the store verifies clean.
#include "mailboxctl/http_client.hpp"
#include "store/rocksdb/rocksdb_store.hpp"
#include "tests/mailboxd/node_process.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <map>
#include <set>
#include <thread>

namespace mbx::testing {
namespace {

namespace json = boost::json;
using client::HttpClient;

json::value parse(const std::string& s) {
  boost::system::error_code ec;
  auto v = json::parse(s, ec);
  return ec ? json::value(nullptr) : v;
}

std::string scripted_body(const std::string& tag, int steps, int delay_ms, bool stream) {
  json::array script;
  for (int i = 0; i < steps; ++i) script.push_back(json::object{{"text", tag + "." + std::to_string(i) + " "}, {"delay_ms", delay_ms}});
  json::object body{{"messages", json::array{json::object{{"role", "user"},
                                                          {"content", json::serialize(json::object{{"script", script}})}}}},
                    {"agent_id", "scripted"}};
  if (stream) body["stream"] = true;
  return json::serialize(body);
}

TEST(NodeCrashTest, KillNineMidRunAndRestartCompletesEveryAcceptedSubmission) {
  const auto dir = std::filesystem::temp_directory_path() / ("mbx-crash-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const auto data = dir / "data";
  struct Accepted {
    std::string run_id;
    std::string thread_id;
  };
  std::vector<Accepted> accepted;
  std::mutex mu;
  for (int round = 0; round < 3; ++round) {
    NodeProcess node(data);
    ASSERT_TRUE(node.start());
    HttpClient http("127.0.0.1", node.port());
    // Streaming foreground runs, each on its own thread, cut by the kill.
    std::vector<std::thread> streamers;
    for (int s = 0; s < 2; ++s)
      streamers.emplace_back([&, s] {
        HttpClient c("127.0.0.1", node.port());
        const std::string thread_id = "stream-" + std::to_string(round) + "-" + std::to_string(s);
        std::ignore = c.stream("POST", "/v1/threads/" + thread_id + "/messages",
                               scripted_body("s" + std::to_string(s), 20, 50, true), {},
                               [&](const client::SseEvent& e) {
                                 auto v = parse(e.data);
                                 if (e.event == "run_start") {
                                   std::lock_guard<std::mutex> lock(mu);
                                   accepted.push_back({std::string(v.at("run_id").as_string()), thread_id});
                                 }
                                 return true;
                               });  // broken by the kill
      });
    // Queued background runs on a few threads.
    for (int i = 0; i < 12; ++i) {
      const std::string thread_id = "queue-" + std::to_string(i % 4);
      auto r = http.request("POST", "/v1/threads/" + thread_id + "/mailbox",
                            scripted_body("q" + std::to_string(round) + "-" + std::to_string(i), 3, 40, false));
      ASSERT_TRUE(r) << r.error().message;
      ASSERT_TRUE(r->status == 201 || r->status == 202) << r->body;
      std::lock_guard<std::mutex> lock(mu);
      accepted.push_back({std::string(parse(r->body).at("run_id").as_string()), thread_id});
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    node.kill_now();  // SIGKILL mid-stream, with queued and running work
    for (auto& t : streamers) t.join();
  }

  // Restart on the same folder: recovery releases this node's claims, the queue drains.
  NodeProcess node(data);
  ASSERT_TRUE(node.start());
  HttpClient http("127.0.0.1", node.port());
  for (const auto& a : accepted) {
    bool done = false;
    for (int i = 0; i < 1500 && !done; ++i) {  // 30 s
      auto r = http.request("GET", "/v1/runs/" + a.run_id);
      ASSERT_TRUE(r) << r.error().message;
      done = r->status == 200 && parse(r->body).at("status").as_string() == "done";
      if (!done) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ASSERT_TRUE(done) << "run " << a.run_id << " on " << a.thread_id << " never finished";
    // The run is Done a moment before its dispatch is acked (the ack is the last write).
    auto run = parse(http.request("GET", "/v1/runs/" + a.run_id)->body);
    const std::string dispatch_target = "/v1/dispatches/" + std::string(run.at("dispatch_id").as_string());
    json::value d;
    std::string status;
    for (int i = 0; i < 500; ++i) {
      d = parse(http.request("GET", dispatch_target)->body);
      status = std::string(d.at("status").as_string());
      if (status != "claimed") break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_TRUE(status == "acked" || status == "dead_letter") << a.run_id << ": " << status;
    // Each crash costs at most one attempt; a run survives at most the three kills.
    EXPECT_LE(d.at("attempt_count").as_int64(), 3) << a.run_id;
  }
  // History: every user message once; at most one answer per run.
  std::set<std::string> threads;
  for (const auto& a : accepted) threads.insert(a.thread_id);
  for (const auto& t : threads) {
    auto page = parse(http.request("GET", "/v1/threads/" + t + "/messages?limit=1000")->body);
    std::set<std::string> ids;
    std::map<std::string, int> answers;
    std::uint64_t expected_seq = 1;
    for (const auto& rec : page.at("messages").as_array()) {
      EXPECT_EQ(rec.at("seq").as_int64(), static_cast<std::int64_t>(expected_seq++)) << t;  // no gap
      const auto& m = rec.at("message").as_object();
      EXPECT_TRUE(ids.insert(std::string(m.at("id").as_string())).second) << "duplicate message in " << t;
      if (m.at("role").as_string() == "assistant" && m.at("metadata").as_object().contains("run_id"))
        ++answers[std::string(m.at("metadata").at("run_id").as_string())];
    }
    for (const auto& [run, n] : answers) EXPECT_EQ(n, 1) << "run " << run << " answered " << n << " times";
  }
  EXPECT_EQ(node.stop(), 0);
  // fsck: the store's own cross-check on the stopped node's folder.
  auto store = RocksdbStore::open(RocksdbOptions{data.string()});
  ASSERT_TRUE(store) << describe(store.error());
  auto problems = (*store)->verify();
  ASSERT_TRUE(problems);
  EXPECT_TRUE(problems->empty()) << problems->front();
  store->reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace mbx::testing
