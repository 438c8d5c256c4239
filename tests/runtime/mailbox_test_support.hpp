// Shared pieces of the engine scenario tests: a fast config, request builders, and polling
// waits (the engine runs on its own threads; tests observe it through the store and streams).
#pragma once

#include "runtime/mailbox.hpp"
#include "store/memory/memory_store.hpp"
#include "tests/runtime/scripted_executor.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <thread>

namespace mbx::testing {

inline MailboxConfig fast_config() {
  MailboxConfig c;
  c.consumer_id = "test-node";
  c.lease_ms = 2'000;
  c.lease_renewal_interval_ms = 100;
  c.sweep_interval_ms = 100;
  c.gc_interval_ms = 1'000;
  c.default_retry_delay_ms = 10;
  c.max_retry_delay_ms = 50;
  c.inline_claim_guard_ms = 300;
  c.cancel_wait_ms = 5'000;
  c.shutdown_wait_ms = 5'000;
  c.io_threads = 2;
  c.run_threads = 16;
  return c;
}

inline RunActivation request(const std::string& thread_id, const std::string& text) {
  RunActivation r;
  r.intent.thread_id = thread_id;
  Message m;
  m.role = Role::user;
  m.content = text;
  r.messages.push_back(std::move(m));
  return r;
}

// Polls `pred` every 2 ms until it holds or `timeout` passes.
inline bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return pred();
}

inline std::optional<DispatchStatus> status_of(Store& store, const std::string& dispatch_id) {
  auto d = store.load_dispatch(dispatch_id);
  if (!d || !*d) return std::nullopt;
  return (*d)->status;
}

inline std::optional<RunRecord> run_of(Store& store, const std::string& run_id) {
  auto r = store.load_run(run_id);
  if (!r || !*r) return std::nullopt;
  return **r;
}

inline bool run_done(Store& store, const std::string& run_id) {
  auto r = run_of(store, run_id);
  return r && r->status == RunStatus::done;
}

inline bool history_has_tool_call(Store& store, const std::string& thread_id, const std::string& call_id) {
  auto history = store.load_committed_messages(thread_id, 1, 0);
  if (!history) return false;
  for (const auto& r : *history)
    for (const auto& c : r.message.tool_calls)
      if (c.id == call_id) return true;
  return false;
}

inline std::vector<AgentEvent> collect(EventStream& s, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  auto r = s.collect(timeout);
  EXPECT_TRUE(r) << (r ? "" : describe(r.error()));
  return r ? *r : std::vector<AgentEvent>{};
}

class MailboxFixture : public ::testing::Test {
protected:
  void start(MailboxConfig config = fast_config(), Store* store = nullptr) {
    auto m = Mailbox::start(store != nullptr ? *store : store_, executor_, std::move(config));
    ASSERT_TRUE(m) << describe(m.error());
    mailbox_ = std::move(*m);
  }
  // One background "echo x" run on each of threads prefix0..prefix(n-1), all finished.
  void run_one_on_each(const std::string& prefix, int n) {
    std::vector<std::string> runs;
    for (int i = 0; i < n; ++i) {
      auto r = mailbox_->submit_background(request(prefix + std::to_string(i), "echo x"));
      ASSERT_TRUE(r) << describe(r.error());
      runs.push_back(r->run_id);
    }
    for (const auto& r : runs) ASSERT_TRUE(eventually([&] { return run_done(store_, r); })) << r;
  }
  void TearDown() override {
    if (mailbox_) mailbox_->stop();
    auto problems = store_.verify();
    ASSERT_TRUE(problems);
    EXPECT_TRUE(problems->empty()) << problems->front();
  }

  MemoryStore store_;
  ScriptedExecutor executor_;
  std::unique_ptr<Mailbox> mailbox_;
};

}  // namespace mbx::testing
