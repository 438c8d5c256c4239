// ThreadRunStore: runs and committed thread history, plus each run's event log.
// Same concurrency guarantees as MailboxStore (implementations implement both).
//
// The committed log of a thread holds messages with seq 1, 2, 3, ...; its length is the
// thread's version. commit_run_append appends and writes the run record in ONE atomic step,
// only if the version still equals expected_version (else Errc::conflict, nothing written).
// Writes on behalf of a running dispatch pass its Fence (see fence.hpp); a null fence means
// an unfenced write (submit-time preparation, reconciliation).
#pragma once

#include "messages/agent_event.hpp"
#include "messages/error.hpp"
#include "messages/message.hpp"
#include "messages/run_dispatch.hpp"
#include "messages/run_record.hpp"
#include "store/durability.hpp"
#include "store/fence.hpp"
#include "store/mailbox_store.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mbx {

struct RunPage {
  std::vector<RunRecord> items;
  std::uint64_t total = 0;
};

// A transition of the fenced dispatch written in the same atomic step as a run commit, so that
// a run's start is one write (record_dispatch_start + the Running record) and its end is one
// (the final record + record_run_result + ack or dead letter).
struct DispatchStep {
  enum class Kind : std::uint8_t { start, ack, dead_letter };
  Kind kind = Kind::start;
  std::string instance_id;                  // start: the attempt's instance id
  std::optional<RunDispatchResult> result;  // ack / dead_letter: recorded before the release
  std::string error;                        // dead_letter: the reason
  // An event of the run appended in the same write, as append_event would (next seq of the run,
  // run_id set to the run's): the run_start of a start, the run_finish of an end.
  std::optional<AgentEvent> event;
};

struct StepCommit {
  std::uint64_t version = 0;      // the thread's committed version after the write
  RunDispatch dispatch;           // the fenced dispatch as written
  std::optional<AgentEvent> event;  // the step's (or the inline start's) event as stored, with its seq
};

class ThreadRunStore {
public:
  virtual ~ThreadRunStore() = default;

  [[nodiscard]] virtual Result<std::optional<RunRecord>> load_run(const std::string& run_id) = 0;
  // The run written last among those with the greatest updated_at.
  [[nodiscard]] virtual Result<std::optional<RunRecord>> latest_run(const std::string& thread_id) = 0;
  // Runs of a thread ordered by created_at, run id.
  [[nodiscard]] virtual Result<RunPage> list_runs(const std::string& thread_id, std::uint64_t offset,
                                                  std::uint32_t limit) = 0;
  // Runs of every thread with this status, ordered by run id (recovery).
  [[nodiscard]] virtual Result<RunPage> list_runs_by_status(RunStatus status, std::uint64_t offset,
                                                            std::uint32_t limit) = 0;
  // Ids of every run with this status, in run id order: the status index alone, no run read
  // (recovery lists the open runs at startup and checks them one by one after).
  [[nodiscard]] virtual Result<std::vector<std::string>> run_ids_by_status(RunStatus status) = 0;
  // The latest run of the thread if it is resumable waiting.
  [[nodiscard]] virtual Result<std::optional<RunRecord>> reusable_waiting_run(const std::string& thread_id) = 0;

  // Appends `messages` at seq version+1.. and upserts `run` atomically, if the thread's
  // version equals `expected_version` (nullopt: no check; only allowed with no messages).
  // Returns the new version. Errors: validation (shape, duplicate message id, run on another
  // thread, broken run invariants), conflict (version), fenced, store.
  // Synced; the overload takes a Durability (deferred: the engine's close of an interrupted or
  // superseded run, which recovery redoes when it is lost).
  [[nodiscard]] Result<std::uint64_t> commit_run_append(const std::string& thread_id,
                                                        const std::vector<Message>& messages,
                                                        std::optional<std::uint64_t> expected_version,
                                                        const RunRecord& run, const Fence* fence, std::int64_t now_ms) {
    return commit_run_append(thread_id, messages, expected_version, run, fence, now_ms, Durability::synced);
  }
  [[nodiscard]] virtual Result<std::uint64_t> commit_run_append(const std::string& thread_id,
                                                                const std::vector<Message>& messages,
                                                                std::optional<std::uint64_t> expected_version,
                                                                const RunRecord& run, const Fence* fence,
                                                                std::int64_t now_ms, Durability durability) = 0;

  // commit_run_append and, in the same atomic write, `step` on the fence's dispatch (which must
  // run `run`). Errors: those of commit_run_append, and validation when the dispatch cannot
  // make the step; on any error nothing is written (a stale-epoch fence still supersedes the
  // dispatch, as every fenced operation does). Synced; the overload takes a Durability
  // (deferred: the engine's start of a claimed run, which the run's end write makes durable
  // and which a new attempt redoes when it is lost).
  [[nodiscard]] Result<StepCommit> commit_run_step(const std::string& thread_id, const std::vector<Message>& messages,
                                                   std::optional<std::uint64_t> expected_version, const RunRecord& run,
                                                   const Fence& fence, const DispatchStep& step, std::int64_t now_ms) {
    return commit_run_step(thread_id, messages, expected_version, run, fence, step, now_ms, Durability::synced);
  }
  [[nodiscard]] virtual Result<StepCommit> commit_run_step(const std::string& thread_id,
                                                           const std::vector<Message>& messages,
                                                           std::optional<std::uint64_t> expected_version,
                                                           const RunRecord& run, const Fence& fence,
                                                           const DispatchStep& step, std::int64_t now_ms,
                                                           Durability durability) = 0;

  // commit_run_append (unfenced) and, in the same atomic write, enqueue(dispatch, options) of
  // the run's dispatch: a submit's preparation and its enqueue are one write. Errors: those of
  // both (validation also when the dispatch is not of this thread and run); on any error
  // nothing is written, so a refused enqueue (queue_full, duplicate) leaves no run or message.
  [[nodiscard]] virtual Result<StepCommit> commit_run_enqueue(const std::string& thread_id,
                                                              const std::vector<Message>& messages,
                                                              std::optional<std::uint64_t> expected_version,
                                                              const RunRecord& run, const RunDispatch& dispatch,
                                                              const EnqueueOptions& options, std::int64_t now_ms) = 0;

  [[nodiscard]] virtual Result<std::uint64_t> committed_version(const std::string& thread_id) = 0;
  // Records with seq >= from_seq, at most `limit` (0 = all).
  [[nodiscard]] virtual Result<std::vector<MessageRecord>> load_committed_messages(const std::string& thread_id,
                                                                                   std::uint64_t from_seq,
                                                                                   std::uint32_t limit) = 0;
  [[nodiscard]] virtual Result<std::optional<MessageRecord>> load_message_record(const std::string& thread_id,
                                                                                 const std::string& message_id) = 0;
  // Inclusive range.
  [[nodiscard]] virtual Result<std::vector<MessageRecord>> load_message_records_range(const std::string& thread_id,
                                                                                      std::uint64_t from_seq,
                                                                                      std::uint64_t to_seq) = 0;

  // Appends an event to the run's log with the next per-run seq (1, 2, ...), fenced when a
  // fence is given. Returns the event as stored (seq set). `event.at_ms` is the write's time:
  // a stale-epoch fence supersedes the dispatch at that time, so callers must set it.
  [[nodiscard]] virtual Result<AgentEvent> append_event(const std::string& run_id, const AgentEvent& event,
                                                        const Fence* fence) = 0;
  // Events with seq > after_seq, in order, at most `limit` (0 = all).
  [[nodiscard]] virtual Result<std::vector<AgentEvent>> read_events(const std::string& run_id,
                                                                    std::uint64_t after_seq,
                                                                    std::uint32_t limit) = 0;
};

}  // namespace mbx
