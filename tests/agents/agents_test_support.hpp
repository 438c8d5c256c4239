// Shared pieces of the built-in agent tests: a Mailbox on a MemoryStore running an
// AgentRegistry, request builders naming the agent, and history/event queries. The engine runs
// on its own threads; tests observe it through the store and event streams.
#pragma once

#include "agents/agent_registry.hpp"
#include "tests/runtime/mailbox_test_support.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace mbx::testing {

inline RunActivation agent_request(const std::string& thread_id, const std::string& agent_id,
                                   const std::string& text) {
  RunActivation r = request(thread_id, text);
  r.intent.agent_id = agent_id;
  return r;
}

inline std::vector<std::string> deltas(const std::vector<AgentEvent>& events) {
  std::vector<std::string> out;
  for (const auto& e : events)
    if (e.type == AgentEventType::text_delta) out.push_back(e.text);
  return out;
}

inline std::vector<AgentEventType> types(const std::vector<AgentEvent>& events) {
  std::vector<AgentEventType> out;
  for (const auto& e : events) out.push_back(e.type);
  return out;
}

inline std::vector<Message> history(Store& store, const std::string& thread_id) {
  std::vector<Message> out;
  auto records = store.load_committed_messages(thread_id, 1, 0);
  EXPECT_TRUE(records);
  if (records)
    for (auto& r : *records) out.push_back(std::move(r.message));
  return out;
}

inline std::size_t count_tool_calls(const std::vector<Message>& messages, const std::string& call_id) {
  std::size_t n = 0;
  for (const auto& m : messages)
    for (const auto& c : m.tool_calls) n += c.id == call_id ? 1 : 0;
  return n;
}

inline const Message* tool_result(const std::vector<Message>& messages, const std::string& call_id) {
  for (const auto& m : messages)
    if (m.role == Role::tool && m.tool_call_id == call_id) return &m;
  return nullptr;
}

inline bool run_waiting(Store& store, const std::string& run_id) {
  auto r = run_of(store, run_id);
  return r && r->status == RunStatus::waiting;
}

class AgentsFixture : public ::testing::Test {
protected:
  void start(MailboxConfig config = fast_config()) {
    auto m = Mailbox::start(store_, registry_, std::move(config));
    ASSERT_TRUE(m) << describe(m.error());
    mailbox_ = std::move(*m);
  }
  void TearDown() override {
    if (mailbox_) mailbox_->stop();
    auto problems = store_.verify();
    ASSERT_TRUE(problems);
    EXPECT_TRUE(problems->empty()) << problems->front();
  }
  // Waits until the dispatch is terminal and returns the run.
  RunRecord finished(const SubmitResult& s, DispatchStatus expected) {
    EXPECT_TRUE(eventually([&] { return status_of(store_, s.dispatch_id) == expected; }))
        << "dispatch " << s.dispatch_id << " never reached the expected status";
    EXPECT_TRUE(eventually([&] {
      auto r = run_of(store_, s.run_id);
      return r && r->status != RunStatus::running && r->status != RunStatus::created;
    }));
    return run_of(store_, s.run_id).value_or(RunRecord{});
  }

  MemoryStore store_;
  AgentRegistry registry_;
  std::unique_ptr<Mailbox> mailbox_;
};

}  // namespace mbx::testing
