// Mailbox: the engine an application embeds. Built from a Store (the queue authority), an
// Executor (the agent) and a MailboxConfig; start() recovers what a previous process left
// (claimed dispatches of this consumer, runs that lost their dispatch, queued work) and starts
// the actors; stop() cancels running runs (releasing their dispatches), stops the actors and
// joins every thread. Every operation is safe to call from any thread except a run's own
// executor thread for flows that wait on that run (submit/interrupt of its own thread).
// Submit flows block the caller on synced store writes; nothing here blocks an actor.
#pragma once

#include "messages/clock.hpp"
#include "messages/error.hpp"
#include "messages/ids.hpp"
#include "messages/run_activation.hpp"
#include "messages/run_dispatch.hpp"
#include "messages/run_record.hpp"
#include "runtime/config.hpp"
#include "runtime/event_stream.hpp"
#include "runtime/executor.hpp"
#include "store/store.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mbx {

enum class SubmitStatus : std::uint8_t { running, queued };
std::string_view to_string(SubmitStatus status) noexcept;

// What a thread with an active run does with a new submission.
enum class MultitaskStrategy : std::uint8_t {
  interrupt,  // foreground: supersede queued work, cancel the active run, start now
  enqueue,    // background: queue behind the active run
  reject,     // refuse (conflict) while the thread has an active run, else start now
  steer,      // deliver to the active run as live input, else queue
};

struct SubmitOptions {
  std::optional<MultitaskStrategy> strategy;  // unset: the flow's own (submit = interrupt)
  // Same key + same request within the config's idempotency window: the original result, and
  // nothing is created; same key + different request: conflict.
  std::optional<std::string> idempotency_key;
  std::optional<std::string> expected_run_id;  // steer: deliver only to this run
};

struct SubmitResult {
  std::string dispatch_id;
  std::string run_id;
  std::string thread_id;
  SubmitStatus status = SubmitStatus::queued;
  bool replayed = false;  // an idempotent repeat: nothing was created
  friend bool operator==(const SubmitResult&, const SubmitResult&) = default;
};

struct Submission {
  SubmitResult result;
  EventStream events;  // the run's events (foreground: live from the first event)
};

// Agent-to-agent mail (submit_durable_message): idempotent by message id.
struct DurableMessage {
  std::string message_id;
  std::string recipient_thread_id;
  std::optional<std::string> recipient_agent_id;
  std::string sender_agent_id;
  std::string content;
};

// InterruptOutcome (messages/run_dispatch.hpp): new epoch, queued dispatches superseded, and
// the active run that was stopped.

struct MailboxDeps {
  const Clock* clock = nullptr;  // default: the system clock
  IdSource* ids = nullptr;       // default: UUID v7
};

struct MailboxStats {
  std::uint64_t workers = 0;      // thread worker actors alive
  std::uint64_t active_runs = 0;  // claimed dispatches this node runs or is about to run
};

class Mailbox {
public:
  // Validates the config, recovers, starts the actors. `store` and `executor` must outlive
  // the Mailbox.
  [[nodiscard]] static Result<std::unique_ptr<Mailbox>> start(Store& store, Executor& executor,
                                                              MailboxConfig config, MailboxDeps deps = {});
  ~Mailbox();  // stop()
  Mailbox(const Mailbox&) = delete;
  Mailbox& operator=(const Mailbox&) = delete;

  // Stops accepting submissions, cancels running runs (their dispatches are released to the
  // queue), stops actors and threads. Idempotent.
  void stop();

  // Foreground submit (the seed's `submit`), or the strategy in `options`.
  [[nodiscard]] Result<Submission> submit(RunActivation request, const SubmitOptions& options = {});
  [[nodiscard]] Result<SubmitResult> submit_background(RunActivation request, const SubmitOptions& options = {});
  // Returns the dispatch id; a second call with the same message id creates nothing.
  [[nodiscard]] Result<std::string> submit_durable_message(const DurableMessage& message);
  [[nodiscard]] Result<SubmitResult> submit_live_then_queue(RunActivation request,
                                                            std::optional<std::string> expected_run_id,
                                                            const SubmitOptions& options = {});

  [[nodiscard]] Result<InterruptOutcome> interrupt_thread(const std::string& thread_id);
  // A queued run is cancelled in the store, a running one here (its transcript repaired), a
  // waiting one is closed. Not found: not_found; claimed on another node: conflict.
  [[nodiscard]] Result<void> cancel_run(const std::string& run_id);
  // A HITL decision for a waiting run: resumes it (same run id) as a background submit.
  [[nodiscard]] Result<SubmitResult> decide(const std::string& run_id, const std::string& tool_call_id,
                                            ToolCallResume decision);

  // Events of a run after `after_seq` (live if it runs here, else from the log).
  [[nodiscard]] Result<EventStream> attach(const std::string& run_id, std::uint64_t after_seq);

  [[nodiscard]] Result<std::optional<RunRecord>> active_run(const std::string& thread_id);
  [[nodiscard]] Result<std::optional<RunRecord>> load_run(const std::string& run_id);
  [[nodiscard]] Result<std::optional<RunDispatch>> load_dispatch(const std::string& dispatch_id);
  [[nodiscard]] Result<std::vector<MessageRecord>> messages(const std::string& thread_id, std::uint64_t from_seq,
                                                            std::uint32_t limit);
  // The thread's dispatches, newest first.
  [[nodiscard]] Result<DispatchPage> dispatches(const std::string& thread_id, std::uint64_t offset,
                                                std::uint32_t limit);
  [[nodiscard]] Result<RunPage> runs(const std::string& thread_id, std::uint64_t offset, std::uint32_t limit);
  [[nodiscard]] Result<std::optional<RunRecord>> latest_run(const std::string& thread_id);
  // The store answers (a cheap read); for health checks.
  [[nodiscard]] Result<void> health();

  [[nodiscard]] std::string metrics_text();
  [[nodiscard]] MailboxStats stats();
  [[nodiscard]] const MailboxConfig& config() const;

  class Engine;

private:
  explicit Mailbox(std::unique_ptr<Engine> engine);
  std::unique_ptr<Engine> engine_;
};

}  // namespace mbx
