// ScriptedExecutor: the test agent. The first word of a run's first trigger message picks its
// behaviour (see execute()); every execution is recorded so tests can assert what ran, in which
// order, how often, and how many ran at once. Thread-safe.
#pragma once

#include "runtime/executor.hpp"

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace mbx::testing {

struct Execution {
  std::string run_id;
  std::string thread_id;
  std::string script;
  std::uint32_t attempt = 0;  // dispatch attempt_count at start
  bool resumed = false;       // carried seeded decisions
  std::thread::id os_thread;  // the engine thread that ran it
};

class ScriptedExecutor final : public Executor {
public:
  // Scripts:
  //   echo <text>         streams <text> as one delta, commits an assistant message, completes
  //   slow <ms> <text>    like echo after <ms> (cancellable)
  //   block               streams one delta and waits until cancelled (at most 30 s)
  //   tool-block          commits an assistant tool call "call-1", then blocks
  //   tool-block-once     tool-block on the first attempt, echo on the next ones
  //   approve             HITL: a tool call "approve-1" suspended for approval (waiting); resumed with
  //                       a decision it commits the tool result and completes
  //   transient           always a transient error
  //   permanent           a permanent error
  //   steer               waits (at most 5 s) for live input and echoes it
  //   throw               throws std::runtime_error
  //   history             answers "history <messages> v<version>" from RunContext::thread()
  ExecutionResult execute(RunContext& ctx) override;

  std::vector<Execution> executions() const;
  std::size_t count(const std::string& run_id) const;
  int max_concurrent() const { return max_concurrent_.load(); }
  int running() const { return running_.load(); }

private:
  ExecutionResult echo(RunContext& ctx, const std::string& text);

  mutable std::mutex mu_;
  std::vector<Execution> executions_;  // Guarded by mu_.
  std::atomic<int> running_{0};
  std::atomic<int> max_concurrent_{0};
};

}  // namespace mbx::testing
