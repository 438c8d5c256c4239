// ExecAgent: runs an agent written in any language as a child process, one process per
// execution (per attempt) of a run. The protocol (docs/exec-agent.md):
//   stdin   one JSON object: the activation (to_json(RunActivation)) plus "run_id",
//           "thread_id", "agent_id", "dispatch_id", "attempt" (the dispatch's attempt_count,
//           0 on the first attempt) and "state" (the run's inherited agent state, if any),
//           followed by "\n"; then stdin is closed.
//   stdout  JSON lines, one object each:
//             an AgentEvent ({"type": "text_delta", "text": "hi"}): emitted to the run's stream
//             (run_start, run_finish and error are the engine's and are refused);
//             {"type": "message", "message": {Message}}: committed to the thread history;
//             {"type": "result", "response": "...", "state": any}: the run's answer (default:
//             the text of its text_delta events) and new agent state;
//             {"type": "waiting", "waiting": {RunWaitingState}}: the run suspends (HITL).
//           A line that is not one of these is a protocol error: the child is stopped and the
//           run fails permanently.
//   stderr  logged line by line (spdlog, info); its last line is the error message.
//   exit    0 = completed (or waiting), 75 (EX_TEMPFAIL) = transient error (retried), anything
//           else or a signal = permanent error. A program that cannot be started is a permanent
//           error.
// Cancellation (interrupt, cancel, shutdown, lost lease) sends SIGTERM to the child's process
// group, then SIGKILL after `kill_grace`; the child is always reaped and every pipe closed.
// The child runs in its own process group, with the environment of this process (unless
// inherit_env is false) plus `env` plus MBX_RUN_ID, MBX_THREAD_ID, MBX_DISPATCH_ID, MBX_ATTEMPT.
//
// Called by the engine's run threads (directly or through AgentRegistry); the config is
// immutable, every execution owns its child and pipes, so thread-safe. Blocks the run thread
// until the child is reaped.
#pragma once

#include "runtime/executor.hpp"

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace mbx {

struct ExecAgentConfig {
  // The program and its arguments; argv[0] without a '/' is looked up in PATH. Required.
  std::vector<std::string> argv;
  // Variables set in the child's environment (overriding inherited ones). Default: none.
  std::vector<std::pair<std::string, std::string>> env;
  // The child starts from this process's environment. Default: true.
  bool inherit_env = true;
  // The child's working directory. Default: this process's.
  std::optional<std::string> working_dir;
  // Between SIGTERM and SIGKILL when a run is cancelled. Default: 5 s.
  std::chrono::milliseconds kill_grace{5'000};
  // A longer stdout line is a protocol error. Default: 16 MiB.
  std::size_t max_line_bytes = 16 * 1024 * 1024;
};

class ExecAgent final : public Executor {
public:
  explicit ExecAgent(ExecAgentConfig config);

  // The JSON text written to the child's stdin for this execution (without the newline).
  [[nodiscard]] static std::string stdin_document(const RunContext& context);

  ExecutionResult execute(RunContext& context) override;

private:
  ExecAgentConfig config_;
};

}  // namespace mbx
