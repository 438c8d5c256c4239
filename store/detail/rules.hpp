// The decisions every store backend shares, so that memory and RocksDB agree by construction:
// fence verdicts, claim order, and validation of enqueue and commit inputs.
// Internal to store/ (namespace mbx::detail). Pure functions.
#pragma once

#include "messages/error.hpp"
#include "messages/message.hpp"
#include "messages/run_dispatch.hpp"
#include "messages/run_record.hpp"
#include "store/fence.hpp"
#include "store/store.hpp"
#include "store/thread_run_store.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

namespace mbx::detail {

enum class FenceVerdict : std::uint8_t {
  owned,        // Claimed, same token, same epoch, not behind the thread
  not_owned,    // not Claimed, other token, or other epoch: refuse, change nothing
  stale_epoch,  // our claim, but the thread's epoch moved on: supersede, then refuse
};

[[nodiscard]] FenceVerdict check_fence(const RunDispatch& stored, const Fence& fence, std::uint64_t thread_epoch);

// The `fenced` error for `op` on `stored`.
[[nodiscard]] Error fence_error(const char* op, const RunDispatch& stored, const Fence& fence,
                                std::uint64_t thread_epoch);

// Claim order key: priority, available_at, created_at, dispatch id.
[[nodiscard]] inline auto claim_order(const RunDispatch& d) {
  return std::tie(d.priority, d.available_at, d.created_at, d.dispatch_id);
}

// List order key: priority, created_at, dispatch id.
[[nodiscard]] inline auto list_order(const RunDispatch& d) {
  return std::tie(d.priority, d.created_at, d.dispatch_id);
}

// Terminal listing order: updated_at, created_at, dispatch id.
[[nodiscard]] inline auto terminal_order(const RunDispatch& d) {
  return std::tie(d.updated_at, d.created_at, d.dispatch_id);
}

// The input of enqueue must be a clean Queued record.
[[nodiscard]] Result<void> validate_for_enqueue(const RunDispatch& d);

// Validates the inputs of commit_run_append that do not depend on stored state: thread id,
// run on this thread, run invariants, message shapes, ids unique within the delta, a version
// for a non-empty delta.
[[nodiscard]] Result<void> validate_commit(const std::string& thread_id, const std::vector<Message>& messages,
                                           std::optional<std::uint64_t> expected_version, const RunRecord& run);

// Applies a commit_run_step's step to `d` (a copy of the owned dispatch); an error leaves the
// transition illegal and nothing may be written.
[[nodiscard]] Result<void> apply_step(RunDispatch& d, const DispatchStep& step, std::int64_t now_ms);

// commit_run_enqueue's inline start (InlineClaim::start_instance_id and started_run): both
// or neither, and the started record is a valid record of the same run and thread.
[[nodiscard]] Result<void> validate_inline_start(const EnqueueOptions& options, const RunRecord& run);

// The run record commit_run_enqueue writes: `options`' started run when the enqueue claimed
// `stored` and asks for a start (then the start is recorded on `stored`), else `run`.
[[nodiscard]] Result<const RunRecord*> apply_inline_start(RunDispatch& stored, const EnqueueOptions& options,
                                                          const RunRecord& run, std::int64_t now_ms);

// The event a commit appends with its write: the step's, else the inline start's when the
// start was made (`written`, from apply_inline_start, is then not `run`); null for none.
[[nodiscard]] const AgentEvent* event_of_commit(const DispatchStep* step, const EnqueueOptions* options,
                                                const RunRecord* written, const RunRecord& run);

// claim_and_start's start of `claimed` (already Claimed, not yet written) whose run record is
// `run` (nullopt: none): when the dispatch's first attempt claims a Created run of its thread and
// `start` returns a valid start of it, the start is recorded on `claimed` and returned.
[[nodiscard]] Result<std::optional<StartedRun>> start_of_claim(RunDispatch& claimed, const std::optional<RunRecord>& run,
                                                               const RunStarter& start, std::int64_t now_ms);

[[nodiscard]] Error version_conflict(const std::string& thread_id, std::uint64_t expected, std::uint64_t actual);

// Lease deadline, saturating instead of overflowing.
[[nodiscard]] std::int64_t lease_deadline(std::int64_t now_ms, std::int64_t lease_ms);

}  // namespace mbx::detail
