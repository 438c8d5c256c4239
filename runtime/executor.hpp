// Executor: the agent the Mailbox runs. The engine calls execute() on one of its run threads
// with a RunContext for one claimed dispatch; the executor streams AgentEvents through it,
// commits the messages it produces, watches for cancellation, and returns how the run ended.
// An executor may block (it owns that run thread until it returns) and is called concurrently
// for different threads, so implementations must be thread-safe.
#pragma once

#include "messages/agent_event.hpp"
#include "messages/error.hpp"
#include "messages/message.hpp"
#include "messages/run_activation.hpp"
#include "messages/run_dispatch.hpp"
#include "messages/run_record.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mbx {

// The thread's committed history as the run sees it (loaded when first asked for).
struct ThreadContext {
  std::string thread_id;
  std::uint64_t version = 0;
  std::vector<MessageRecord> messages;
};

enum class ExecutionStatus : std::uint8_t {
  completed,        // natural end: ack, run Done
  waiting,          // suspended for a human (HITL): ack, run Waiting; `waiting` is required
  transient_error,  // retried with backoff (nack), dead-lettered at max attempts
  permanent_error,  // dead-lettered at once
};

struct ExecutionResult {
  ExecutionStatus status = ExecutionStatus::completed;
  std::optional<std::string> response;    // the final output
  std::string error;                      // the errors' message
  std::optional<RunWaitingState> waiting;  // for waiting
  std::optional<OpaqueJson> state;        // new agent state, inherited by the thread's next run
};

class RunContext {
public:
  virtual ~RunContext() = default;

  // The activation rebuilt from the store (any worker can execute any dispatch).
  [[nodiscard]] virtual const RunActivation& activation() const = 0;
  [[nodiscard]] virtual const RunRecord& run() const = 0;
  [[nodiscard]] virtual const RunDispatch& dispatch() const = 0;
  // The committed history of the thread, loaded on first use.
  [[nodiscard]] virtual Result<const ThreadContext*> thread() = 0;

  // Appends the event to the run's log (its seq is assigned there) and streams it to every
  // subscriber. Fenced: Errc::fenced means the run lost ownership (lease lost, interrupted);
  // the executor should stop. A ToolCallDone with outcome Suspended switches the lease keeper
  // to the suspended lease until a ToolCallResumed.
  [[nodiscard]] virtual Result<AgentEvent> emit(AgentEvent event) = 0;
  // Appends messages the run produced (assistant text, tool calls, tool results) to the
  // committed history, fenced and versioned. Returns the thread's new version.
  // Idempotent by message id across attempts of one dispatch: a retried attempt (after a crash
  // or a lost lease) that commits a message whose id an earlier attempt of this run already
  // committed writes nothing for it. An agent that derives its ids from the dispatch (for
  // example `dispatch().dispatch_id + "/reply"`) therefore never answers twice. An id already
  // used by another run is a validation error.
  [[nodiscard]] virtual Result<std::uint64_t> commit_messages(std::vector<Message> messages) = 0;

  [[nodiscard]] virtual bool cancelled() const = 0;
  // Waits up to `timeout`; true as soon as the run is cancelled.
  [[nodiscard]] virtual bool wait_for_cancel(std::chrono::milliseconds timeout) = 0;
  // Messages steered into this run since the last call (already in the committed history).
  [[nodiscard]] virtual std::vector<Message> take_live_input() = 0;
};

class Executor {
public:
  virtual ~Executor() = default;
  // Runs one dispatch. If the run was cancelled meanwhile, the returned status is ignored and
  // the run ends as cancelled. An exception escaping here is a permanent error.
  virtual ExecutionResult execute(RunContext& context) = 0;
};

}  // namespace mbx
